#!/usr/bin/env bash
# Raft integration: three raft_node processes (NodeHost + gRPC transport +
# RocksDB with fsync) on loopback, SIGKILLed and restarted in a loop while four
# clients write; passes if every acknowledged write is on every node and the
# nodes agree (tests/raft/kill_restart_test.cc). Bounded: ~45 s of run time
# plus the build; the test itself is killed after 170 s.
#
# Environment: KILL_SECONDS (default 40), RAFT_GROUPS (default 2), SEED.
# Last line: "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
work=$(mktemp -d)
if ! timeout 900 bazel build //tests/raft:raft_node //tests/raft:kill_restart_test \
    >"$work/build.log" 2>&1; then
  tail -30 "$work/build.log"
  echo "raft integration: build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
# Copy the binaries out: bazel-bin is re-pointed by the next build with other flags.
cp bazel-bin/tests/raft/raft_node bazel-bin/tests/raft/kill_restart_test "$work/"
KILL_SECONDS="${KILL_SECONDS:-40}" RAFT_NODE_BIN="$work/raft_node" TEST_TMPDIR="$work" \
  timeout -s KILL 170 "$work/kill_restart_test" 2>&1 | tail -20
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ]; then
  rm -rf "$work"
  echo "1 passed, 0 failed"
else
  for f in "$work"/kill_restart_*/n*.log; do
    echo "--- $f (last lines)"
    tail -5 "$f"
  done
  echo "raft integration: kill_restart_test exited with $rc (data and logs kept in $work)"
  echo "0 passed, 1 failed"
  exit 1
fi
