#!/usr/bin/env bash
# Stops the local cluster started by scripts/run.sh (SIGTERM, then SIGKILL
# after 10 s), by the PIDs in data/n*/herald.pid.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
for f in data/n*/herald.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$f"
  echo "stopped $pid"
done
