#!/usr/bin/env bash
# `make test`'s cargo part: build every test binary of the workspace once, then run them in
# JOBQ_TEST_LANES lanes (default 3) at once, each lane with its own emulator (its own moto_server
# process, so one Python process is not the bottleneck) unless AWS_ENDPOINT_URL names one.
#
# Why lanes: most of the long binaries wait on wall-clock time (a local host running real leases
# and sleeps), not on the CPU, so running them one after another, as `cargo test` does, left the
# machine idle for most of the suite. Binaries are dealt to lanes longest first (known lengths
# below; any other counts as short), so the lanes end near one another.
#
# Every binary's output is printed whole when it ends; failures are listed at the end and the
# script fails if any binary did. JOBQ_TEST_ONLY (an extended regex) runs only the binaries whose
# target name matches, e.g. `JOBQ_TEST_ONLY='^(api|cli)$' scripts/run-tests.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

lanes="${JOBQ_TEST_LANES:-3}"
cargo="${CARGO:-cargo}"
logs=target/test-logs
rm -rf "$logs"
mkdir -p "$logs"

# Seconds each long binary took on a 2-core machine, by package directory and target name (only
# their order matters).
declare -A known=(
  [cli/runs]=205 [sim/simulation]=200 [cli/local_host]=130 [tests/faults]=115 [cli/crash]=80
  [cli/due]=75 [sim/scenarios]=40 [cli/sigv4]=30 [cli/pause]=27 [tests/events]=21
  [tests/conformance_store]=20 [tests/worker]=17 [shared/jobq]=10
)

"$cargo" test --workspace --all-targets --no-run --message-format=json-render-diagnostics \
  >"$logs/artifacts.json"

# One line per test binary: package directory, display name, executable.
.venv/bin/python - "$logs/artifacts.json" >"$logs/binaries.txt" <<'PY'
import json, os, sys
for line in open(sys.argv[1]):
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
        continue
    if not msg.get("profile", {}).get("test"):
        continue
    target = msg["target"]
    print(os.path.dirname(msg["manifest_path"]), target["name"], msg["executable"], sep="\t")
PY

# Deal the binaries to lanes, longest first, each to the lane with least work so far.
declare -a load
for ((l = 0; l < lanes; l++)); do load[l]=0; : >"$logs/lane-$l.txt"; done
while IFS=$'\t' read -r weight line; do
  best=0
  for ((l = 1; l < lanes; l++)); do
    if ((load[l] < load[best])); then best=$l; fi
  done
  load[best]=$((load[best] + weight))
  printf '%s\n' "$line" >>"$logs/lane-$best.txt"
done < <(while IFS=$'\t' read -r dir name exe; do
  printf '%s\t%s\t%s\t%s\n' "${known[$(basename "$dir")/$name]:-3}" "$dir" "$name" "$exe"
done < <(awk -F'\t' -v only="${JOBQ_TEST_ONLY:-.}" '$2 ~ only' "$logs/binaries.txt") | sort -t$'\t' -k1,1nr)

# Run one lane's binaries in order; each binary's output to its own log, printed when it ends.
run_lane() {
  local lane=$1 dir name exe log start status
  while IFS=$'\t' read -r dir name exe; do
    log="$logs/$(basename "$exe").log"
    start=$(date +%s)
    status=0
    (cd "$dir" && CARGO_MANIFEST_DIR="$dir" "$exe") >"$log" 2>&1 || status=$?
    {
      flock 9
      echo "===== $name ($(basename "$exe")): exit $status in $(($(date +%s) - start)) s, lane $lane"
      cat "$log"
      if ((status != 0)); then echo "$name ($exe)" >>"$logs/failed.txt"; fi
    } 9>>"$logs/print.lock"
  done <"$logs/lane-$lane.txt"
}
export -f run_lane
export logs

pids=()
for ((l = 0; l < lanes; l++)); do
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    bash -c "run_lane $l" &
  else
    JOBQ_EMULATOR_PORT=$((${JOBQ_EMULATOR_PORT:-4566} + l)) scripts/with-emulator.sh bash -c "run_lane $l" &
  fi
  pids+=($!)
done
lane_failed=0
for pid in "${pids[@]}"; do wait "$pid" || lane_failed=1; done

if [ -s "$logs/failed.txt" ]; then
  echo "run-tests: these test binaries failed:" >&2
  cat "$logs/failed.txt" >&2
  exit 1
fi
if ((lane_failed)); then
  echo "run-tests: a lane failed to start (see its emulator message above)" >&2
  exit 1
fi
echo "run-tests: $(cat "$logs"/lane-*.txt | wc -l) test binaries passed in $lanes lanes"
