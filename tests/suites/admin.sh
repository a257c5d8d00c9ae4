#!/usr/bin/env bash
# heraldctl against a real 3-node JetStream cluster with the admin gRPC
# listener on every node (tests/admin/admin_test.py). Ends with
# "N passed, N failed".
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
out=$(SERVER_BIN="$herald" HERALDCTL="$bin/heraldctl" timeout 300 python3 tests/admin/admin_test.py 2>&1)
echo "$out" | tail -40
line=$(echo "$out" | grep -E '^RESULT passed=[0-9]+ failed=[0-9]+' | tail -1)
if [ -z "$line" ]; then echo "0 passed, 1 failed"; exit 1; fi
p=$(echo "$line" | sed -E 's/.*passed=([0-9]+).*/\1/')
f=$(echo "$line" | sed -E 's/.*failed=([0-9]+).*/\1/')
echo "$p passed, $f failed"
[ "$f" = 0 ]
