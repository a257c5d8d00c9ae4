#!/usr/bin/env bash
# Security real-client suite (tests/security, nats.go in GOPATH mode):
# nkeys, bcrypt, permissions, no-escape, revocation file, reload, OIDC.
# Builds //server:herald, copies the binary into a private temp dir, runs the
# Go tests and ends with the line "N passed, N failed" (leaf test cases;
# skipped cases are counted in neither).
#
# Env: SERVER_KIND=nats-server runs against /usr/sbin/nats-server (Herald-only
# tests skip); SERVER_BIN=/path skips the build.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || { echo "0 passed, 1 failed"; exit 1; }
KIND="${SERVER_KIND:-herald}"
BIN="${SERVER_BIN:-}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/herald-security-suite.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
. "$ROOT/tests/suites/lib.sh"

if [ "$KIND" = herald ] && [ -z "$BIN" ]; then
  echo "== bazel build //server:herald"
  BIN="$(herald_copy "$TMP")" || { echo "0 passed, 1 failed"; exit 1; }
fi
[ -z "$BIN" ] && BIN=/usr/sbin/nats-server

echo "== tests/security against $KIND ($BIN)"
cd tests/security || { echo "0 passed, 1 failed"; exit 1; }
GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$PWD/.gocache" \
  SERVER_KIND="$KIND" SERVER_BIN="$BIN" TMPDIR="$TMP" \
  timeout -k 5 170 go test -json -count=1 -timeout 160s . >"$TMP/test.json" 2>"$TMP/test.err"
rc=$?
python3 - "$TMP/test.json" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
res, out = {}, {}
for line in open(path, errors="replace"):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    t = ev.get("Test")
    if not t:
        if ev.get("Action") == "output":
            out.setdefault("", []).append(ev["Output"])
        continue
    if ev["Action"] in ("pass", "fail", "skip"):
        res[t] = ev["Action"]
    elif ev["Action"] == "output":
        out.setdefault(t, []).append(ev["Output"])
names = sorted(res)
leaves = [n for n in names if not any(m.startswith(n + "/") for m in names)]
for n in leaves:
    print("%-4s %s" % (res[n].upper(), n))
    for l in out.get(n, []):
        if "MEASURED" in l:
            print("       " + l.strip())
failed = [n for n in leaves if res[n] == "fail"]
for n in failed:
    print("\n----- %s -----" % n)
    # The test's own messages first: a server log dumped at the end would
    # otherwise push them out of the tail CI keeps.
    for l in out.get(n, []):
        if "_test.go:" in l:
            print("  " + l.rstrip())
    print("".join(out.get(n, []))[-6000:])
p = sum(1 for n in leaves if res[n] == "pass")
f = len(failed)
if rc != 0 and f == 0:
    print("".join(out.get("", []))[-3000:])
    f = 1  # build error, panic or timeout
print("%d passed, %d failed" % (p, f))
PY
pyrc=$?
if [ $pyrc -ne 0 ]; then cat "$TMP/test.err" | tail -20; echo "0 passed, 1 failed"; exit 1; fi
[ $rc -eq 0 ]
