#!/usr/bin/env bash
# Chaos, short set (tests/chaos, issue 12) against the herald this suite
# builds (fastbuild, as the other suites) and its test build
# //server:herald_powerloss: 3 nodes, one run per fault class (kill-leader,
# kill-follower, kill-majority, kill-all, pause-leader; with the test build
# the disk classes powerloss-one, powerloss-all, truncate, bitflip,
# delete-file and the Raft network classes net-flaky, net-slow, net-leader)
# and one mixed run, each CHAOS_DURATION seconds of faults (default 20), with a fresh
# seed every time (printed, with the commands that replay it). Each run is
# one test in "N passed, N failed"; a failed run keeps its run dir (node logs
# and stores, history.log, chaos.log, result.json) and its path is printed.
#
# Environment: CHAOS_SEED (replay a whole set), CHAOS_DURATION (seconds per
# run), CHAOS_SERVER_BIN (test this binary instead of building one),
# CHAOS_POWERLOSS_BIN (that test build instead of building one; "none":
# without the disk and network classes), CHAOS_BUDGET (seconds for the whole
# sets, default 2700; about 20 minutes on 2 cores, 26 when the machine is
# busy), SKIP_CHAOS=1.
# Then, where the machine allows network namespaces (root, ip, iptables),
# the partition classes (part-leader, part-majority, part-bridge,
# part-oneway) and, with libfaketime, the clock classes (clock-forward,
# clock-back, clock-strobe) with --net netns; CHAOS_NETNS=0 skips them.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
if [ "${SKIP_CHAOS:-0}" = 1 ]; then echo "chaos: skipped (SKIP_CHAOS=1)"; echo "0 passed, 0 failed"; exit 0; fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
. tests/suites/lib.sh
if [ -n "${CHAOS_SERVER_BIN:-}" ]; then
  cp "$CHAOS_SERVER_BIN" "$bin/herald" && chmod u+x "$bin/herald" && herald="$bin/herald" ||
    { echo "FAIL: chaos: cannot copy $CHAOS_SERVER_BIN"; echo "0 passed, 1 failed"; exit 1; }
else
  herald=$(herald_copy "$bin") || { echo "FAIL: chaos: herald build failed"; echo "0 passed, 1 failed"; exit 1; }
fi
pl_args=()
if [ "${CHAOS_POWERLOSS_BIN:-}" = none ]; then
  :
elif [ -n "${CHAOS_POWERLOSS_BIN:-}" ]; then
  cp "$CHAOS_POWERLOSS_BIN" "$bin/herald_powerloss" && chmod u+x "$bin/herald_powerloss" &&
    pl_args=(--powerloss-bin "$bin/herald_powerloss") ||
    { echo "FAIL: chaos: cannot copy $CHAOS_POWERLOSS_BIN"; echo "0 passed, 1 failed"; exit 1; }
else
  if ! bazel build //server:herald_powerloss >"$bin/build-pl.log" 2>&1; then
    tail -30 "$bin/build-pl.log"; echo "FAIL: chaos: herald_powerloss build failed"; echo "0 passed, 1 failed"; exit 1
  fi
  cp "$(bazel info output_path 2>/dev/null)/k8-fastbuild/bin/server/herald_powerloss" "$bin/herald_powerloss" &&
    chmod u+x "$bin/herald_powerloss" && pl_args=(--powerloss-bin "$bin/herald_powerloss") ||
    { echo "FAIL: chaos: herald_powerloss binary not found"; echo "0 passed, 1 failed"; exit 1; }
fi
# nats.js for the chaos workload's JS clients (tests/chaos/js); without it the
# runs go on and their summaries say the nats.js workload was skipped
if command -v npm >/dev/null 2>&1 && [ ! -d tests/chaos/js/node_modules/nats ]; then
  (cd tests/chaos/js && timeout 300 npm ci --no-audit --no-fund >"$bin/npm.log" 2>&1) || cat "$bin/npm.log"
fi
seed="${CHAOS_SEED:-$(( ($(date +%s%N) / 1000) % 1000000 + 1 ))}"
dur="${CHAOS_DURATION:-20}"
budget="${CHAOS_BUDGET:-2700}"
out="$(mktemp -d "${TMPDIR:-/tmp}/herald-chaos-ci.XXXXXX")"
replay="CHAOS_SEED=$seed CHAOS_DURATION=$dur tests/suites/chaos.sh"
echo "== chaos: seed $seed, $dur s of faults per run, results in $out"
echo "== chaos: replay this set: $replay"
echo "== chaos: replay one run (seed $seed + its index in the set, mixed last): tests/chaos/run.sh --short --faults CLASS|mixed --seed N --duration $dur --server-bin HERALD [--powerloss-bin HERALD_POWERLOSS]"
start=$(date +%s)
# One set: run.sh with the given arguments, its output in $out/$1.log; adds
# its results to p and f.
p=0 f=0
run_set() {
  local name=$1 left line sp sf
  shift
  left=$(( budget - ($(date +%s) - start) ))
  if [ "$left" -lt 60 ]; then
    echo "FAIL: chaos: no time left in the ${budget}s budget for the $name set"; f=$((f + 1)); return
  fi
  local log="$out/$name.log"
  # Shown as they come: each run's name, result line and failures; the whole
  # output (every run's progress, seed and schedule) is in $log.
  timeout --kill-after=30 "$left" tests/chaos/run.sh --short --duration "$dur" --seed "$seed" \
    --server-kind herald --server-bin "$herald" --out "$out/$name" "$@" 2>&1 | tee "$log" |
    grep --line-buffered -E '^(== run[0-9]|RESULT |   FAIL |FAILED: )'
  local rc=${PIPESTATUS[0]}
  # The per-class table run.sh ends with.
  sed -n '/^== summary/,$p' "$log" | tail -n +2 | grep -Ev '^[0-9]+ passed, [0-9]+ failed$|^FAILED: '
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -n "$line" ]; then
    sp=$(echo "$line" | awk '{print $1}') sf=$(echo "$line" | awk '{print $3}')
  else
    # killed by the budget: the finished runs count, plus one failure
    sp=$(grep -c '^RESULT PASS' "$log") sf=$(( $(grep -c '^RESULT FAIL' "$log") + 1 ))
    echo "FAIL: chaos: the $name set did not finish within the budget (rc $rc); log $log"
  fi
  p=$((p + sp)) f=$((f + sf))
}
run_set process "${pl_args[@]}"
# Partitions and clock faults need network namespaces (root, ip, iptables)
# and libfaketime, all installed by scripts/setup.sh; where the machine
# allows none (no root, no namespaces), the set is skipped and says why.
netns_ok() {
  [ "$(id -u)" = 0 ] || { echo "not root"; return 1; }
  command -v ip >/dev/null && command -v iptables >/dev/null || { echo "ip or iptables missing"; return 1; }
  local probe="hcx-probe-$$"
  ip netns add "$probe" >/dev/null 2>&1 || { echo "cannot create a network namespace"; return 1; }
  ip netns exec "$probe" iptables -L INPUT >/dev/null 2>&1
  local ok=$?
  ip netns del "$probe" >/dev/null 2>&1
  [ "$ok" = 0 ] || { echo "iptables does not work inside a namespace"; return 1; }
}
if [ "${CHAOS_NETNS:-auto}" = 0 ]; then
  echo "== chaos: partition and clock set skipped (CHAOS_NETNS=0)"
elif why=$(netns_ok); then
  classes="part-leader,part-majority,part-bridge,part-oneway"
  ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 && classes="$classes,clock-forward,clock-back,clock-strobe"
  echo "== chaos: partition and clock set (network namespaces): $classes"
  echo "== chaos: replay one run: tests/chaos/run.sh --short --net netns --faults CLASS --seed N --duration $dur --server-bin HERALD"
  run_set netns --net netns --faults "$classes"
else
  echo "== chaos: partition and clock set skipped: $why (tests/chaos/run.sh --net netns runs it where root may create namespaces)"
fi
for d in "$out"/*/run*/; do
  [ -d "$d" ] && echo "FAIL: chaos: run dir kept: ${d%/} (seed, schedule: ${d%/}/chaos.log; replay: $replay)"
done
echo "== chaos: $(( $(date +%s) - start )) s, seed $seed"
if [ "$f" = 0 ]; then rm -rf "$out"; else echo "== chaos: results kept in $out"; fi
echo "$p passed, $f failed"
[ "$f" = 0 ]
