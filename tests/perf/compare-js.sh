#!/usr/bin/env bash
# JetStream publishing comparison: herald vs nats-server 2.9.10 on loopback,
# same loads, one server (or cluster) at a time. Prints a Markdown table
# (docs/perf.md, "JetStream publishing").
#
# Layouts: r1 = one node (-js -sd DIR), stream num_replicas 1;
#          r3 = three nodes (config files: server_name, jetstream{store_dir},
#               cluster with routes to all three nodes, itself included),
#               stream num_replicas 3, the publisher connected to node 1.
# Loads:   sync  = one publish in flight: msgs/s and per-publish latency;
#          async = WINDOW publishes in flight: msgs/s (latency = queueing);
#          fetch100, fetch1000 = a durable pull consumer with explicit acks
#          fetching CONSUME_MSGS messages (put in first) in batches of 100 /
#          1000, acking each; push = the same through a push consumer with
#          flow control. Consume loads report msgs/s consumed and acked, and
#          fsyncs per acked message (filling the stream included).
# Every bench run deletes and recreates the stream (file storage) and checks
# at the end that the stream holds exactly as many messages as were acked.
#
# Usage: tests/perf/compare-js.sh
# Environment:
#   DURATION=10       seconds per run
#   REPEAT=3          runs per load; the median of each figure is reported
#   LAYOUTS="r1 r3"   MODES="sync async"   WINDOW=256   SIZE=128   CLIENTS=1
#                     (MODES may also hold fetch100 fetch1000 push)
#   CONSUME_MSGS=200000  messages per consume run
#   NATS_BIN=nats-server from PATH (Debian: /usr/sbin/nats-server)
#   HERALD_BIN=...    herald binary; default bazel-bin/server/herald if it
#                     exists (BUILD_HERALD=1 builds //server:herald -c opt)
#   SKIP_HERALD=1     measure nats-server only
#   SKIP_NATS=1       measure herald only (the ratio column stays empty)
#   SKIP_BUILD=1      do not run bazel; needs BENCH_BIN (FSYNC_BIN optional)
#   STORE_BASE=/tmp   where the servers' store directories are created
#   FSYNC_SECONDS=3   fsync_probe on STORE_BASE before the runs (0 = skip)
#   NATS_JS_EXTRA=..  extra lines for nats-server's jetstream {} block (both
#                     layouts then use config files), e.g. "sync_interval:
#                     always" on servers that support it (2.9.10 does not)
#   HERALD_JS_EXTRA=. the same for herald
#   OUT=file.md       also write the table there
#   KEEP_WORK=1       keep the work directory (raw JSON, server logs)
#
# Ports are free ones on 127.0.0.1; servers are stopped by PID; store and
# work directories are removed on exit; every wait is bounded.
set -euo pipefail

DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
LAYOUTS=${LAYOUTS:-r1 r3}
MODES=${MODES:-sync async}
WINDOW=${WINDOW:-256}
SIZE=${SIZE:-128}
CLIENTS=${CLIENTS:-1}
STORE_BASE=${STORE_BASE:-/tmp}
FSYNC_SECONDS=${FSYNC_SECONDS:-3}
NATS_BIN=${NATS_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=$(mktemp -d /tmp/compare-js.XXXXXX)
STORE=$(mktemp -d "$STORE_BASE/compare-js-store.XXXXXX")
RESULTS="$WORK/results.jsonl"
PIDS=()

log() { echo "[compare-js] $*" >&2; }

stop_servers() {
  local p
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do
    [[ -n "$p" ]] || continue
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() {
  stop_servers
  rm -rf "$STORE"
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- binaries ---------------------------------------------------------------
# Copied into $WORK so that other builds cannot change them under us.
cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
  cp "${BENCH_BIN:?SKIP_BUILD=1 needs BENCH_BIN}" "$WORK/bench"
  [[ -n "${FSYNC_BIN:-}" ]] && cp "$FSYNC_BIN" "$WORK/fsync_probe"
else
  log "building //tools/bench:bench and :fsync_probe (-c opt)"
  bazel build -c opt //tools/bench:bench //tools/bench:fsync_probe >&2
  BIN_DIR=$(bazel info -c opt bazel-bin 2>/dev/null)
  cp "$BIN_DIR/tools/bench/bench" "$WORK/bench"
  cp "$BIN_DIR/tools/bench/fsync_probe" "$WORK/fsync_probe"
  if [[ "${BUILD_HERALD:-0}" == 1 && -z "${HERALD_BIN:-}" ]]; then
    if bazel build -c opt //server:herald >&2; then
      cp "$BIN_DIR/server/herald" "$WORK/herald-built"
      HERALD_BIN="$WORK/herald-built"
    else
      log "//server:herald does not build"
    fi
  fi
fi
BENCH="$WORK/bench"
[[ -x "$NATS_BIN" ]] || { log "no nats-server at $NATS_BIN"; exit 1; }
if [[ "${SKIP_HERALD:-0}" != 1 ]]; then
  HERALD_BIN=${HERALD_BIN:-$ROOT/bazel-bin/server/herald}
  if [[ -x "$HERALD_BIN" ]]; then
    cp "$HERALD_BIN" "$WORK/herald"
    HERALD_BIN="$WORK/herald"
  else
    log "no herald binary at $HERALD_BIN (set HERALD_BIN or BUILD_HERALD=1): herald is skipped"
    HERALD_BIN=""
  fi
else
  HERALD_BIN=""
fi

# --- ports ---------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
NEXT_PORT=$((27000 + RANDOM % 2000))
free_port() {  # sets PORT to a free port, never the same twice in this run (no subshell!)
  while ! port_free "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
  PORT=$NEXT_PORT
  NEXT_PORT=$((NEXT_PORT + 1))
}

# wait_listen PID PORT NAME: bounded wait (10 s) for the port to accept.
wait_listen() {
  for _ in $(seq 1 100); do
    if ! kill -0 "$1" 2>/dev/null; then log "$3 exited at start:"; tail -5 "$WORK/$3.log" >&2; return 1; fi
    port_free "$2" || return 0
    sleep 0.1
  done
  log "$3 did not listen on $2 within 10 s"
  return 1
}

# start_layout KIND BIN LAYOUT: starts the server(s); sets URL.
start_layout() {
  local kind=$1 bin=$2 layout=$3 extra
  extra=$([[ $kind == nats-server ]] && echo "${NATS_JS_EXTRA:-}" || echo "${HERALD_JS_EXTRA:-}")
  rm -rf "${STORE:?}"/*
  MON_PORTS=()
  if [[ $layout == r1 ]]; then
    local p name="$kind-r1"
    free_port
    p=$PORT
    free_port
    MON_PORTS=("$PORT")
    if [[ -z "$extra" ]]; then
      "$bin" -a 127.0.0.1 -p "$p" -m "$PORT" -js -sd "$STORE/$name" >"$WORK/$name.log" 2>&1 &
    else
      cat >"$WORK/$name.conf" <<EOF
listen: 127.0.0.1:$p
jetstream {
  store_dir: "$STORE/$name"
  $extra
}
EOF
      "$bin" -c "$WORK/$name.conf" -m "$PORT" >"$WORK/$name.log" 2>&1 &
    fi
    PIDS+=($!)
    wait_listen "$!" "$p" "$name" || return 1
    URL="nats://127.0.0.1:$p"
    return 0
  fi
  local cp=() rp=() i routes=""
  local mp=()
  for i in 1 2 3; do
    free_port; cp[$i]=$PORT
    free_port; rp[$i]=$PORT
    free_port; mp[$i]=$PORT
  done
  MON_PORTS=("${mp[1]}" "${mp[2]}" "${mp[3]}")
  for i in 1 2 3; do routes+="${routes:+, }nats-route://127.0.0.1:${rp[$i]}"; done
  for i in 1 2 3; do
    local name="$kind-r3-n$i"
    cat >"$WORK/$name.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:${cp[$i]}
jetstream {
  store_dir: "$STORE/$name"
  $extra
}
cluster {
  name: JSPERF
  listen: 127.0.0.1:${rp[$i]}
  routes: [$routes]
}
EOF
    "$bin" -c "$WORK/$name.conf" -m "${mp[$i]}" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
  done
  for i in 1 2 3; do
    wait_listen "${PIDS[$((i - 1))]}" "${cp[$i]}" "$kind-r3-n$i" || return 1
  done
  URL="nats://127.0.0.1:${cp[1]}"
}

# fsyncs_now: the Raft fsyncs of every node of the layout, summed (herald's
# /jsz "herald_raft"); empty for servers without that counter.
MON_PORTS=()
fsyncs_now() {
  local total=0 v p
  for p in "${MON_PORTS[@]}"; do
    v=$(curl -s --max-time 5 "http://127.0.0.1:$p/jsz" 2>/dev/null | jq -r '.herald_raft.fsyncs // empty' 2>/dev/null || true)
    [[ -n "$v" ]] || return 0
    total=$((total + v))
  done
  echo "$total"
}

# record KIND LAYOUT MODE JSON-object-or-null
record() {
  echo "{\"server\":\"$1\",\"layout\":\"$2\",\"mode\":\"$3\",\"value\":${4:-null}}" >>"$RESULTS"
}

# run_load KIND LAYOUT MODE: REPEAT bench runs; records the per-field median.
run_load() {
  local kind=$1 layout=$2 mode=$3 replicas=1 out rc vals=() bad=0
  [[ $layout == r3 ]] && replicas=3
  for rep in $(seq 1 "$REPEAT"); do
    rc=0
    local f0 f1 fpa=null
    f0=$(fsyncs_now)
    if [[ $mode == fetch* || $mode == push ]]; then
      local how=(--consume pull --fetch "${mode#fetch}")
      [[ $mode == push ]] && how=(--consume push)
      out=$(timeout $((${DURATION%.*} + 150)) "$BENCH" --url "$URL" --mode jsconsume --json \
        "${how[@]}" --msgs "${CONSUME_MSGS:-200000}" --size "$SIZE" --replicas "$replicas" \
        2>>"$WORK/bench.err") || rc=$?
    else
      out=$(timeout $((${DURATION%.*} + 150)) "$BENCH" --url "$URL" --mode jspub --json \
        --ack "$mode" --window "$WINDOW" --clients "$CLIENTS" --size "$SIZE" \
        --replicas "$replicas" --seconds "$DURATION" 2>>"$WORK/bench.err") || rc=$?
    fi
    echo "$out" >>"$WORK/raw.jsonl"
    f1=$(fsyncs_now)
    if ! echo "$out" | jq -e . >/dev/null 2>&1; then
      log "$kind $layout $mode run $rep: bench failed (exit $rc): $out"
      bad=$((bad + 1))
      continue
    fi
    log "$kind $layout $mode run $rep: $(echo "$out" | jq -r '"\(.msgs_per_sec|round) msgs/s, p50 \(.lat_us.p50) us, p99 \(.lat_us.p99) us, acks \(.acks), stream \(.stream_messages), errors \(.errors)\(if .stream_leader then ", stream leader \(.stream_leader)" else "" end)"')"
    if [[ $(echo "$out" | jq -r .ok) != true ]]; then
      log "$kind $layout $mode run $rep: NOT OK: $(echo "$out" | jq -c '{error,first_error,errors,malformed,verified}')"
      bad=$((bad + 1))
      continue
    fi
    if [[ -n "$f0" && -n "$f1" ]]; then
      # Per node: each replica fsyncs its own copy.
      fpa=$(echo "$out" | jq -c --argjson d "$((f1 - f0))" --argjson n "${#MON_PORTS[@]}" \
        'if .acks > 0 then $d / $n / .acks else null end')
      log "$kind $layout $mode run $rep: fsyncs per acked message per node: $fpa"
    fi
    vals+=("$(echo "$out" | jq -c --argjson fpa "$fpa" '{rate:.msgs_per_sec,p50:.lat_us.p50,p99:.lat_us.p99,fpa:$fpa}')")
  done
  if ((${#vals[@]} == 0)); then
    record "$kind" "$layout" "$mode" "{\"bad\":$bad}"
    return 0
  fi
  record "$kind" "$layout" "$mode" "$(printf '%s\n' "${vals[@]}" | jq -cs --argjson bad "$bad" '
    def median: sort | .[(length - 1) / 2 | floor];
    . as $v | reduce (.[0] | keys[]) as $f ({bad:$bad, runs:($v|length)}; .[$f] = ($v | map(.[$f]) | median))')"
}

run_suite() {
  local kind=$1 bin=$2 layout
  for layout in $LAYOUTS; do
    log "=== $kind $layout: ${DURATION}s per run, median of $REPEAT"
    if ! start_layout "$kind" "$bin" "$layout"; then
      stop_servers
      record "$kind" "$layout" start_failed null
      continue
    fi
    local info
    if ! info=$(timeout 60 "$BENCH" --url "$URL" --mode jsinfo --ready_timeout 30 2>&1); then
      log "$kind $layout: no successful answer to \$JS.API.INFO within 30 s ($info): $kind is skipped"
      stop_servers
      [[ $kind == herald ]] && return 0
      continue
    fi
    local mode
    for mode in $MODES; do run_load "$kind" "$layout" "$mode"; done
    for p in "${PIDS[@]}"; do
      kill -0 "$p" 2>/dev/null || log "$kind $layout: server PID $p died during the run"
    done
    stop_servers
  done
}

log "machine: $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
log "nats-server: $("$NATS_BIN" --version 2>&1)"
if [[ -x "$WORK/fsync_probe" && "$FSYNC_SECONDS" != 0 ]]; then
  log "disk floor: $("$WORK/fsync_probe" --dir "$STORE" --sizes "$SIZE" --seconds "$FSYNC_SECONDS")"
fi
if [[ "${SKIP_NATS:-0}" != 1 ]]; then
  run_suite nats-server "$NATS_BIN"
fi
if [[ -n "$HERALD_BIN" ]]; then
  # Herald: not measured if it does not answer $JS.API.INFO (run_suite says so).
  run_suite herald "$HERALD_BIN"
else
  log "herald skipped (no binary)"
fi

# --- table ----------------------------------------------------------------------
table() {
  touch "$RESULTS"
  jq -rs --arg layouts "$LAYOUTS" --arg modes "$MODES" --arg window "$WINDOW" --arg size "$SIZE" '
    def val($s; $l; $m): (map(select(.server == $s and .layout == $l and .mode == $m)) | .[0].value);
    def num($x; $d): if $x == null then "n/a" else ($x * pow(10; $d) | round / pow(10; $d) | tostring) end;
    def ratio($h; $n): if $h == null or $n == null or $n == 0 then "n/a"
                       else (($h / $n) * 100 | round / 100 | tostring) end;
    def note($v): if $v == null then "" elif ($v.bad // 0) > 0 then " (\($v.bad) bad run(s))" else "" end;
    . as $all |
    [ "| Load (\($size) B, file storage) | nats-server 2.9.10 | herald | herald / nats-server |",
      "| --- | ---: | ---: | ---: |",
      ( ($layouts | split(" ") | map(select(. != ""))[]) as $l
        | ($modes | split(" ") | map(select(. != ""))[]) as $m
        | ($all | val("nats-server"; $l; $m)) as $n
        | ($all | val("herald"; $l; $m)) as $h
        | ("\($l | ascii_upcase) \($m)" + (if $m == "async" then " (window \($window))" else "" end)) as $name
        | ($m == "sync" or $m == "async") as $pub
        | ( "| \($name): msgs/s\(note($n))\(note($h)) | \(num($n.rate; 0)) | \(num($h.rate; 0)) | \(ratio($h.rate; $n.rate)) |",
            (if $pub then
              "| \($name): p50 (us) | \(num($n.p50; 1)) | \(num($h.p50; 1)) | \(ratio($h.p50; $n.p50)) |",
              "| \($name): p99 (us) | \(num($n.p99; 1)) | \(num($h.p99; 1)) | \(ratio($h.p99; $n.p99)) |"
            else empty end),
            "| \($name): fsyncs per acked message, per node | no fsync before ack | \(num($h.fpa; 4)) | |" ) )
    ] | .[]' "$RESULTS"
}

echo
table | tee "${OUT:-/dev/null}"
