#!/usr/bin/env bash
# Writes the generated figures of docs/reliability.md from chaos result files.
#
#   tests/chaos/report.sh [--doc FILE] [--build TEXT] [--note TEXT] [--section NAME] DIR_OR_JSON...
#
# Each argument is a result JSON file or a run.sh --out directory (its
# run*.json files are taken). The text between the markers
#   <!-- BEGIN GENERATED: chaos figures ... -->  and  <!-- END GENERATED: chaos figures -->
# in the doc (default docs/reliability.md) is replaced; the rest of the file is
# kept (--section NAME: the section between "<!-- BEGIN GENERATED: chaos figures
# NAME -->" and "<!-- END GENERATED: chaos figures NAME -->" instead; the
# doc's netns and disk runs use NAME netns-disk). --doc - prints the section instead. The header names the date, the
# commit (git HEAD of this repository, "+dirty" with local changes), the
# machine's cores and CPU, and --build (how the server was built).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOC="$ROOT/docs/reliability.md" BUILDNOTE="" NOTE="" SECTION=""
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --doc) DOC="$2"; shift ;;
    --build) BUILDNOTE="$2"; shift ;;
    --note) NOTE="$2"; shift ;;
    --section) SECTION="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *)
      if [ -d "$1" ]; then
        for f in "$1"/*.json; do [ -e "$f" ] && files+=("$f"); done
      else
        files+=("$1")
      fi ;;
  esac
  shift
done
[ "${#files[@]}" -gt 0 ] || { echo "report.sh: no result files given" >&2; exit 2; }
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit+dirty"
BUILD="$(mktemp -d "${TMPDIR:-/tmp}/herald-chaos-report.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT
(cd "$ROOT/tests/chaos" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
  GOCACHE="$ROOT/tests/chaos/.gocache" go build -o "$BUILD/chaos" .)
args=(--commit "$commit" --build "$BUILDNOTE" --note "$NOTE" --section "$SECTION")
[ "$DOC" = - ] || args+=(--doc "$DOC")
"$BUILD/chaos" report "${args[@]}" "${files[@]}"
