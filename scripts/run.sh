#!/usr/bin/env bash
# Installs what is missing, builds herald (optimized) and runs it in the
# foreground: clients on 127.0.0.1:4222, monitoring on http://127.0.0.1:8222.
# Stop it with Ctrl-C (SIGINT) or `kill <pid>`; data lives under ./data.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
bazel build -c opt //server:herald
mkdir -p data
exec bazel-bin/server/herald -c deploy/single.conf "$@"
