#!/usr/bin/env bash
# heraldctl against real JetStream clusters with the admin gRPC listener on
# every node: every command on 3 nodes (tests/admin/admin_test.py), and the
# membership operations (node remove while publishing, node drain, stream
# move, their refusals) on 4 nodes (tests/admin/membership_test.py), and
# stream backup / restore of 100,000 messages on 3 nodes
# (tests/admin/backup_test.py). Ends with "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
. tests/suites/lib.sh
herald=$(herald_copy "$bin") || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
# heraldctl: a private copy too, for the same reason as herald_copy's.
if ! bazel build //tools/heraldctl:heraldctl >"$bin/build-ctl.log" 2>&1; then
  tail -30 "$bin/build-ctl.log"
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi
cp "$(bazel info output_path 2>/dev/null)/k8-fastbuild/bin/tools/heraldctl/heraldctl" "$bin/heraldctl" &&
  chmod u+x "$bin/heraldctl" || { echo "heraldctl binary not found"; echo "0 passed, 1 failed"; exit 1; }
# Each file prints "RESULT passed=N failed=N"; one that does not (killed by
# its bound, crashed) counts as a failure.
pass=0 fail=0
for t in "admin_test.py 300" "membership_test.py 300" "backup_test.py 240"; do
  set -- $t
  echo "== tests/admin/$1"
  start=$(date +%s)
  out=$(SERVER_BIN="$herald" HERALDCTL="$bin/heraldctl" timeout "$2" python3 "tests/admin/$1" 2>&1)
  line=$(echo "$out" | grep -E '^RESULT passed=[0-9]+ failed=[0-9]+' | tail -1)
  # A failure's report (tracebacks, the nodes' log tails) in full; a pass's end.
  if [ -z "$line" ] || ! echo "$line" | grep -q 'failed=0'; then
    echo "$out" | tail -600
  else
    echo "$out" | tail -40
  fi
  echo "== tests/admin/$1: $(( $(date +%s) - start ))s"
  if [ -z "$line" ]; then fail=$((fail + 1)); continue; fi
  pass=$((pass + $(echo "$line" | sed -E 's/.*passed=([0-9]+).*/\1/')))
  fail=$((fail + $(echo "$line" | sed -E 's/.*failed=([0-9]+).*/\1/')))
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
