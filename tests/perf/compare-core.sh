#!/usr/bin/env bash
# Core pub/sub comparison: herald vs nats-server 2.9.10 on loopback, same
# workloads, one server at a time. Prints a Markdown table (docs/perf.md,
# "Core pub/sub (single node)").
#
# Usage: tests/perf/compare-core.sh
# Environment:
#   DURATION=5        seconds per throughput/latency workload
#   REPEAT=1          runs per workload; the median is reported (use 3 on a
#                     busy machine)
#   CONNS=10000       idle connections for the RSS measurement (0 = skip)
#   NATS_BIN=nats-server from PATH (Debian: /usr/sbin/nats-server)
#   HERALD_BIN=...    use this herald binary instead of building //server:herald
#   SKIP_HERALD=1     measure nats-server only
#   SKIP_BUILD=1      do not run bazel; needs BENCH_BIN (and HERALD_BIN)
#   BENCH_BIN=...     bench binary to use with SKIP_BUILD=1
#   PORT=...          client port (default: a free one from 24222 up)
#   OUT=file.md       also write the table there
#
# Every wait is bounded; both servers are stopped by PID on exit.
set -euo pipefail

DURATION=${DURATION:-5}
REPEAT=${REPEAT:-1}
CONNS=${CONNS:-10000}
NATS_BIN=${NATS_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=$(mktemp -d /tmp/compare-core.XXXXXX)
RESULTS="$WORK/results.jsonl"
SERVER_PID=""
CONNS_PID=""

log() { echo "[compare-core] $*" >&2; }

cleanup() {
  if [[ -n "$CONNS_PID" ]]; then kill "$CONNS_PID" 2>/dev/null || true; fi
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- binaries ---------------------------------------------------------------
# Copied into $WORK so that other builds switching bazel-bin between
# configurations cannot change them under us.
if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
  cp "${BENCH_BIN:?SKIP_BUILD=1 needs BENCH_BIN}" "$WORK/bench"
else
  cd "$ROOT"
  log "building //tools/bench:bench (-c opt)"
  bazel build -c opt //tools/bench:bench >&2
  BIN_DIR=$(bazel info -c opt bazel-bin 2>/dev/null)
  cp "$BIN_DIR/tools/bench/bench" "$WORK/bench"
  if [[ -z "${HERALD_BIN:-}" && "${SKIP_HERALD:-0}" != 1 ]]; then
    if ! bazel query //server:herald >/dev/null 2>&1; then
      log "//server:herald does not exist yet and HERALD_BIN is not set: herald is skipped"
    elif ! bazel build -c opt //server:herald >&2; then
      log "//server:herald does not build: herald is skipped"
    else
      cp "$BIN_DIR/server/herald" "$WORK/herald"
      HERALD_BIN="$WORK/herald"
    fi
  fi
fi
BENCH="$WORK/bench"
[[ -x "$NATS_BIN" ]] || { log "no nats-server at $NATS_BIN"; exit 1; }

# --- limits and port ----------------------------------------------------------
hard=$(ulimit -Hn)
want=$((CONNS + 1024))
if [[ "$hard" != unlimited && "$hard" -lt "$want" ]]; then
  want=$hard
  if ((CONNS > hard - 1024)); then
    CONNS=$((hard - 1024))
    log "open-file hard limit is $hard: holding only $CONNS connections"
  fi
fi
ulimit -n "$want"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [[ -z "${PORT:-}" ]]; then
  PORT=24222
  while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
fi
URL="nats://127.0.0.1:$PORT"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start_server NAME BIN: runs BIN -a 127.0.0.1 -p PORT, waits for the port.
start_server() {
  local name=$1 bin=$2
  "$bin" -a 127.0.0.1 -p "$PORT" >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$name exited at start; see $WORK/$name.log"
      tail -5 "$WORK/$name.log" >&2
      SERVER_PID=""
      return 1
    fi
    port_free "$PORT" || return 0
    sleep 0.1
  done
  log "$name did not listen on $PORT within 10 s"
  return 1
}

stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# record SERVER KEY JSON-or-number
record() { echo "{\"server\":\"$1\",\"key\":\"$2\",\"value\":${3:-null}}" >>"$RESULTS"; }

# bench_run SERVER KEY JQ-EXPR bench-args...: runs one workload REPEAT times
# and records the median of the figure (per field when it is an object).
bench_run() {
  local server=$1 key=$2 expr=$3
  shift 3
  local out vals=()
  for _ in $(seq 1 "$REPEAT"); do
    if ! out=$(timeout $((${DURATION%.*} + 90)) "$BENCH" --url "$URL" --json \
      --duration "$DURATION" "$@" 2>>"$WORK/bench.err"); then
      log "$server $key: failed: $out"
      continue
    fi
    echo "$out" | jq -c --arg s "$server" --arg k "$key" '{server:$s,key:$k,raw:.}' >>"$WORK/raw.jsonl"
    vals+=("$(echo "$out" | jq -c "$expr")")
  done
  if ((${#vals[@]} == 0)); then
    record "$server" "$key" null
    return 0
  fi
  record "$server" "$key" "$(printf '%s\n' "${vals[@]}" | jq -cs '
    def median: sort | .[(length - 1) / 2 | floor];
    if (.[0] | type) == "object"
    then . as $v | reduce (.[0] | keys[]) as $f ({}; .[$f] = ($v | map(.[$f]) | median))
    else median end')"
}

# conns_rss SERVER: holds CONNS idle connections and records the server's RSS.
conns_rss() {
  local server=$1 out="$WORK/conns-$1.out"
  ((CONNS > 0)) || return 0
  "$BENCH" --url "$URL" --mode conns --conns "$CONNS" --duration 300 >"$out" 2>&1 &
  CONNS_PID=$!
  local ok=0
  for _ in $(seq 1 1200); do  # up to 120 s to open them
    if grep -q '^ready' "$out"; then ok=1; break; fi
    kill -0 "$CONNS_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ((ok)); then
    sleep 1  # let the server finish per-connection setup
    record "$server" rss_conns "$(rss_kib "$SERVER_PID")"
  else
    log "$server: could not hold $CONNS connections: $(tail -2 "$out")"
    record "$server" rss_conns null
  fi
  kill "$CONNS_PID" 2>/dev/null || true
  wait "$CONNS_PID" 2>/dev/null || true
  CONNS_PID=""
  sleep 1  # let the server notice the closed connections
}

run_suite() {
  local server=$1 bin=$2
  log "=== $server ($bin) on $URL, ${DURATION}s per workload, median of $REPEAT"
  start_server "$server" "$bin" || { record "$server" start_failed null; return 0; }
  sleep 0.5
  record "$server" rss_idle "$(rss_kib "$SERVER_PID")"
  local rate='.pub_msgs_per_sec' recv='.recv_msgs_per_sec'
  bench_run "$server" pub16 "$rate" --mode pub --size 16
  bench_run "$server" pub128 "$rate" --mode pub --size 128
  bench_run "$server" pubsub16 "$recv" --mode pubsub --size 16
  bench_run "$server" pubsub128 "$recv" --mode pubsub --size 128
  bench_run "$server" fanout16 "$recv" --mode fanout --subs 4 --size 16
  bench_run "$server" fanout128 "$recv" --mode fanout --subs 4 --size 128
  bench_run "$server" reqrep '{rps:.req_per_sec,p50:.lat_us.p50,p99:.lat_us.p99,p999:.lat_us.p999,max:.lat_us.max}' \
    --mode reqrep --size 16
  conns_rss "$server"
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "$server died during the run; see $WORK/$server.log"
    tail -5 "$WORK/$server.log" >&2
  fi
  stop_server
}

log "machine: $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
run_suite nats-server "$NATS_BIN"
if [[ -n "${HERALD_BIN:-}" && "${SKIP_HERALD:-0}" != 1 ]]; then
  run_suite herald "$HERALD_BIN"
else
  log "herald skipped (no binary)"
fi

# --- table --------------------------------------------------------------------
table() {
  jq -rs --arg conns "$CONNS" '
    def val($s; $k): (map(select(.server == $s and .key == $k)) | .[0].value);
    def num($x; $d): if $x == null then "n/a" else ($x * pow(10; $d) | round / pow(10; $d) | tostring) end;
    def ratio($h; $n): if $h == null or $n == null or $n == 0 then "n/a"
                       else (($h / $n) * 100 | round / 100 | tostring) end;
    def row($name; $h; $n; $d): "| \($name) | \(num($n; $d)) | \(num($h; $d)) | \(ratio($h; $n)) |";
    . as $all |
    [ "| Workload | nats-server 2.9.10 | herald | herald / nats-server |",
      "| --- | ---: | ---: | ---: |",
      ( [["pub16","pub, 1 publisher, 16 B (msgs/s)"],
         ["pub128","pub, 1 publisher, 128 B (msgs/s)"],
         ["pubsub16","pubsub, 1 pub / 1 sub, 16 B (msgs/s received)"],
         ["pubsub128","pubsub, 1 pub / 1 sub, 128 B (msgs/s received)"],
         ["fanout16","fanout, 1 pub / 4 subs, 16 B (msgs/s received, all subs)"],
         ["fanout128","fanout, 1 pub / 4 subs, 128 B (msgs/s received, all subs)"]][] as $w
        | row($w[1]; $all | val("herald"; $w[0]); $all | val("nats-server"; $w[0]); 0) ),
      ( [["rps","reqrep, 1 in flight, 16 B (requests/s)"],
         ["p50","reqrep latency p50 (us)"],
         ["p99","reqrep latency p99 (us)"],
         ["p999","reqrep latency p99.9 (us)"],
         ["max","reqrep latency max (us)"]][] as $m
        | row($m[1]; ($all | val("herald"; "reqrep") | if . == null then null else .[$m[0]] end);
                     ($all | val("nats-server"; "reqrep") | if . == null then null else .[$m[0]] end); 1) ),
      row("RSS idle, just started (MiB)"; ($all | val("herald"; "rss_idle") | if . == null then null else . / 1024 end);
          ($all | val("nats-server"; "rss_idle") | if . == null then null else . / 1024 end); 1),
      row("RSS with \($conns) idle connections (MiB)"; ($all | val("herald"; "rss_conns") | if . == null then null else . / 1024 end);
          ($all | val("nats-server"; "rss_conns") | if . == null then null else . / 1024 end); 1)
    ] | .[]' "$RESULTS"
}

table | tee "${OUT:-/dev/null}"
log "raw results: $WORK/raw.jsonl, $RESULTS; server logs in $WORK"
