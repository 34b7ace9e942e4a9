#!/usr/bin/env bash
# Fuzz the HTTP API with schemathesis (scripts/requirements-fuzz.txt), from the OpenAPI document
# a running local host serves: no 5xx, no panic, every refusal a 4xx with the JSON error shape,
# responses as documented. Runs inside scripts/with-emulator.sh (make fuzz, make test): starts
# jobq-local (JOBQ_LOCAL_BIN, default target/debug/jobq-local) on a free port and a fresh prefix,
# runs schemathesis against it, then checks the host is still up and never panicked.
# The host requires a token (JOBQ_API_TOKENS, one admin made up for the run), and schemathesis
# sends it as the document's `bearer` scheme (scripts/schemathesis.toml): every route is fuzzed
# as an authorised caller, and ignored_auth checks that one without the token is refused.
# JOBQ_FUZZ_EXAMPLES (default 30) is schemathesis's --max-examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/schemathesis ]; then
  echo "fuzz-api: schemathesis is missing; run make fuzz-venv" >&2
  exit 1
fi
# shellcheck source=scripts/local-host.sh
source scripts/local-host.sh
JOBQ_FUZZ_TOKEN="fuzz-$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')"
export JOBQ_FUZZ_TOKEN
export JOBQ_API_TOKENS="$JOBQ_FUZZ_TOKEN=fuzz:admin"
unset JOBQ_API_TOKEN
start_local_host fuzz-api

status=0
# positive_data_acceptance is left out: a schema-valid spec of an unregistered job type is
# rightly refused (422).
.venv/bin/schemathesis --config-file scripts/schemathesis.toml run "$url/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${JOBQ_FUZZ_EXAMPLES:-30}" --workers 2 --seed 9 \
  --request-timeout 30 --generation-database none --no-color || status=$?

local_host_healthy fuzz-api || status=1
exit "$status"
