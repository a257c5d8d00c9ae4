#!/usr/bin/env bash
# Cluster integration suites (3- and 5-node clusters, one seed route per node):
# nats.js (tests/cluster/js), nats.go (tests/cluster/go), raw route protocol
# (tests/cluster/py) against herald or nats-server.
#
#   tests/cluster/run.sh                                          # nats-server 2.9.10 (reference)
#   SERVER_KIND=herald SERVER_BIN=/path/to/herald tests/cluster/run.sh
#   SUITES="js py" tests/cluster/run.sh                           # subset: js go py
#
# Prints per-suite results; the last line is "N passed, N failed" (test cases).
# Exit status is non-zero if anything failed.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export SERVER_KIND="${SERVER_KIND:-nats-server}"
if [ -z "${SERVER_BIN:-}" ]; then
  if [ "$SERVER_KIND" = herald ]; then
    SERVER_BIN="$ROOT/bazel-bin/server/herald"
  else
    SERVER_BIN="$(command -v nats-server || echo /usr/sbin/nats-server)"
  fi
fi
case "$SERVER_BIN" in /*) ;; *) SERVER_BIN="$(cd "$(dirname "$SERVER_BIN")" && pwd)/$(basename "$SERVER_BIN")" ;; esac
SUITES="${SUITES:-js go py}"
if [ ! -x "$SERVER_BIN" ]; then
  echo "SERVER_BIN=$SERVER_BIN is not an executable" >&2
  echo "0 passed, 1 failed"
  exit 2
fi
OUT="$(mktemp -d "${TMPDIR:-/tmp}/herald-cluster.XXXXXX")"
# bazel-bin outputs can vanish while a rebuild runs: test a private copy
case "$SERVER_BIN" in
  */bazel-bin/*|*/bazel-out/*|*/execroot/*)
    cp "$SERVER_BIN" "$OUT/$(basename "$SERVER_BIN")" && chmod u+x "$OUT/$(basename "$SERVER_BIN")" &&
      SERVER_BIN="$OUT/$(basename "$SERVER_BIN")" && echo "== using a copy: $SERVER_BIN" ;;
esac
export SERVER_BIN
echo "== cluster suites: SERVER_KIND=$SERVER_KIND SERVER_BIN=$SERVER_BIN suites: $SUITES"

TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY=()
record() { # suite pass fail note
  TOTAL_PASS=$((TOTAL_PASS + $2))
  TOTAL_FAIL=$((TOTAL_FAIL + $3))
  SUMMARY+=("$(printf '%-6s %4d passed, %4d failed %s' "$1" "$2" "$3" "${4:-}")")
}

run_js() {
  echo
  echo "== JS (nats.js) cluster suite"
  cd "$ROOT/tests/cluster/js" || return
  if [ ! -d node_modules/nats ]; then
    echo "-- npm ci"
    if ! npm ci --no-audit --no-fund >"$OUT/npm.log" 2>&1; then
      cat "$OUT/npm.log"
      record js 0 1 "(npm ci failed)"
      return
    fi
  fi
  local tap="$OUT/js.tap"
  timeout "${JS_TIMEOUT:-110}" node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" test/
  local rc=$?
  local p f c
  p=$(awk '/^# pass /{print $3}' "$tap" | tail -1)
  f=$(awk '/^# fail /{print $3}' "$tap" | tail -1)
  c=$(awk '/^# cancelled /{print $3}' "$tap" | tail -1)
  if [ -z "$p" ] || [ -z "$f" ]; then
    # killed (timeout): count the top-level results written so far, plus one failure
    p=$(grep -cE '^ok ' "$tap" 2>/dev/null)
    f=$(grep -cE '^not ok ' "$tap" 2>/dev/null)
    record js "${p:-0}" "$(( ${f:-0} + 1 ))" "(no summary, rc=$rc)"
    return
  fi
  f=$((f + ${c:-0}))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  record js "$p" "$f"
}

run_go() {
  echo
  echo "== Go (nats.go) cluster suite"
  cd "$ROOT/tests/cluster/go" || return
  if [ ! -d /usr/share/gocode/src/github.com/nats-io/nats.go ] || ! command -v go >/dev/null; then
    echo "-- installing golang-go golang-github-nats-io-go-nats-dev (Debian)"
    if [ "$(id -u)" = 0 ]; then
      apt-get install -y -q golang-go golang-github-nats-io-go-nats-dev >"$OUT/apt.log" 2>&1 || cat "$OUT/apt.log"
    else
      echo "not root: install golang-go golang-github-nats-io-go-nats-dev yourself" >&2
    fi
  fi
  local log="$OUT/go.log"
  GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$ROOT/tests/cluster/go/.gocache" \
    timeout "${GO_TIMEOUT:-75}" go test -v -count=1 -timeout 70s . 2>&1 | tee "$log" | grep -Ev '^=== (RUN|PAUSE|CONT)'
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -cE '^\s*--- PASS:' "$log")
  f=$(grep -cE '^\s*--- FAIL:' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    record go "$p" 1 "(go test rc=$rc: build failure, panic or timeout)"
    return
  fi
  record go "$p" "$f"
}

run_py() {
  echo
  echo "== raw route protocol suite (python)"
  cd "$ROOT" || return
  local log="$OUT/py.log"
  timeout "${PY_TIMEOUT:-40}" python3 tests/cluster/py/route_test.py 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line p f
  line=$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    record py 0 1 "(no RESULT line, rc=$rc)"
    return
  fi
  p=$(echo "$line" | sed -E 's/.*passed=([0-9]+).*/\1/')
  f=$(echo "$line" | sed -E 's/.*failed=([0-9]+).*/\1/')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  record py "$p" "$f"
}

START=$(date +%s)
for s in $SUITES; do
  case "$s" in
    js) run_js ;;
    go) run_go ;;
    py) run_py ;;
    *) echo "unknown suite $s" >&2; record "$s" 0 1 "(unknown suite)" ;;
  esac
done

echo
echo "== cluster results (SERVER_KIND=$SERVER_KIND, $(( $(date +%s) - START ))s, logs in $OUT)"
for l in "${SUMMARY[@]}"; do echo "$l"; done
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
