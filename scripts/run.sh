#!/usr/bin/env bash
# Installs what is missing, builds herald (optimized) and starts a local
# 3-node cluster in the background:
#   clients     nats://127.0.0.1:4222, :4223, :4224
#   monitoring  http://127.0.0.1:8222, :8223, :8224
#   routes      127.0.0.1:6222, :6223, :6224
#   admin API   127.0.0.1:7222, :7223, :7224 (data/bin/heraldctl)
# Logs, PID files and data live under ./data/. Stop it with scripts/stop.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
bazel build -c opt //server:herald //tools/heraldctl:heraldctl
OUT="$(bazel info -c opt output_path)/k8-opt/bin"
mkdir -p data/bin
cp -f "$OUT/server/herald" data/bin/herald
cp -f "$OUT/tools/heraldctl/heraldctl" data/bin/heraldctl
scripts/stop.sh >/dev/null 2>&1 || true
for i in 1 2 3; do
  mkdir -p "data/n$i"
  data/bin/herald -c "deploy/n$i.conf" -P "data/n$i/herald.pid" "$@" >"data/n$i/herald.log" 2>&1 &
done
# Wait (bounded) until every node answers /healthz and has routes to the other two.
for i in 1 2 3; do
  port=$((8221 + i))
  ok=0
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/routez" 2>/dev/null | grep -q '"num_routes": 2'; then ok=1; break; fi
    sleep 0.1
  done
  if [ "$ok" != 1 ]; then echo "node n$i did not join the cluster; see data/n$i/herald.log"; exit 1; fi
done
# And until JetStream has elected its metadata leader (healthz checks it).
for i in 1 2 3; do
  port=$((8221 + i))
  ok=0
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/healthz?js-server-only=true" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
  done
  if [ "$ok" != 1 ]; then echo "node n$i: JetStream not ready; see data/n$i/herald.log"; exit 1; fi
done
echo "Herald cluster running: clients on nats://127.0.0.1:4222,4223,4224; monitoring on :8222-8224"
echo "Logs: data/n*/herald.log. Stop: scripts/stop.sh"
