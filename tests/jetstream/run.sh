#!/usr/bin/env bash
# JetStream stream suites: nats.js (tests/jetstream/js: single node and 3-node
# cluster stream API, publish headers, limits, bad requests) and nats.go
# (tests/jetstream/go: durability across leader kills and restarts, failover
# time) against herald or nats-server.
#
#   tests/jetstream/run.sh                                        # nats-server 2.9.10 (reference)
#   SERVER_KIND=herald SERVER_BIN=/path/to/herald tests/jetstream/run.sh
#   SUITES=js tests/jetstream/run.sh                              # subset: js go
#
# Prints per-suite results; the last line is "N passed, N failed" (test cases).
# Exit status is non-zero if anything failed.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/tests/suites/lib.sh"
runner_init jetstream "js go"
for s in $SUITES; do
  case "$s" in
    js) run_node_suite js "$ROOT/tests/jetstream/js" "${JS_TIMEOUT:-400}" ;;
    go) run_go_suite go "$ROOT/tests/jetstream/go" "${GO_TIMEOUT:-600}" ;;
    *) echo "unknown suite $s" >&2; record "$s" 0 1 "(unknown suite)" ;;
  esac
done
runner_finish
