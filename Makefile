# jobq: `make test` and (with the local-stack issue) `make run` work on a fresh machine.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
CARGO ?= cargo

.PHONY: browser-test browser-deps run test check fmt lint unit integration bench package deploy venv extra sam-venv emulator clean

## run: the local stack: emulator (unless AWS_ENDPOINT_URL is set), API on http://127.0.0.1:$${JOBQ_PORT:-8080}, workers
run: venv
	$(CARGO) build --release -p jobq-cli
	@echo "The jobq command: $(CURDIR)/target/release/jobq  (or: cargo install --path cli)"
	scripts/with-emulator.sh --reuse target/release/jobq-local

## test: formatting, clippy, unit tests, emulator integration tests, the API fuzz (schemathesis), the generated Python client (up to date, and through the local host), and the dashboard in a browser (starts moto unless AWS_ENDPOINT_URL is set)
test: check venv browser-deps fuzz-venv client-venv
	CARGO=$(CARGO) scripts/run-tests.sh
	scripts/with-emulator.sh bash -c 'scripts/fuzz-api.sh && scripts/python-client.sh test && node --test --test-reporter=spec tests/browser/dashboard.test.mjs tests/browser/firefox.test.mjs'


## check: rustfmt, clippy (warnings are errors; functions of at most 80 lines), every Rust file of the workspace at most 500 lines before its tests, cfn-lint on the templates, the template as `sam build` groups it (one build of one binary, for the stock package and the example crate), actionlint on the workflows and the action
check: venv sam-venv
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/check-sizes.sh
	$(VENV)/bin/cfn-lint infra/template.yaml infra/github-oidc.yaml
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/python scripts/check-template-build.py
	$(VENV)/bin/actionlint

## lint: check, plus checkov, sam validate --lint, cfn-lint's serverless rules and the deploy role's permissions against the resource schemas (suppressions live in the templates and the script, with reasons)
lint: check extra sam-venv
	$(VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f infra/template.yaml -f infra/github-oidc.yaml
	AWS_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template infra/template.yaml
	$(SAM_VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- infra/template.yaml
	$(SAM_VENV)/bin/python scripts/check-deploy-permissions.py

## sam-venv: the SAM CLI (its translator and cfn-lint) and cfn-lint's serverless rules, pinned, in a venv of their own: the SAM CLI pins a boto3 that checkov cannot share
SAM_VENV := .venv-sam
sam-venv: $(SAM_VENV)/.installed

$(SAM_VENV)/.installed: scripts/requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-sam.txt
	touch $@

## package: the deployment's one bootstrap zip with cargo-lambda (JOBQ_ARCH=arm64 for Graviton), and its size
JOBQ_ARCH ?= x86_64
package: extra
	@# Natively for this machine's x86_64; zig cross-links arm64.
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/cargo-lambda lambda build --release $(if $(filter arm64,$(JOBQ_ARCH)),--arm64,--x86-64 --compiler cargo) --output-format zip --bin jobq-lambda
	@printf '%-16s %s bytes\n' jobq-lambda "$$(stat -c %s target/lambda/jobq-lambda/bootstrap.zip)"

## deploy: a first deploy by hand (sam deploy --guided); GitHub deploys with .github/workflows/deploy.yml
deploy: extra
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-deploy.txt
	$(VENV)/bin/sam build --template infra/template.yaml --beta-features
	$(VENV)/bin/sam deploy --guided

fmt:
	$(CARGO) fmt --all

## unit: pure-logic tests only, no emulator needed
unit:
	$(CARGO) test -p jobq --lib

## integration: emulator tests only
integration: venv
	scripts/with-emulator.sh $(CARGO) test -p jobq-integration-tests

## bench: figures as JSON lines (requests per job, end-to-end throughput and latency, emulator capacity, priority under load, cold start, worker memory, bootstrap sizes, worker CPU per job, write units per job); not part of make test
bench: venv
	$(CARGO) build --release --bin jobq-lambda --bin jobq-local --bin jobq-bench
	@# Criterion's report goes to stderr; jobq-bench prints its figure from criterion's estimates.
	$(CARGO) bench -p jobq-bench --bench worker_cpu >&2
	scripts/with-emulator.sh target/release/jobq-bench

## browser-test: the dashboard in headless Chromium (playwright-core) and Firefox (geckodriver) (part of test)
browser-test: venv browser-deps
	$(CARGO) build -p jobq-cli --bin jobq-local
	scripts/with-emulator.sh node --test --test-reporter=spec tests/browser/dashboard.test.mjs tests/browser/firefox.test.mjs

## browser-deps: Debian's chromium and firefox-esr (apt), geckodriver (cargo install, pinned), playwright-core (npm ci, pinned); nothing downloads a browser
# JOBQ_CHROMIUM: another Chromium-based browser already there (GitHub's runners have Google Chrome).
JOBQ_CHROMIUM ?= /usr/bin/chromium
export JOBQ_CHROMIUM
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# JOBQ_FIREFOX, JOBQ_GECKODRIVER: likewise for Firefox (default: Debian's firefox-esr, and
# geckodriver built from crates.io into .tools).
JOBQ_FIREFOX ?= /usr/bin/firefox-esr
JOBQ_GECKODRIVER ?= $(CURDIR)/.tools/bin/geckodriver
export JOBQ_FIREFOX JOBQ_GECKODRIVER
GECKODRIVER_VERSION := 0.37.1
browser-deps: $(JOBQ_CHROMIUM) $(JOBQ_FIREFOX) $(JOBQ_GECKODRIVER) tests/browser/node_modules/.installed

/usr/bin/chromium /usr/bin/firefox-esr:
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(notdir $@)

$(CURDIR)/.tools/bin/geckodriver:
	$(CARGO) install geckodriver --version $(GECKODRIVER_VERSION) --locked --root $(CURDIR)/.tools

tests/browser/node_modules/.installed: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

.PHONY: soak fuzz fuzz-venv client-venv python-client

## soak: 10,000 mixed jobs through the local stack, exact accounting at the end (about 10 min on 2 cores), and the simulation over a million retained jobs; not part of make test
soak: venv
	scripts/with-emulator.sh $(CARGO) test -p jobq-cli --test soak -- --ignored --nocapture
	$(CARGO) test --release -p jobq-sim --test scenarios -- --ignored --nocapture

## fuzz: schemathesis against /openapi.json of a local host (part of test): no 5xx, no panic, documented 4xx with JSON bodies
fuzz: venv fuzz-venv
	$(CARGO) build -p jobq-cli
	scripts/with-emulator.sh scripts/fuzz-api.sh

## fuzz-venv: schemathesis, pinned (scripts/requirements-fuzz.txt), in the project venv
fuzz-venv: $(VENV)/.fuzz-installed

$(VENV)/.fuzz-installed: $(VENV)/.installed scripts/requirements-fuzz.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-fuzz.txt
	touch $@

## client-venv: the Python client's generator and run-time needs, pinned (scripts/requirements-client.txt), in a venv of their own
CLIENT_VENV := .venv-client
client-venv: $(CLIENT_VENV)/.installed

$(CLIENT_VENV)/.installed: scripts/requirements-client.txt
	$(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-client.txt
	touch $@

## python-client: clients/python generated again from the local host's /openapi.json (after an API change)
python-client: venv client-venv
	$(CARGO) build -p jobq-cli --bin jobq-local
	scripts/with-emulator.sh scripts/python-client.sh generate

## venv: project-local Python environment with the pinned emulator
venv: $(VENV)/.installed

$(VENV)/.installed: scripts/requirements-emulator.txt scripts/requirements-lint.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt -r scripts/requirements-lint.txt
	touch $@

## extra: checkov, cargo-lambda and zig (for lint, package, deploy; not needed by test)
extra: $(VENV)/.extra-installed

$(VENV)/.extra-installed: $(VENV)/.installed scripts/requirements-extra.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-extra.txt
	touch $@

## emulator: run moto_server in the foreground on 127.0.0.1:4566 (for cargo test by hand)
emulator: venv
	$(VENV)/bin/python scripts/emulator.py -H 127.0.0.1 -p 4566

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(SAM_VENV) .emulator .tools tests/browser/node_modules tests/browser/output
