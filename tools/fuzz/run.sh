#!/usr/bin/env bash
# Builds every fuzz target of tools/fuzz/targets.txt with libFuzzer + ASan +
# UBSan and runs each for a bounded time.
#
#   tools/fuzz/run.sh [seconds_per_target] [target_name ...]
#
# Default 20 seconds per target, all targets. Output goes to .fuzz/
# (gitignored): binaries, a growing corpus per target, crash artifacts and
# logs. Prints "fuzz <name>: PASS" or "fuzz <name>: FAIL" per target and
# exits non-zero if any target failed to build or found a crash.
# FUZZ_TARGETS=<file> reads another target list (used to test this script).
set -u -o pipefail

cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-20}
shift || true
ONLY=("$@")

if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
  echo "usage: $0 [seconds_per_target] [target_name ...]" >&2
  exit 2
fi

TARGETS=${FUZZ_TARGETS:-tools/fuzz/targets.txt}
CXX=${CXX:-clang++-14}
OUT="$ROOT/.fuzz"
mkdir -p "$OUT"

# The Abseil link list, reused from the Bazel system library definitions.
mapfile -t LIBS < <(grep -oE '"-l(absl_[a-z0-9_]+|rt|atomic)"' third_party/system/system.BUILD |
  tr -d '"' | awk '!seen[$0]++')

FLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -I"$ROOT")

failed=0
while read -r name rest; do
  [ -z "${name:-}" ] && continue
  case "$name" in \#*) continue ;; esac
  if [ ${#ONLY[@]} -gt 0 ] && ! printf '%s\n' "${ONLY[@]}" | grep -qx -- "$name"; then
    continue
  fi
  srcs=()
  seeds=()
  extra=()
  defines=()
  dict=()
  for tok in $rest; do
    case "$tok" in
      seed=*) [ -d "${tok#seed=}" ] && seeds+=("$ROOT/${tok#seed=}") ;;
      dict=*) dict=(-dict="$ROOT/${tok#dict=}") ;;
      -l*) extra+=("$tok") ;;
      -D*) defines+=("$tok") ;;
      *) srcs+=("$tok") ;;
    esac
  done

  bin="$OUT/$name"
  log="$OUT/$name.log"
  if ! "$CXX" "${FLAGS[@]}" "${defines[@]}" "${srcs[@]}" -o "$bin" "${extra[@]}" "${LIBS[@]}" >"$OUT/$name.build.log" 2>&1; then
    echo "fuzz $name: FAIL (build, see .fuzz/$name.build.log)"
    tail -n 20 "$OUT/$name.build.log" >&2
    failed=1
    continue
  fi

  corpus="$OUT/corpus/$name"
  artifacts="$OUT/artifacts/$name"
  mkdir -p "$corpus" "$artifacts"
  # -timeout: one input may not take longer than 10 s; -rss_limit_mb bounds
  # memory. The working corpus comes first so that new inputs land there.
  if "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" "${seeds[@]}" \
      >"$log" 2>&1; then
    echo "fuzz $name: PASS ($(grep -a -oE 'stat::number_of_executed_units: *[0-9]+' "$log" |
      tail -n 1 | grep -oE '[0-9]+$') runs)"
  else
    echo "fuzz $name: FAIL (see .fuzz/$name.log; artifacts in .fuzz/artifacts/$name/)"
    grep -a -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 10 >&2
    failed=1
  fi
done <"$TARGETS"

exit "$failed"
