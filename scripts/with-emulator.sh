#!/usr/bin/env bash
# Run a command with an AWS emulator to talk to.
# AWS_ENDPOINT_URL set (LocalStack, a running moto): use it as it is.
# Unset: start moto_server from the project venv on 127.0.0.1:${JOBQ_EMULATOR_PORT:-4566}, wait until
# it answers, run the command, stop the emulator.
# --reuse (make run): an emulator already answering on that port is used, and kept running.
set -euo pipefail
cd "$(dirname "$0")/.."
reuse=false
if [ "${1:-}" = "--reuse" ]; then reuse=true; shift; fi

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
  echo "with-emulator: using AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
  exec "$@"
fi

port="${JOBQ_EMULATOR_PORT:-4566}"
host=127.0.0.1
answers() { .venv/bin/python - "$host" "$port" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/moto-api/", timeout=1)
except Exception as e:
    sys.exit(0 if getattr(e, "code", None) else 1)
PY
}

if answers && $reuse; then
  export AWS_ENDPOINT_URL="http://$host:$port"
  echo "with-emulator: using the emulator already on $AWS_ENDPOINT_URL"
  exec "$@"
fi
if answers; then
  echo "with-emulator: something already answers on $host:$port." >&2
  echo "  Use it: AWS_ENDPOINT_URL=http://$host:$port make test   (or stop it and run make test again)" >&2
  exit 1
fi

mkdir -p .emulator
log=.emulator/moto-$port.log
# Its own session: Ctrl-C in the terminal reaches the command (which shuts down gracefully and
# still needs the emulator), not the emulator; the trap below stops it afterwards.
setsid .venv/bin/python scripts/emulator.py -H "$host" -p "$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 100); do
  if answers; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-emulator: moto_server exited at start; its log ($log):" >&2
    cat "$log" >&2
    echo "Fix: rm -rf .venv && make venv, then make test again." >&2
    exit 1
  fi
  sleep 0.2
done
if ! answers; then
  echo "with-emulator: moto_server did not answer on $host:$port within 20 s; log in $log" >&2
  exit 1
fi

export AWS_ENDPOINT_URL="http://$host:$port"
echo "with-emulator: moto_server on $AWS_ENDPOINT_URL (pid $pid)"
# Not exec: the trap must stop the emulator when the command ends.
trap 'true' INT
status=0
"$@" || status=$?
exit "$status"
