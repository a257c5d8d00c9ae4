#!/usr/bin/env bash
# Installs what is missing, then runs every test: unit tests (Bazel/gtest),
# the Raft simulator, the real-client integration suites (nats.js, nats.go,
# raw protocol) against a real herald process, and the fuzz targets for a
# bounded time. Ends with one line "N passed, N failed".
#
# Environment: FUZZ_SECONDS (default 15 per target), SKIP_FUZZ=1, SKIP_INTEGRATION=1.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh --tests || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
report() { echo "== $1: $2 passed, $3 failed"; passed=$((passed + $2)); failed=$((failed + $3)); }
# Names of failed cases, gathered from every suite's output and repeated just
# before the last line: CI keeps only the tail of a long log.
failures=()
note_failures() { # suite output
  local l
  while IFS= read -r l; do failures+=("$1: $l"); done < <(echo "$2" | grep -E \
    '^\s*not ok |^\s*✖ |^\s*--- FAIL:|^(FAIL|ERROR): |^\[  FAILED  \] |^//\S+ .*(FAILED|TIMEOUT|NO STATUS)' |
    grep -v 'tests, listed below' | head -40)
}

# 1. Unit tests. Count individual gtest cases from each target's test.xml; a
# target that did not pass and has no readable result (build failure, crash,
# timeout) counts as one failure.
bazel test //... --test_summary=short --test_output=errors >/tmp/herald-unit.$$ 2>&1
unit_rc=$?
tail -60 /tmp/herald-unit.$$
note_failures unit "$(cat /tmp/herald-unit.$$)"
read -r up uf < <(python3 - /tmp/herald-unit.$$ <<'PY'
import re, sys, os, xml.etree.ElementTree as ET
passed = failed = 0
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^(//\S+)\s+(\(cached\) )?(PASSED|FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|FLAKY|INCOMPLETE|SKIPPED)", line)
    if not m:
        continue
    target, status = m.group(1), m.group(3)
    path = "bazel-testlogs/" + target[2:].replace(":", "/") + "/test.xml"
    n = f = 0
    try:
        for c in ET.parse(path).getroot().iter("testcase"):
            n += 1
            if c.find("failure") is not None or c.find("error") is not None:
                f += 1
    except Exception:
        pass
    if status == "PASSED":
        passed += max(n - f, 1) if f == 0 else n - f
        failed += f
    else:
        passed += max(n - f, 0) if n else 0
        failed += max(f, 1)
print(passed, failed)
PY
)
rm -f /tmp/herald-unit.$$
# A build or analysis failure must not look like success.
if [ "$unit_rc" != 0 ] && [ "$uf" = 0 ]; then uf=1; fi
report "unit tests" "$up" "$uf"

# 2. Integration tests with real clients against real herald processes.
if [ "${SKIP_INTEGRATION:-0}" != 1 ] && [ -x tests/integration/run.sh ]; then
  . tests/suites/lib.sh
  bindir=$(mktemp -d)
  herald=$(herald_copy "$bindir") || herald="$bindir/herald" # run.sh then reports the missing binary
  out=$(SERVER_KIND=herald SERVER_BIN="$herald" tests/integration/run.sh 2>&1)
  rm -rf "$bindir"
  echo "$out" | tail -60
  note_failures integration "$out"
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -n "$line" ]; then
    report "integration" "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | awk '{print $3}')"
  else
    report "integration" 0 1
  fi
fi

# 3. Fuzz targets, bounded.
if [ "${SKIP_FUZZ:-0}" != 1 ] && [ -x tools/fuzz/run.sh ]; then
  out=$(tools/fuzz/run.sh "${FUZZ_SECONDS:-15}" 2>&1)
  echo "$out" | grep -E '^fuzz ' || echo "$out" | tail -20
  note_failures fuzz "$(echo "$out" | grep -E '^fuzz .*: FAIL' | sed 's/^/FAIL: /')"
  fp=$(echo "$out" | grep -cE '^fuzz .*: PASS')
  ff=$(echo "$out" | grep -cE '^fuzz .*: FAIL')
  report "fuzz" "$fp" "$ff"
fi

# 4. Extra suites registered by other components (each prints "N passed, N failed").
for extra in tests/suites/*.sh; do
  [ -x "$extra" ] || continue
  out=$("$extra" 2>&1)
  # A passing suite's end; a failing one's report (tracebacks, node logs) in
  # full up to 400 lines, since CI keeps only this log.
  if echo "$out" | grep -qE '^[0-9]+ passed, 0 failed$'; then
    echo "$out" | tail -15
  else
    echo "$out" | tail -400
  fi
  note_failures "$(basename "$extra" .sh)" "$out"
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -n "$line" ]; then
    report "$(basename "$extra" .sh)" "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | awk '{print $3}')"
  else
    report "$(basename "$extra" .sh)" 0 1
  fi
done

if [ "${#failures[@]}" -gt 0 ]; then
  echo "== failed cases (from the logs above):"
  printf '  %s\n' "${failures[@]}" | awk '!seen[$0]++' | head -60
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
