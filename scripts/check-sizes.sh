#!/usr/bin/env bash
# Every file of the library stays short enough to read: at most 500 lines before its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=500
status=0
while IFS= read -r file; do
  lines=$(awk '/^#\[cfg\(test\)\]/ { exit } { n++ } END { print n+0 }' "$file")
  if [ "$lines" -gt "$limit" ]; then
    echo "check-sizes: $file has $lines lines before its tests (at most $limit)" >&2
    status=1
  fi
done < <(find shared/src -name '*.rs' | sort)
exit $status
