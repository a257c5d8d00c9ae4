#!/usr/bin/env bash
# Real-client integration suite for the single-node server (herald or nats-server).
#
#   tests/integration/run.sh                       # against nats-server (reference)
#   SERVER_KIND=herald SERVER_BIN=bazel-bin/server/herald tests/integration/run.sh
#   SUITES="js proto" tests/integration/run.sh     # subset (js, go, proto)
#
# Each suite on its own (from the repo root):
#   JS:    (cd tests/js && npm ci --no-audit --no-fund && SERVER_KIND=nats-server node --test --test-concurrency=1 test/)
#   Go:    (cd tests/go && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
#             GOCACHE=$PWD/.gocache SERVER_KIND=nats-server go test -v -count=1 .)
#   Proto: SERVER_KIND=nats-server python3 tests/integration/protocol_test.py [-k name]
#
# SERVER_KIND=herald|nats-server (default nats-server); SERVER_BIN = server binary
# (default: /usr/sbin/nats-server, or bazel-bin/server/herald for herald).
# Prints per-suite results and, as the last line, "N passed, N failed".
# Exit status is non-zero if anything failed.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/tests/suites/lib.sh"
runner_init integration "js go proto"
for s in $SUITES; do
  case "$s" in
    js) run_node_suite js "$ROOT/tests/js" "${JS_TIMEOUT:-300}" ;;
    go) run_go_suite go "$ROOT/tests/go" "${GO_TIMEOUT:-300}" ;;
    proto) run_py_suite proto tests/integration/protocol_test.py "${PY_TIMEOUT:-300}" ;;
    *) echo "unknown suite $s" >&2; record "$s" 0 1 "(unknown suite)" ;;
  esac
done
runner_finish
