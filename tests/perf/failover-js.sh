#!/usr/bin/env bash
# JetStream failover benchmark (docs/perf.md, "Failover"): a 3-node cluster of
# herald or nats-server on 127.0.0.1 (config files: server_name, listen,
# jetstream { store_dir }, cluster with routes to all three nodes, itself
# included; stores under a mktemp directory), one R3 file stream, PUBLISHERS
# concurrent nats.go publishers (synchronous JetStream publish, unique
# Nats-Msg-Id, retried with the same id after an error or a PUB_TIMEOUT, each
# connection knowing all three servers). It measures:
#
#   1. KILLS times: SIGKILL of the stream leader (STREAM.INFO cluster.leader)
#      -> first PubAck of a publish sent after the kill (over all publishers);
#      the node is restarted and all replicas must be current before the next
#      kill. p50 / p90 / p99 / max (nearest rank).
#   2. REPEAT_ALL times: SIGKILL of all three nodes, restart of all three
#      -> first PubAck, from the moment the processes were started.
#   3. At the end, with the publishers stopped: every acknowledged message is
#      in the stream once at its acknowledged sequence, and every replica holds
#      the same message at every sequence (read through STREAM.MSG.GET while
#      each node in turn leads the stream, as tests/jetstream/go does).
#
# Prints per-event lines, Markdown tables and a last line "FAILOVER-JS ...".
# Exit status 0 only if every window ended within its bound and the check passed.
#
# Usage (from anywhere in the repo):
#   HERALD_BIN=/path/to/herald tests/perf/failover-js.sh     # herald (default kind)
#   SERVER_KIND=nats tests/perf/failover-js.sh               # nats-server from PATH
# Environment:
#   SERVER_KIND=herald|nats   (nats-server is accepted for nats)
#   HERALD_BIN=...            default bazel-bin/server/herald (copied before use)
#   NATS_BIN=...              default nats-server from PATH
#   KILLS=20  REPEAT_ALL=3  PUBLISHERS=4  SIZE=128
#   PUB_TIMEOUT=500ms  RETRY_PAUSE=20ms  PUB_PAUSE=10ms
#   ACK_TIMEOUT=60s        bound on one leader-kill window
#   ALL_ACK_TIMEOUT=180s   bound on one all-restart window
#   HEALTHY_TIMEOUT=60s    bound on waiting for all replicas current
#   BUDGET=60m             no new kill after this (the check still runs)
#   JS_EXTRA='...'         extra settings inside jetstream {} (server-specific)
#   LABEL=...              name in the output (default: kind and binary version)
#   KEEP_WORK=1            keep the work directory (stores, configs, logs);
#                          it is also kept when the run fails
#   GOCACHE_DIR=...        Go build cache (default ${TMPDIR:-/tmp}/herald-perf-gocache)
#
# Needs go and Debian's golang-github-nats-io-go-nats-dev (nats.go 1.22.1, built
# offline in GOPATH mode like tests/jetstream/go). No bazel. Every server
# process is started by the Go program (Pdeathsig SIGKILL), its PID written to
# WORK/pids; the exit trap stops the Go program and any of those PIDs still
# running this server binary. Every wait is bounded.
set -euo pipefail

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
SERVER_KIND=${SERVER_KIND:-herald}
KILLS=${KILLS:-20}
REPEAT_ALL=${REPEAT_ALL:-3}
PUBLISHERS=${PUBLISHERS:-4}
SIZE=${SIZE:-128}
PUB_TIMEOUT=${PUB_TIMEOUT:-500ms}
RETRY_PAUSE=${RETRY_PAUSE:-20ms}
PUB_PAUSE=${PUB_PAUSE:-10ms}
ACK_TIMEOUT=${ACK_TIMEOUT:-60s}
ALL_ACK_TIMEOUT=${ALL_ACK_TIMEOUT:-180s}
HEALTHY_TIMEOUT=${HEALTHY_TIMEOUT:-60s}
BUDGET=${BUDGET:-60m}
GOCACHE_DIR=${GOCACHE_DIR:-${TMPDIR:-/tmp}/herald-perf-gocache}

log() { echo "[failover-js] $*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/failover-js.XXXXXX")
RUN_PID=""
RC=1
cleanup() {
  local p exe
  if [[ -n "$RUN_PID" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM "$RUN_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  if [[ -f "$WORK/pids" ]]; then
    while read -r p; do
      [[ "$p" =~ ^[0-9]+$ ]] || continue
      exe=$(readlink "/proc/$p/exe" 2>/dev/null || true)
      if [[ -n "$exe" && "$exe" == "${SERVER_BIN:-/nonexistent}" ]]; then
        kill -KILL "$p" 2>/dev/null || true
      fi
    done <"$WORK/pids"
  fi
  if [[ "${KEEP_WORK:-0}" == 1 || "$RC" != 0 ]]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$SERVER_KIND" in
  herald)
    src=${HERALD_BIN:-$ROOT/bazel-bin/server/herald}
    [[ -x "$src" ]] || { log "no herald binary at $src (set HERALD_BIN)"; exit 2; }
    # a private copy: a rebuild cannot replace it under the running nodes
    cp "$src" "$WORK/herald" && chmod u+x "$WORK/herald"
    SERVER_BIN="$WORK/herald"
    DEFAULT_LABEL="herald $("$SERVER_BIN" --version 2>&1 | head -1 | sed 's/^herald: //') ($(basename "$src"))"
    ;;
  nats | nats-server)
    SERVER_KIND=nats-server
    SERVER_BIN=${NATS_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
    [[ -x "$SERVER_BIN" ]] || { log "no nats-server at $SERVER_BIN"; exit 2; }
    SERVER_BIN=$(readlink -f "$SERVER_BIN")
    DEFAULT_LABEL="nats-server $("$SERVER_BIN" --version 2>&1 | head -1 | sed 's/^nats-server: //')"
    ;;
  *) log "SERVER_KIND must be herald or nats"; exit 2 ;;
esac
LABEL=${LABEL:-$DEFAULT_LABEL}

if ! command -v go >/dev/null || [[ ! -d /usr/share/gocode/src/github.com/nats-io/nats.go ]]; then
  log "needs go and golang-github-nats-io-go-nats-dev (apt-get install golang-go golang-github-nats-io-go-nats-dev)"
  exit 2
fi
log "building tests/perf/failover (GOPATH mode, offline)"
mkdir -p "$GOCACHE_DIR"
(cd "$ROOT/tests/perf/failover" &&
  GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS='' GOCACHE="$GOCACHE_DIR" \
    timeout 300 go build -o "$WORK/failover" .) || { log "go build failed"; exit 2; }

log "machine: $(nproc) CPUs; $LABEL; work directory $WORK"
# The Go program bounds every phase itself (BUDGET, the *_TIMEOUT bounds);
# timeout(1) is the last resort: the budget plus the worst case of one more
# kill, all restarts and the check.
case "$BUDGET" in
  *h) budget_s=$((${BUDGET%h} * 3600)) ;;
  *m) budget_s=$((${BUDGET%m} * 60)) ;;
  *s) budget_s=${BUDGET%s} ;;
  *) log "BUDGET: use a whole number with h, m or s (e.g. 60m)"; exit 2 ;;
esac
RC=0
timeout --kill-after=30 $((budget_s + 1800)) "$WORK/failover" \
  -kind "$SERVER_KIND" -bin "$SERVER_BIN" -label "$LABEL" -dir "$WORK" \
  -kills "$KILLS" -repeat-all "$REPEAT_ALL" -publishers "$PUBLISHERS" -size "$SIZE" \
  -pub-timeout "$PUB_TIMEOUT" -retry-pause "$RETRY_PAUSE" -pub-pause "$PUB_PAUSE" \
  -ack-timeout "$ACK_TIMEOUT" -all-ack-timeout "$ALL_ACK_TIMEOUT" \
  -healthy-timeout "$HEALTHY_TIMEOUT" -budget "$BUDGET" -js-extra "${JS_EXTRA:-}" &
RUN_PID=$!
wait "$RUN_PID" || RC=$?
RUN_PID=""
if [[ "$RC" != 0 ]]; then
  log "failed (exit $RC); server logs: $WORK/n*/server.log"
fi
exit "$RC"
