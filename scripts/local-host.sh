# Sourced by the scripts that need a running local host (fuzz-api.sh, python-client.sh), inside
# scripts/with-emulator.sh. `start_local_host NAME` starts jobq-local (JOBQ_LOCAL_BIN, default
# target/debug/jobq-local) on a free port under a fresh prefix, waits until /health answers, and
# sets `url`, `pid` and `log`; the host is stopped when the script exits. `local_host_healthy NAME`
# fails, with the log, if the host died or panicked meanwhile.

start_local_host() {
  local name="$1"
  local bin="${JOBQ_LOCAL_BIN:-target/debug/jobq-local}"
  if [ ! -x "$bin" ]; then
    echo "$name: $bin is missing; build it first (cargo build -p jobq-cli)" >&2
    exit 1
  fi
  : "${AWS_ENDPOINT_URL:?$name runs inside scripts/with-emulator.sh}"
  local port
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local prefix
  prefix="$(echo "$name" | tr -cd 'a-z' | head -c 2)$(date +%s%N | tail -c 10)-"
  mkdir -p .emulator
  log=".emulator/$name-jobq-local-$port.log"
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
    then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name: jobq-local exited at start; its log ($log):" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.3
  done
  echo "$name: jobq-local did not answer /health within a minute; its log ($log):" >&2
  tail -50 "$log" >&2
  exit 1
}

local_host_healthy() {
  local name="$1"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$name: jobq-local died during the run; its log ($log):" >&2
    tail -50 "$log" >&2
    return 1
  fi
  # The `fail` job type panics on purpose when its payload says so (`panic: true`, which the
  # fuzzer sends now that payloads have schemas), and the worker contains it: not the host's.
  local panics
  panics=$(grep -E "^thread '.*panicked at" "$log" | grep -v "panicked at shared/src/domain/builtin.rs" || true)
  if [ -n "$panics" ]; then
    echo "$name: jobq-local panicked; its log ($log):" >&2
    echo "$panics" >&2
    return 1
  fi
}
