#!/usr/bin/env bash
# Fuzz the HTTP API with schemathesis (scripts/requirements-fuzz.txt), from the OpenAPI document
# a running local host serves: no 5xx, no panic, every refusal a 4xx with the JSON error shape,
# responses as documented. Runs inside scripts/with-emulator.sh (make fuzz, make test): starts
# jobq-local (JOBQ_LOCAL_BIN, default target/debug/jobq-local) on a free port and a fresh prefix,
# runs schemathesis against it, then checks the host is still up and never panicked.
# JOBQ_FUZZ_EXAMPLES (default 30) is schemathesis's --max-examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${JOBQ_LOCAL_BIN:-target/debug/jobq-local}"
if [ ! -x "$bin" ]; then
  echo "fuzz-api: $bin is missing; build it first (cargo build -p jobq-cli)" >&2
  exit 1
fi
if [ ! -x .venv/bin/schemathesis ]; then
  echo "fuzz-api: schemathesis is missing; run make fuzz-venv" >&2
  exit 1
fi
: "${AWS_ENDPOINT_URL:?fuzz-api runs inside scripts/with-emulator.sh}"

port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prefix="fz$(date +%s%N | tail -c 10)-"
mkdir -p .emulator
log=".emulator/fuzz-jobq-local-$port.log"
JOBQ_PREFIX="$prefix" JOBQ_PORT="$port" JOBQ_LOCAL_POLL_WAIT_SECONDS=1 JOBQ_SHUTDOWN_GRACE_SECONDS=1 \
  RUST_LOG=warn RUST_BACKTRACE=1 "$bin" >/dev/null 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

url="http://127.0.0.1:$port"
for _ in $(seq 1 200); do
  if .venv/bin/python - "$url/health" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except Exception:
    sys.exit(1)
PY
  then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "fuzz-api: jobq-local exited at start; its log ($log):" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.3
done

# Panics of the host. The `fail` job type panics on purpose when its payload says so (`panic:
# true`, which the fuzzer sends now that payloads have schemas), and the worker contains it.
host_panics() {
  grep -E "^thread '.*panicked at" "$log" | grep -v "panicked at shared/src/domain/builtin.rs" || true
}

status=0
# positive_data_acceptance is left out: a schema-valid spec of an unregistered job type is
# rightly refused (422). ignored_auth: the local host runs without a token here.
.venv/bin/schemathesis --config-file scripts/schemathesis.toml run "$url/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance,ignored_auth \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${JOBQ_FUZZ_EXAMPLES:-30}" --workers 2 --seed 9 \
  --request-timeout 30 --generation-database none --no-color || status=$?

if ! kill -0 "$pid" 2>/dev/null; then
  echo "fuzz-api: jobq-local died during the run; its log ($log):" >&2
  tail -50 "$log" >&2
  status=1
elif host_panics | grep -q .; then
  echo "fuzz-api: jobq-local panicked; its log ($log):" >&2
  host_panics >&2
  status=1
fi
exit "$status"
