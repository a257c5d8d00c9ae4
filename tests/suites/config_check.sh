#!/usr/bin/env bash
# `herald -t -c FILE` against good and bad configuration files (issue 9):
#  * -t refuses what start-up refuses, with the message start-up prints
#    (each refused file is also started for real, which must fail with the
#    same message before it listens);
#  * unknown keys are errors naming file:line, as nats-server 2.9.10 says
#    them (when nats-server is installed, it checks the same files and its
#    message, without the column, must be Herald's);
#  * missing or broken files a config names (certificate, key, CA, JWKS,
#    revocation list) fail -t.
# Ends with the line "N passed, N failed".
#
# Env: SERVER_BIN=/path/to/herald skips the build; NATS_SERVER=/path (default:
# nats-server on PATH, skipped when absent).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || { echo "0 passed, 1 failed"; exit 1; }
TMP="$(mktemp -d "${TMPDIR:-/tmp}/herald-config-check.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
. "$ROOT/tests/suites/lib.sh"

BIN="${SERVER_BIN:-}"
if [ -z "$BIN" ]; then
  echo "== bazel build //server:herald"
  BIN="$(herald_copy "$TMP")" || { echo "0 passed, 1 failed"; exit 1; }
fi
NATS="${NATS_SERVER:-$(command -v nats-server || true)}"
echo "== herald -t: $BIN; nats-server: ${NATS:-absent}"

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() {
  fail=$((fail + 1))
  echo "FAIL $1"
  shift
  printf '    %s\n' "$@"
}

# Files are written to and checked from $TMP, so messages name them
# relatively ("bad.conf:2: ...") and can be compared whole.
cd "$TMP" || exit 1
conf() { # name lines...
  local name="$1"
  shift
  printf '%s\n' "$@" >"$name.conf"
}

# --- Material: a certificate and key, another key, a JWKS, a revocation list.
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
  -subj /CN=localhost >/dev/null 2>&1
openssl genrsa -out other-key.pem 2048 >/dev/null 2>&1
python3 - <<'PY'
import base64, json, subprocess
mod = subprocess.run(["openssl", "rsa", "-in", "key.pem", "-noout", "-modulus"],
                     capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key = {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
       "n": b64(bytes.fromhex(mod)), "e": "AQAB"}
json.dump({"keys": [key]}, open("jwks.json", "w"))
json.dump({"keys": []}, open("empty-jwks.json", "w"))
PY
echo '{"users": []}' >revoked.json
echo '{"userz": []}' >bad-revoked.json
for f in cert.pem key.pem other-key.pem jwks.json; do
  [ -s "$f" ] || { bad "test material: $f not created"; echo "$pass passed, $fail failed"; exit 1; }
done

# expect_valid NAME [flags...]: -t exits 0 and says the file is valid.
expect_valid() {
  local name="$1"
  shift
  local out rc
  out="$("$BIN" -t -c "$name.conf" "$@" 2>&1)"
  rc=$?
  if [ "$rc" = 0 ] && [[ "$out" == *"configuration file $name.conf is valid"* ]]; then
    ok "valid: $name $*"
  else
    bad "valid: $name $*" "rc=$rc" "$out"
  fi
}

# expect_refused NAME MESSAGE [flags...]: -t exits 1 printing exactly
# "herald: MESSAGE" (after any warnings), and so does a real start, before
# it listens (its log line carries MESSAGE).
expect_refused() {
  local name="$1" want="$2"
  shift 2
  local out rc errors
  out="$("$BIN" -t -c "$name.conf" "$@" 2>&1)"
  rc=$?
  errors="$(printf '%s\n' "$out" | grep -v '^herald: warning: ')"
  if [ "$rc" = 1 ] && [ "$errors" = "herald: $want" ]; then
    ok "-t refuses: $name"
  else
    bad "-t refuses: $name" "rc=$rc" "want: herald: $want" "got:  $out"
  fi
  # The same file started for real (loopback, any free port).
  out="$(timeout 20 "$BIN" -c "$name.conf" -a 127.0.0.1 -p -1 "$@" 2>&1)"
  rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [[ "$out" == *"$want"* ]] &&
    [[ "$out" != *"Listening for client connections"* ]]; then
    ok "start-up refuses alike: $name"
  else
    bad "start-up refuses alike: $name" "rc=$rc" "want: $want" "got:  $(printf '%s' "$out" | tail -3)"
  fi
}

# nats_agrees NAME MESSAGE: nats-server -t prints MESSAGE too (its
# "file:line:col:" read as "file:line:"); "" means it calls the file valid.
nats_agrees() {
  local name="$1" want="$2"
  [ -n "$NATS" ] || return 0
  local out rc
  out="$("$NATS" -t -c "$name.conf" 2>&1)"
  rc=$?
  if [ -z "$want" ]; then
    if [ "$rc" = 0 ]; then ok "nats-server agrees: $name valid"; else bad "nats-server agrees: $name valid" "$out"; fi
    return
  fi
  out="$(printf '%s\n' "$out" | sed -E -e '/^$/d' -e 's/^nats-server: //' -e 's/^([^:]+:[0-9]+):[0-9]+:/\1:/')"
  if [ "$rc" != 0 ] && [ "$out" = "$want" ]; then
    ok "nats-server agrees: $name"
  else
    bad "nats-server agrees: $name" "rc=$rc" "want: $want" "got:  $out"
  fi
}

# --- Valid files.
conf good \
  'server_name: n1' \
  'port: 4222' \
  'tls { cert_file: cert.pem, key_file: key.pem }' \
  'authorization { users: [ {user: a, password: b} ] }' \
  'oidc { issuer: "https://idp.example", audience: herald, jwks_file: jwks.json }' \
  'revocation_file: revoked.json' \
  'jetstream {' \
  '  store_dir: /tmp/herald-config-check-never-created' \
  '  max_memory_store: 1G' \
  '  max_file_store: 512MB' \
  '  domain: hub' \
  '}' \
  'cluster {' \
  '  name: c1' \
  '  port: -1' \
  '  raft_listen: "127.0.0.1:7422"' \
  '  tls { cert_file: cert.pem, key_file: key.pem, ca_file: cert.pem }' \
  '}'
expect_valid good

# What nats-server writes, aliases and variables included; also valid there.
conf nats_style \
  'server_name: n1' \
  'port: 4222' \
  'jetstream {' \
  '  store: /tmp/herald-config-check-never-created' \
  '  big: 2GB' \
  '  max_mem: $big' \
  '  max_file: "1G"' \
  '}' \
  'cluster {' \
  '  name: c1' \
  '  p: -1' \
  '  port: $p' \
  '  no_advertise: true' \
  '}' \
  'websocket { port: 8080, no_tls: true }'
expect_valid nats_style
nats_agrees nats_style ""

# A JetStream cluster without server_name: a flag may complete the file.
conf js_cluster 'jetstream: enabled' 'cluster { name: c1, port: -1 }'
expect_valid js_cluster -n n1

# --- Unknown keys: errors, in nats-server's words.
conf unknown_top 'port: 4222' 'frobnicate: 3'
expect_refused unknown_top 'unknown_top.conf:2: unknown field "frobnicate"'
nats_agrees unknown_top 'unknown_top.conf:2: unknown field "frobnicate"'

conf unknown_js 'jetstream {' '  store_dir: /tmp/x' '  max_memory: 1G' '}'
expect_refused unknown_js 'unknown_js.conf:3: unknown field "max_memory"'
nats_agrees unknown_js 'unknown_js.conf:3: unknown field "max_memory"'

conf unknown_cluster 'cluster {' '  port: -1' '  rotes: [ nats://127.0.0.1:6222 ]' '}'
expect_refused unknown_cluster 'unknown_cluster.conf:3: unknown field "rotes"'
nats_agrees unknown_cluster 'unknown_cluster.conf:3: unknown field "rotes"'

conf unknown_auth 'authorization {' '  user: a' '  password: b' '  timout: 2' '}'
expect_refused unknown_auth 'unknown_auth.conf:4: unknown field "timout"'
nats_agrees unknown_auth 'unknown_auth.conf:4: unknown field "timout"'

conf unknown_user 'authorization {' '  users: [' '    {user: a, pasword: b}' '  ]' '}'
expect_refused unknown_user 'unknown_user.conf:3: unknown field "pasword"'
nats_agrees unknown_user 'unknown_user.conf:3: unknown field "pasword"'

conf unknown_tls 'tls {' '  cert_file: cert.pem' '  key_file: key.pem' '  verfy: true' '}'
expect_refused unknown_tls 'unknown_tls.conf:4: error parsing tls config, unknown field ["verfy"]'
nats_agrees unknown_tls 'unknown_tls.conf:4: error parsing tls config, unknown field ["verfy"]'

# The issue's case: oidc is a top-level block, not part of authorization.
conf oidc_in_auth 'authorization {' '  token: abc' \
  '  oidc { issuer: "https://idp.example", audience: herald, jwks_file: jwks.json }' '}'
expect_refused oidc_in_auth 'oidc_in_auth.conf:3: unknown field "oidc"'
nats_agrees oidc_in_auth 'oidc_in_auth.conf:3: unknown field "oidc"'

conf revocation_in_auth 'authorization {' '  token: abc' '  revocation_file: revoked.json' '}'
expect_refused revocation_in_auth 'revocation_in_auth.conf:3: unknown field "revocation_file"'

# docs/security.md's complete example, with /etc/herald/ read as this
# directory: -t calls it valid, and a server starts on it and listens.
python3 - "$ROOT/docs/security.md" <<'PY' >secure.conf
import re, sys
doc = open(sys.argv[1]).read()
m = re.search(r"<!-- example: secure.conf -->\n```\n(.*?)```", doc, re.S)
print(m.group(1).replace("/etc/herald/", "./") if m else "")
PY
if [ -s secure.conf ]; then
  expect_valid secure
  out="$(timeout 5 "$BIN" -c secure.conf -a 127.0.0.1 -p -1 2>&1)"
  if [[ "$out" == *"Listening for client connections"* ]]; then
    ok "starts: docs/security.md example"
  else
    bad "starts: docs/security.md example" "$(printf '%s' "$out" | tail -3)"
  fi
else
  bad "docs/security.md has its example (<!-- example: secure.conf -->)"
fi

conf two_unknown 'a: 1' 'port: 4222' 'b: 2'
expect_refused two_unknown $'two_unknown.conf:1: unknown field "a"\ntwo_unknown.conf:3: unknown field "b"'

# --- JetStream values.
conf js_size_string 'jetstream {' '  max_file_store: "1GB"' '}'
expect_refused js_size_string 'js_size_string.conf:2: max_file_store strconv.ParseInt: parsing "1G": invalid syntax'
nats_agrees js_size_string 'js_size_string.conf:2: max_file_store strconv.ParseInt: parsing "1G": invalid syntax'

conf js_negative 'jetstream { max_mem: -5 }'
expect_refused js_negative 'js_negative.conf:1: max_mem_store can not be negative (-1 means no limit), got -5'

conf js_domain 'jetstream {' '  domain: "a.b"' '}'
expect_refused js_domain 'js_domain.conf:2: invalid domain name: may not contain ., * or >'

expect_refused js_cluster 'jetstream cluster requires `server_name` to be set'

# --- Files the config names.
conf tls_missing 'tls { cert_file: missing.pem, key_file: key.pem }'
expect_refused tls_missing 'tls: cannot load cert_file missing.pem'

conf tls_mismatch 'tls { cert_file: cert.pem, key_file: other-key.pem }'
expect_refused tls_mismatch 'tls: cannot load key_file other-key.pem'  # OpenSSL checks the pair

conf cluster_ca_missing 'cluster {' '  port: -1' \
  '  tls { cert_file: cert.pem, key_file: key.pem, ca_file: missing-ca.pem }' '}'
expect_refused cluster_ca_missing 'cluster tls: cannot load ca_file missing-ca.pem'

conf jwks_missing 'oidc { issuer: "https://idp.example", audience: herald, jwks_file: missing-jwks.json }'
expect_refused jwks_missing 'oidc jwks_file missing-jwks.json: No such file or directory'

conf jwks_empty 'oidc { issuer: "https://idp.example", audience: herald, jwks_file: empty-jwks.json }'
expect_refused jwks_empty 'oidc jwks_file empty-jwks.json: jwks: no usable RS256/ES256 key'

conf revocation_missing 'revocation_file: missing-revoked.json'
expect_refused revocation_missing 'revocation_file missing-revoked.json: No such file or directory'

conf revocation_bad 'revocation_file: bad-revoked.json'
out="$("$BIN" -t -c revocation_bad.conf 2>&1)"
if [ $? = 1 ] && [[ "$out" == "herald: revocation_file bad-revoked.json: "* ]]; then
  ok "-t refuses: revocation_bad"
else
  bad "-t refuses: revocation_bad" "$out"
fi

conf https_without_tls 'https_port: 8443'
expect_refused https_without_tls 'https_port needs a tls { cert_file, key_file } block'

# -t needs a file, as nats-server says.
out="$("$BIN" -t 2>&1)"
if [ $? = 1 ] && [ "$out" = "herald: must specify [-c, --config] option to check configuration file syntax" ]; then
  ok "-t without -c"
else
  bad "-t without -c" "$out"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
