#!/usr/bin/env bash
# JetStream stream suites against herald (scripts/test.sh runs it when it is
# executable and reads the last line "N passed, N failed"). Builds
# //server:herald, copies the binary out of bazel's output tree into a private
# temp dir, runs tests/jetstream/run.sh (nats.js: stream API on one node and a
# 3-node cluster; nats.go: durability across leader kills and restarts) on it.
#
# Env: SERVER_KIND=nats-server runs the same suites against nats-server 2.9.10
# instead (the reference: everything passes there); SERVER_BIN=/path skips the
# build; SUITES="js" or "go" runs one suite.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || { echo "0 passed, 1 failed"; exit 1; }
KIND="${SERVER_KIND:-herald}"
BIN="${SERVER_BIN:-}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/herald-jetstream-suite.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
. "$ROOT/tests/suites/lib.sh"

if [ "$KIND" = herald ] && [ -z "$BIN" ]; then
  echo "== bazel build //server:herald"
  BIN="$(herald_copy "$TMP")" || { echo "0 passed, 1 failed"; exit 1; }
fi

# npm ci for the JS suite when node_modules is missing (run.sh also checks)
if [ ! -d tests/jetstream/js/node_modules/nats ]; then
  (cd tests/jetstream/js && npm ci --no-audit --no-fund >"$TMP/npm.log" 2>&1) || cat "$TMP/npm.log"
fi

out="$TMP/run.log"
if [ -n "$BIN" ]; then
  SERVER_KIND="$KIND" SERVER_BIN="$BIN" timeout 1100 tests/jetstream/run.sh >"$out" 2>&1
else
  SERVER_KIND="$KIND" timeout 1100 tests/jetstream/run.sh >"$out" 2>&1
fi
rc=$?
cat "$out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
if [ -z "$line" ]; then
  echo "jetstream suites ended without a summary (rc=$rc)"
  echo "0 passed, 1 failed"
  exit 1
fi
p=$(echo "$line" | awk '{print $1}')
f=$(echo "$line" | awk '{print $3}')
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
