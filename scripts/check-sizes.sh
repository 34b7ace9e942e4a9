#!/usr/bin/env bash
# Every Rust file of the workspace stays short enough to read: at most 500 lines before its
# `#[cfg(test)]` module (a file without one counts whole, as an integration test file does).
# And every crate takes the workspace's lints, so clippy's 80-line functions (clippy.toml) hold
# in each.
#
# Which files: every `.rs` file under each workspace member's directory, the members read from
# the root Cargo.toml. Reading the members, not searching for `src/` and `tests/` dirs, also
# covers `benches/`, `examples/` and `build.rs`, and a crate added to the workspace is covered
# the day it joins. Nothing is exempt: test files are read as often as the code they test.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=500
status=0

# The `members = [...]` list of [workspace], one path a line.
members=$(awk '
  /^\[workspace\]/ { inside = 1; next }
  /^\[/ { inside = 0 }
  inside && /^members/ { collecting = 1 }
  collecting { print; if ($0 ~ /\]/) exit }
' Cargo.toml | grep -o '"[^"]*"' | tr -d '"')
if [ -z "$members" ]; then
  echo "check-sizes: no workspace members found in Cargo.toml" >&2
  exit 1
fi

for member in $members; do
  if ! grep -A1 '^\[lints\]' "$member/Cargo.toml" | grep -q '^workspace = true'; then
    echo "check-sizes: $member/Cargo.toml lacks [lints] workspace = true" >&2
    status=1
  fi
done

while IFS= read -r file; do
  lines=$(awk '/^#\[cfg\(test\)\]/ { exit } { n++ } END { print n+0 }' "$file")
  if [ "$lines" -gt "$limit" ]; then
    echo "check-sizes: $file has $lines lines before its tests (at most $limit)" >&2
    status=1
  fi
done < <(for member in $members; do find "$member" -name '*.rs' -not -path '*/target/*'; done | sort -u)
exit $status
