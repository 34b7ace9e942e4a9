#!/usr/bin/env bash
# The jobq-run action: enqueue (SigV4-signed), then poll the job until it ends.
# Inputs arrive as JOBQ_* variables; outputs go to $GITHUB_OUTPUT.
set -euo pipefail

api="${JOBQ_API_URL%/}"
region="${JOBQ_REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}"
out="${GITHUB_OUTPUT:-/dev/null}"

call() { # call METHOD PATH [BODY]
  local args=(-sS --max-time 30 -X "$1" -H 'content-type: application/json' -w '\n%{http_code}')
  if [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "$region" ]; then
    args+=(--aws-sigv4 "aws:amz:${region}:execute-api" --user "${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}")
    if [ -n "${AWS_SESSION_TOKEN:-}" ]; then args+=(-H "x-amz-security-token: ${AWS_SESSION_TOKEN}"); fi
  fi
  if [ $# -ge 3 ]; then args+=(--data "$3"); fi
  curl "${args[@]}" "${api}$2"
}

priority="$JOBQ_PRIORITY"
if [[ "$priority" =~ ^[0-9]+$ ]]; then priority_json="$priority"; else priority_json="\"$priority\""; fi
body=$(jq -n \
  --arg type "$JOBQ_JOB_TYPE" \
  --argjson payload "${JOBQ_PAYLOAD:-{\}}" \
  --argjson priority "$priority_json" \
  --arg key "${JOBQ_IDEMPOTENCY_KEY:-}" \
  --arg run "${GITHUB_RUN_ID:-}" \
  '{type: $type, payload: $payload, priority: $priority}
   + (if $key != "" then {idempotency_key: $key} else {} end)
   + (if $run != "" then {github_workflow_run_id: $run} else {} end)')

response=$(call POST /jobs "$body")
code=$(tail -n1 <<<"$response")
json=$(sed '$d' <<<"$response")
if [ "$code" != 200 ] && [ "$code" != 201 ]; then
  echo "::error::jobq enqueue failed (HTTP $code): $(jq -r '.error.message // .' <<<"$json" 2>/dev/null || echo "$json")"
  exit 1
fi
id=$(jq -r .id <<<"$json")
echo "job-id=$id" >>"$out"
echo "jobq: enqueued $JOBQ_JOB_TYPE job $id"

if [ "${JOBQ_WAIT:-true}" != true ]; then
  echo "status=$(jq -r .status <<<"$json")" >>"$out"
  exit 0
fi

deadline=$(( $(date +%s) + ${JOBQ_TIMEOUT:-900} ))
last=""
while :; do
  response=$(call GET "/jobs/$id")
  json=$(sed '$d' <<<"$response")
  status=$(jq -r '.status // "unknown"' <<<"$json")
  line="$status $(jq -r '"\(.progress)% \(.current_step // "")"' <<<"$json")"
  if [ "$line" != "$last" ]; then echo "jobq: $id $line"; last="$line"; fi
  case "$status" in
    completed) echo "status=$status" >>"$out"; exit 0 ;;
    failed|partial|cancelled)
      echo "status=$status" >>"$out"
      echo "::error::jobq job $id ended $status: $(jq -r '.error.message // ""' <<<"$json")"
      exit 1 ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "status=$status" >>"$out"
    echo "::error::jobq job $id still $status after ${JOBQ_TIMEOUT}s"
    exit 1
  fi
  sleep "${JOBQ_POLL_SECONDS:-5}"
done
