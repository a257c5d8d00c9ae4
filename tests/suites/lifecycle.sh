#!/usr/bin/env bash
# Signals and operations on real herald processes: reload, lame duck,
# graceful shutdown. Ends with "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
. tests/suites/lib.sh
herald=$(herald_copy "$bin") || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
out=$(SERVER_BIN="$herald" timeout 300 python3 tests/lifecycle/lifecycle_test.py 2>&1)
echo "$out" | tail -30
line=$(echo "$out" | grep -E '^RESULT passed=[0-9]+ failed=[0-9]+' | tail -1)
if [ -z "$line" ]; then echo "0 passed, 1 failed"; exit 1; fi
p=$(echo "$line" | sed -E 's/.*passed=([0-9]+).*/\1/')
f=$(echo "$line" | sed -E 's/.*failed=([0-9]+).*/\1/')
echo "$p passed, $f failed"
[ "$f" = 0 ]
