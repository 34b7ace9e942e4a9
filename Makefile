# jobq: `make test` and (with the local-stack issue) `make run` work on a fresh machine.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
CARGO ?= cargo

.PHONY: run test check fmt lint unit integration bench venv emulator clean

## run: the local stack: emulator (unless AWS_ENDPOINT_URL is set), API on http://127.0.0.1:$${JOBQ_PORT:-8080}, workers
run: venv
	$(CARGO) build --release -p jobq-cli
	@echo "The jobq command: $(CURDIR)/target/release/jobq  (or: cargo install --path cli)"
	scripts/with-emulator.sh --reuse target/release/jobq-local

## test: formatting, clippy, unit tests and emulator integration tests (starts moto unless AWS_ENDPOINT_URL is set)
test: check venv
	scripts/with-emulator.sh $(CARGO) test --workspace --all-targets

## check: rustfmt, clippy (warnings are errors), actionlint on the workflows and the composite action
check: venv
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/actionlint

fmt:
	$(CARGO) fmt --all

## unit: pure-logic tests only, no emulator needed
unit:
	$(CARGO) test -p jobq --lib

## integration: emulator tests only
integration: venv
	scripts/with-emulator.sh $(CARGO) test -p jobq-integration-tests

## bench: figures as JSON lines (AWS requests per operation and per job); not part of make test
bench: venv
	$(CARGO) build --release -p jobq-bench
	scripts/with-emulator.sh target/release/jobq-bench

## venv: project-local Python environment with the pinned emulator
venv: $(VENV)/.installed

$(VENV)/.installed: scripts/requirements-emulator.txt scripts/requirements-lint.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt -r scripts/requirements-lint.txt
	touch $@

## emulator: run moto_server in the foreground on 127.0.0.1:4566 (for cargo test by hand)
emulator: venv
	$(VENV)/bin/python scripts/emulator.py -H 127.0.0.1 -p 4566

clean:
	$(CARGO) clean
	rm -rf $(VENV) .emulator
