#!/usr/bin/env bash
# Chaos harness, process mode (issue 12, first part): builds tests/chaos (Go,
# nats.go 1.22.1 from Debian, offline GOPATH mode) into a temp dir and runs it.
#
#   tests/chaos/run.sh --short [--server-kind herald|nats-server] [--server-bin PATH] [--seed N]
#       one run per fault class (kill-leader, kill-follower, kill-majority,
#       kill-all, pause-leader) plus one mixed run; 3 nodes; a few minutes
#   tests/chaos/run.sh --long [--long-seconds 3600] [--duration 300] ...
#       mixed faults, run after run (seed, seed+1, ...) for an hour
#   options: --nodes 5, --duration SECONDS (per run), --out DIR (results),
#            --faults a,b (only these classes in --short),
#            --net netns (each node in its own network namespace, root only;
#            --short then adds part-leader, part-majority, part-bridge,
#            part-oneway and, for herald, clock-forward, clock-back,
#            clock-strobe; the mixed runs draw from every class),
#            --clock-offsets 10,60 (seconds a clock fault moves a clock by;
#            default 10,60,300,3600)
#   --powerloss-bin PATH: herald's test build
#       (bazel build -c opt //server:herald_powerloss); --short then also runs
#       the disk classes (powerloss-one, powerloss-all, truncate, bitflip,
#       delete-file) and the network classes of its Raft fault shim
#       (net-flaky, net-slow, net-leader) with it, --faults may name them,
#       and the mixed runs use it (drawing network faults too)
#   --js-publishers N, --js-consumers N: nats.js clients (tests/chaos/js,
#       default 2 and 1; 0 and 0: none); skipped, and said so, without node or
#       tests/chaos/js/node_modules (npm ci there; tests/suites/chaos.sh does)
#
# herald: --server-bin or SERVER_BIN (no default build: the binary is tested
# as given). Each run prints its result; a failed run keeps its run dir (node
# logs, stores, history.log, chaos.log, result.json) and prints the seed and
# schedule. Ends with a per-class table and "N passed, N failed" (one per run);
# exit status non-zero on any failure.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODE=short KIND="${SERVER_KIND:-herald}" BIN="${SERVER_BIN:-}" SEED="" NODES=3
DURATION="" LONG_SECONDS=3600 OUT="" FAULTS="" NET=process CLOCK_OFFSETS=10,60,300,3600
PL_BIN="${POWERLOSS_BIN:-}"
JS_ARGS=(--js-dir "$ROOT/tests/chaos/js")
while [ $# -gt 0 ]; do
  case "$1" in
    --short) MODE=short ;;
    --long) MODE=long ;;
    --seed) SEED="$2"; shift ;;
    --server-kind) KIND="$2"; shift ;;
    --server-bin) BIN="$2"; shift ;;
    --nodes) NODES="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --long-seconds) LONG_SECONDS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --faults) FAULTS="$2"; shift ;;
    --net) NET="$2"; shift ;;
    --clock-offsets) CLOCK_OFFSETS="$2"; shift ;;
    --powerloss-bin) PL_BIN="$2"; shift ;;
    --js-publishers|--js-consumers) JS_ARGS+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; echo "0 passed, 1 failed"; exit 2 ;;
  esac
  shift
done
if [ -z "$BIN" ]; then
  if [ "$KIND" = nats-server ]; then BIN="$(command -v nats-server || echo /usr/sbin/nats-server)"
  else echo "herald: give --server-bin PATH or SERVER_BIN" >&2; echo "0 passed, 1 failed"; exit 2; fi
fi
[ -x "$BIN" ] || { echo "$BIN is not an executable" >&2; echo "0 passed, 1 failed"; exit 2; }
if [ -n "$PL_BIN" ] && [ ! -x "$PL_BIN" ]; then
  echo "$PL_BIN is not an executable" >&2; echo "0 passed, 1 failed"; exit 2
fi
DISK_CLASSES="powerloss-one,powerloss-all,truncate,bitflip,delete-file"
NET_CLASSES="net-flaky,net-slow,net-leader"
[ -n "$SEED" ] || SEED=$(( $(date +%s) % 100000 ))
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/herald-chaos-$KIND.XXXXXX")}"
mkdir -p "$OUT"
BUILD="$(mktemp -d "${TMPDIR:-/tmp}/herald-chaos-build.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT
case "$NET" in process|netns) ;; *) echo "--net: process or netns" >&2; echo "0 passed, 1 failed"; exit 2 ;; esac
echo "== chaos: $KIND ($BIN), mode $MODE, nodes $NODES, net $NET, seed $SEED, results in $OUT"
if ! (cd "$ROOT/tests/chaos" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
      GOCACHE="$ROOT/tests/chaos/.gocache" go build -o "$BUILD/chaos" . ) >"$OUT/build.log" 2>&1; then
  cat "$OUT/build.log"; echo "0 passed, 1 failed"; exit 1
fi

PASS=0 FAIL=0 N=0
FAILED_RUNS=()
one_run() { # faults duration_seconds seed
  N=$((N + 1))
  # disk classes (nemesis_disk.go) run on the power-loss build when given
  local bin="$BIN" extra=()
  # the test build (power-loss file system, network fault shim) runs the disk
  # and network classes, and the mixed runs (which then draw network faults)
  case ",$DISK_CLASSES,$NET_CLASSES,mixed," in *",$1,"*)
    if [ -n "$PL_BIN" ] && [ "$KIND" = herald ]; then bin="$PL_BIN"; extra=(--powerloss); fi ;;
  esac
  local tag; tag="$(printf 'run%02d-%s-seed%s' "$N" "$1" "$3")"
  echo
  echo "== $tag"
  # bound: the fault phase plus set-up, healing and checking
  timeout --kill-after=30 $(( $2 + 600 )) "$BUILD/chaos" --server-kind "$KIND" --server-bin "$bin" "${extra[@]}" \
    --nodes "$NODES" --seed "$3" --duration "${2}s" --faults "$1" --net "$NET" --clock-offsets "$CLOCK_OFFSETS" "${JS_ARGS[@]}" \
    --run-dir "$OUT/$tag" --json "$OUT/$tag.json" 2>&1 | tee "$OUT/$tag.log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then PASS=$((PASS + 1))
  else FAIL=$((FAIL + 1)); FAILED_RUNS+=("$tag (exit $rc, run dir $OUT/$tag; replay: tests/chaos/run.sh --short --faults $1 --seed $3 --duration $2 --nodes $NODES --server-kind $KIND --server-bin $BIN)"); fi
}

START=$(date +%s)
if [ "$MODE" = short ]; then
  D="${DURATION:-40}"
  CLASSES="${FAULTS:-kill-leader,kill-follower,kill-majority,kill-all,pause-leader}"
  if [ -z "$FAULTS" ] && [ "$NET" = netns ]; then
    CLASSES="$CLASSES,part-leader,part-majority,part-bridge,part-oneway"
    # libfaketime cannot move a Go program's clock: herald only
    [ "$KIND" = herald ] && CLASSES="$CLASSES,clock-forward,clock-back,clock-strobe"
  fi
  if [ -z "$FAULTS" ] && [ -n "$PL_BIN" ] && [ "$KIND" = herald ]; then CLASSES="$CLASSES,$DISK_CLASSES,$NET_CLASSES"; fi
  i=0
  for c in ${CLASSES//,/ }; do one_run "$c" "$D" $((SEED + i)); i=$((i + 1)); done
  [ -n "$FAULTS" ] || one_run mixed "${DURATION:-60}" $((SEED + i))
else
  D="${DURATION:-300}"
  i=0
  while [ $(( $(date +%s) - START + D )) -le "$LONG_SECONDS" ] || [ "$i" -eq 0 ]; do
    one_run mixed "$D" $((SEED + i)); i=$((i + 1))
  done
fi

echo
echo "== summary ($KIND, $(( $(date +%s) - START )) s, results $OUT)"
"$BUILD/chaos" summarize "$OUT"/*.json
for f in "${FAILED_RUNS[@]}"; do echo "FAILED: $f"; done
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
