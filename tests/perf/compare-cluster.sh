#!/usr/bin/env bash
# Cluster comparison: a publisher on node A and subscriber(s) on node B of a
# 3-node cluster, herald vs nats-server 2.9.10 (same layout, same flags, one
# cluster at a time, loopback). Prints a Markdown table for docs/perf.md
# ("Cluster: routed pub/sub").
#
# Environment: DURATION=5 (seconds per run), REPEAT=3 (median), HERALD_BIN,
# BENCH_BIN (skip building), NATS_BIN.
set -euo pipefail
DURATION=${DURATION:-5}
REPEAT=${REPEAT:-3}
NATS_BIN=${NATS_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=$(mktemp -d /tmp/compare-cluster.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  PIDS=()
}
trap 'cleanup; rm -rf "$WORK"' EXIT

cd "$ROOT"
if [ -z "${BENCH_BIN:-}" ] || [ -z "${HERALD_BIN:-}" ]; then
  bazel build -c opt //tools/bench:bench //server:herald >&2
  OUTP=$(bazel info -c opt output_path 2>/dev/null)/k8-opt/bin
  BENCH_BIN=${BENCH_BIN:-$OUTP/tools/bench/bench}
  HERALD_BIN=${HERALD_BIN:-$OUTP/server/herald}
fi
cp "$BENCH_BIN" "$WORK/bench"
cp "$HERALD_BIN" "$WORK/herald"

BASE=$((26000 + RANDOM % 2000))
start_cluster() {  # $1 = binary
  for i in 1 2 3; do
    "$1" -a 127.0.0.1 -p $((BASE + i)) -n "n$i" --cluster "nats://127.0.0.1:$((BASE + 100 + i))" \
      --cluster_name PERF --routes "nats://127.0.0.1:$((BASE + 101))" >"$WORK/n$i.log" 2>&1 &
    PIDS+=($!)
  done
  # Bounded wait for the full mesh: a message published on n1 reaches n2 and n3.
  for _ in $(seq 1 100); do
    if "$WORK/bench" --url "nats://127.0.0.1:$((BASE + 1))" --sub_url "nats://127.0.0.1:$((BASE + 3))" \
        --mode pubsub --msgs 1000 --size 16 --drain_timeout 1 >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "cluster did not form" >&2
  return 1
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_rate() {  # args... -> received msgs/s (median of REPEAT)
  for _ in $(seq 1 "$REPEAT"); do
    "$WORK/bench" "$@" --duration "$DURATION" --json | python3 -c '
import json,sys
r=json.loads(sys.stdin.read())
print(r.get("recv_rate") or r.get("recv_msgs_per_sec") or r.get("sub_rate") or 0)'
  done | median
}

declare -A RES
for kind in nats herald; do
  bin=$NATS_BIN; [ $kind = herald ] && bin=$WORK/herald
  start_cluster "$bin"
  A="nats://127.0.0.1:$((BASE + 1))"; B="nats://127.0.0.1:$((BASE + 2))"
  RES[$kind,16]=$(run_rate --url "$A" --sub_url "$B" --mode pubsub --size 16)
  RES[$kind,128]=$(run_rate --url "$A" --sub_url "$B" --mode pubsub --size 128)
  RES[$kind,fan]=$(run_rate --url "$A" --sub_url "$B" --mode fanout --subs 4 --size 128)
  cleanup
  sleep 0.5
done

ratio() { python3 -c "print('%.2f' % ($2/$1) if $1 else 'n/a')" "$1" "$2" 2>/dev/null || python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f'%(b/a) if a else 'n/a')" "$1" "$2"; }
echo
echo "| workload (pub on n1, subs on n2, 3-node cluster) | nats-server msgs/s | herald msgs/s | ratio |"
echo "| --- | ---: | ---: | ---: |"
for w in 16 128 fan; do
  name="pubsub ${w} B"; [ $w = fan ] && name="fan-out x4 (4 subs on n2), 128 B"
  n=${RES[nats,$w]}; h=${RES[herald,$w]}
  r=$(python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f'%(b/a) if a else 'n/a')" "$n" "$h")
  printf "| %s | %.0f | %.0f | %s |\n" "$name" "$n" "$h" "$r"
done
