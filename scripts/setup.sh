#!/usr/bin/env bash
# Installs everything Herald needs to build, run and test on Debian 12, from
# Debian's packages and (for the nats.js tests) the npm registry. Idempotent:
# does nothing when all is present. Needs root (or sudo) for apt-get.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java
  g++ libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libasio-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcpp-httplib-dev libgoogle-perftools-dev
  clang-14 libclang-rt-14-dev
  golang-go golang-github-nats-io-go-nats-dev
  nats-server python3 iproute2 procps curl
  iptables faketime
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js may come from elsewhere than Debian (the machine image ships v20 with
# its own npm); only ask apt for it when the commands are missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# nats.js for the integration tests, pinned by tests/js/package-lock.json.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--tests" ] && [ -f "$ROOT/tests/js/package-lock.json" ] && [ ! -d "$ROOT/tests/js/node_modules/nats" ]; then
  echo "setup: npm ci in tests/js"
  (cd "$ROOT/tests/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
# nats.js for the JetStream suites, pinned by tests/jetstream/js/package-lock.json (same version).
if [ "${1:-}" = "--tests" ] && [ -f "$ROOT/tests/jetstream/js/package-lock.json" ] && [ ! -d "$ROOT/tests/jetstream/js/node_modules/nats" ]; then
  echo "setup: npm ci in tests/jetstream/js"
  (cd "$ROOT/tests/jetstream/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
# nats.js for the chaos workload's JS clients, pinned by tests/chaos/js/package-lock.json (same version).
if [ "${1:-}" = "--tests" ] && [ -f "$ROOT/tests/chaos/js/package-lock.json" ] && [ ! -d "$ROOT/tests/chaos/js/node_modules/nats" ]; then
  echo "setup: npm ci in tests/chaos/js"
  (cd "$ROOT/tests/chaos/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
