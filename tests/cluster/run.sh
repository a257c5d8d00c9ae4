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
. "$ROOT/tests/suites/lib.sh"
runner_init cluster "js go py"
for s in $SUITES; do
  case "$s" in
    js) run_node_suite js "$ROOT/tests/cluster/js" "${JS_TIMEOUT:-300}" ;;
    go) run_go_suite go "$ROOT/tests/cluster/go" "${GO_TIMEOUT:-240}" ;;
    py) run_py_suite py tests/cluster/py/route_test.py "${PY_TIMEOUT:-180}" ;;
    *) echo "unknown suite $s" >&2; record "$s" 0 1 "(unknown suite)" ;;
  esac
done
runner_finish
