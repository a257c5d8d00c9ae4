# Shared by the test scripts (sourced, not run).
#
# herald_copy DIR: builds //server:herald (fastbuild) and copies the binary to
# DIR/herald, printing its path. Tests run a private copy because bazel-bin is
# a symlink that the next build with other flags re-points, and a rebuild can
# replace the file under a running test. On failure prints the build log's tail
# to stderr and returns 1.
herald_copy() {
  local dir="$1" src
  if ! bazel build //server:herald >"$dir/build.log" 2>&1; then
    tail -30 "$dir/build.log" >&2
    return 1
  fi
  src="$(bazel info output_path 2>/dev/null)/k8-fastbuild/bin/server/herald"
  if ! cp "$src" "$dir/herald" 2>/dev/null; then
    echo "herald binary not found at $src" >&2
    return 1
  fi
  chmod u+x "$dir/herald"
  echo "$dir/herald"
}

# Client-suite runner, for tests/integration/run.sh and tests/cluster/run.sh:
# resolve the server under test, run each client suite under a time
# bound, count its cases, print a summary ending "N passed, N failed".
#
# The sourcing script sets ROOT and calls, in order:
#   runner_init LABEL DEFAULT_SUITES   # SERVER_KIND, SERVER_BIN, SUITES, OUT
#   run_node_suite NAME DIR SECONDS    # node --test DIR/test (nats.js)
#   run_go_suite NAME DIR SECONDS      # go test in GOPATH mode (nats.go)
#   run_py_suite NAME FILE SECONDS     # a unittest file printing "RESULT passed=N failed=N"
#   runner_finish                      # summary; exit status non-zero if anything failed
# A suite that is killed by its bound, crashes or cannot build counts as at
# least one failure, never as success.

runner_init() { # label default_suites
  RUNNER_LABEL="$1"
  export SERVER_KIND="${SERVER_KIND:-nats-server}"
  if [ -z "${SERVER_BIN:-}" ]; then
    if [ "$SERVER_KIND" = herald ]; then
      SERVER_BIN="$ROOT/bazel-bin/server/herald"
    else
      SERVER_BIN="$(command -v nats-server || echo /usr/sbin/nats-server)"
    fi
  fi
  case "$SERVER_BIN" in /*) ;; *) SERVER_BIN="$(cd "$(dirname "$SERVER_BIN")" && pwd)/$(basename "$SERVER_BIN")" ;; esac
  SUITES="${SUITES:-$2}"
  if [ ! -x "$SERVER_BIN" ]; then
    echo "SERVER_BIN=$SERVER_BIN is not an executable" >&2
    echo "0 passed, 1 failed"
    exit 2
  fi
  OUT="$(mktemp -d "${TMPDIR:-/tmp}/herald-$RUNNER_LABEL.XXXXXX")"
  # bazel outputs can vanish while a rebuild runs: test a private copy
  case "$SERVER_BIN" in
    */bazel-bin/*|*/bazel-out/*|*/execroot/*)
      cp "$SERVER_BIN" "$OUT/$(basename "$SERVER_BIN")" && chmod u+x "$OUT/$(basename "$SERVER_BIN")" &&
        SERVER_BIN="$OUT/$(basename "$SERVER_BIN")" && echo "== using a copy: $SERVER_BIN" ;;
  esac
  export SERVER_BIN
  echo "== $RUNNER_LABEL suites: SERVER_KIND=$SERVER_KIND SERVER_BIN=$SERVER_BIN suites: $SUITES"
  TOTAL_PASS=0
  TOTAL_FAIL=0
  SUMMARY=()
  RUNNER_START=$(date +%s)
}

record() { # suite pass fail note
  TOTAL_PASS=$((TOTAL_PASS + $2))
  TOTAL_FAIL=$((TOTAL_FAIL + $3))
  SUMMARY+=("$(printf '%-6s %4d passed, %4d failed %s' "$1" "$2" "$3" "${4:-}")")
}

run_node_suite() { # name dir seconds
  echo
  echo "== $1: nats.js ($2)"
  cd "$2" || { record "$1" 0 1 "(no $2)"; return; }
  if [ ! -d node_modules/nats ]; then
    echo "-- npm ci"
    if ! npm ci --no-audit --no-fund >"$OUT/npm-$1.log" 2>&1; then
      cat "$OUT/npm-$1.log"
      record "$1" 0 1 "(npm ci failed)"
      return
    fi
  fi
  local tap="$OUT/$1.tap"
  timeout "$3" node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" test/
  local rc=$?
  local p f c
  p=$(awk '/^# pass /{print $3}' "$tap" | tail -1)
  f=$(awk '/^# fail /{print $3}' "$tap" | tail -1)
  c=$(awk '/^# cancelled /{print $3}' "$tap" | tail -1)
  if [ -z "$p" ] || [ -z "$f" ]; then
    # killed by the bound: count the top-level results written so far, plus one failure
    p=$(grep -cE '^ok ' "$tap" 2>/dev/null)
    f=$(grep -cE '^not ok ' "$tap" 2>/dev/null)
    record "$1" "${p:-0}" "$(( ${f:-0} + 1 ))" "(no summary, rc=$rc)"
    return
  fi
  f=$((f + ${c:-0}))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  record "$1" "$p" "$f"
}

run_go_suite() { # name dir seconds
  echo
  echo "== $1: nats.go ($2)"
  cd "$2" || { record "$1" 0 1 "(no $2)"; return; }
  if [ ! -d /usr/share/gocode/src/github.com/nats-io/nats.go ] || ! command -v go >/dev/null; then
    echo "-- installing golang-go golang-github-nats-io-go-nats-dev (Debian)"
    if [ "$(id -u)" = 0 ]; then
      apt-get install -y -q golang-go golang-github-nats-io-go-nats-dev >"$OUT/apt.log" 2>&1 || cat "$OUT/apt.log"
    else
      echo "not root: install golang-go golang-github-nats-io-go-nats-dev yourself" >&2
    fi
  fi
  local log="$OUT/$1.log"
  GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$2/.gocache" \
    timeout "$3" go test -v -count=1 -timeout "$(($3 - 10))s" . 2>&1 | tee "$log" | grep -Ev '^=== (RUN|PAUSE|CONT)'
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -cE '^\s*--- PASS:' "$log")
  f=$(grep -cE '^\s*--- FAIL:' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    record "$1" "$p" 1 "(go test rc=$rc: build failure, panic or timeout)"
    return
  fi
  record "$1" "$p" "$f"
}

run_py_suite() { # name file seconds
  echo
  echo "== $1: raw protocol ($2)"
  cd "$ROOT" || return
  local log="$OUT/$1.log"
  timeout "$3" python3 "$2" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line p f
  line=$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    record "$1" 0 1 "(no RESULT line, rc=$rc)"
    return
  fi
  p=$(echo "$line" | sed -E 's/.*passed=([0-9]+).*/\1/')
  f=$(echo "$line" | sed -E 's/.*failed=([0-9]+).*/\1/')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  record "$1" "$p" "$f"
}

runner_finish() {
  echo
  echo "== $RUNNER_LABEL results (SERVER_KIND=$SERVER_KIND, $(( $(date +%s) - RUNNER_START ))s, logs in $OUT)"
  for l in "${SUMMARY[@]}"; do echo "$l"; done
  echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
  [ "$TOTAL_FAIL" -eq 0 ]
}
