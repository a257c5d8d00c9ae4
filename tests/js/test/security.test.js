'use strict';
// Security with the official nats.js v2 client: nkeys, TLS (server-only and
// mutual, certificates made with the openssl CLI), subject permissions (no
// delivery outside them, subscription refusal surfaces on the subscription),
// and Herald's OIDC tokens (RS256 signed by the test, checked against a JWKS
// file). Token and user/password are in auth_limits.test.js.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { connect, StringCodec, ErrorCode, nkeys, nkeyAuthenticator } = require('nats');
const { startServer, withLog, within, stopAndCheck, SERVER_KIND } = require('../lib/server');
const { collector } = require('../lib/util');

const sc = StringCodec();

function ST(name, serverOpts, fn, opts = {}) {
  test(name, { timeout: 30000, skip: opts.skip }, async (t) => {
    let srv;
    const conns = [];
    const open = async (o = {}) => {
      const nc = await connect({ servers: srv.url, timeout: 5000, ...o });
      conns.push(nc);
      return nc;
    };
    try {
      srv = await startServer(typeof serverOpts === 'function' ? serverOpts() : serverOpts);
      await withLog(() => srv, (tt) => fn(tt, srv, open))(t);
      for (const nc of conns) if (!nc.isClosed()) await nc.close().catch(() => {});
      const s = srv;
      srv = null;
      await stopAndCheck(s);
    } finally {
      for (const nc of conns) if (!nc.isClosed()) await nc.close().catch(() => {});
      if (srv) await srv.stop();
    }
  });
}

async function rejectsWithAuth(p) {
  await assert.rejects(within(p, 5000, 'connect'), (err) => {
    assert.equal(err.code, ErrorCode.AuthorizationViolation, `code=${err.code} msg=${err.message}`);
    return true;
  });
}

// --- nkeys -----------------------------------------------------------------
const alice = nkeys.createUser();
const mallory = nkeys.createUser();

ST('nkey user: signed nonce accepted, other key rejected', {
  config: `authorization {\n  users = [\n    { nkey: "${alice.getPublicKey()}" }\n  ]\n}\n`,
}, async (t, srv, open) => {
  const nc = await open({ authenticator: nkeyAuthenticator(alice.getSeed()) });
  assert.ok(nc.info.nonce, 'INFO carries a nonce');
  const c = collector(nc, 'nk.t');
  await nc.flush();
  nc.publish('nk.t', sc.encode('hi'));
  await c.wait(1);
  await rejectsWithAuth(connect({ servers: srv.url, reconnect: false,
    authenticator: nkeyAuthenticator(mallory.getSeed()) }));
  await rejectsWithAuth(connect({ servers: srv.url, reconnect: false }));
});

// --- TLS -------------------------------------------------------------------
function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-js-tls-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3', '-subj', '/CN=ca');
  for (const [name, subj, san] of [['server', '/CN=localhost', 'IP:127.0.0.1,DNS:localhost'],
    ['client', '/CN=client', 'email:client@example.com']]) {
    run('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '3', '-extfile', `${name}.ext`);
  }
  return dir;
}
const certs = makeCerts();
const tlsBlock = (extra = '') => `tls {\n  cert_file: "${certs}/server.pem"\n  key_file: "${certs}/server.key"\n` +
  `  ca_file: "${certs}/ca.pem"\n${extra}}\n`;

ST('TLS: client upgrades after INFO; plaintext client refused', { config: tlsBlock() }, async (t, srv, open) => {
  const nc = await open({ tls: { caFile: `${certs}/ca.pem` } });
  assert.equal(nc.info.tls_required, true);
  const c = collector(nc, 'tls.t');
  await nc.flush();
  nc.publish('tls.t', sc.encode('secret'));
  await c.wait(1);
  assert.equal(sc.decode(c.msgs[0].data), 'secret');
  await assert.rejects(within(connect({ servers: srv.url, reconnect: false, tls: null }), 5000, 'plain connect'));
});

ST('mutual TLS: client certificate required', { config: tlsBlock('  verify: true\n') }, async (t, srv, open) => {
  const nc = await open({ tls: { caFile: `${certs}/ca.pem`, certFile: `${certs}/client.pem`, keyFile: `${certs}/client.key` } });
  await nc.flush();
  await assert.rejects(within((async () => {
    const bad = await connect({ servers: srv.url, reconnect: false, tls: { caFile: `${certs}/ca.pem` } });
    await bad.flush();
  })(), 5000, 'connect without client certificate'));
});

// --- permissions -------------------------------------------------------------
const permsConf = 'authorization {\n  users = [\n' +
  '    { user: pub, password: p, permissions: { publish: { allow: ["public.>"], deny: ["public.secret"] } } }\n' +
  '    { user: sub, password: s, permissions: { subscribe: { allow: ["public.>"] } } }\n' +
  '    { user: admin, password: a }\n  ]\n}\n';

ST('permissions: denied publishes are not delivered; denied subscription errors', { config: permsConf }, async (t, srv, open) => {
  const admin = await open({ user: 'admin', pass: 'a' });
  const all = collector(admin, '>');
  await admin.flush();
  const pub = await open({ user: 'pub', pass: 'p' });
  pub.publish('public.secret', sc.encode('no'));
  pub.publish('private.x', sc.encode('no'));
  pub.publish('public.ok', sc.encode('yes'));
  await pub.flush();
  await all.wait(1);
  await admin.flush();
  assert.deepEqual(all.msgs.map((m) => m.subject), ['public.ok']);

  const sub = await open({ user: 'sub', pass: 's' });
  const denied = sub.subscribe('private.>');
  const done = (async () => { for await (const _ of denied) { /* none expected */ } })();
  await assert.rejects(within(done, 5000, 'denied subscription'), (err) => {
    assert.equal(err.code, ErrorCode.PermissionsViolation, `code=${err.code} msg=${err.message}`);
    return true;
  });
  // A wildcard the user may hold never carries subjects outside its permission.
  const ok = collector(sub, 'public.*');
  await sub.flush();
  admin.publish('public.a', sc.encode('1'));
  await admin.flush();
  await ok.wait(1);
  assert.equal(sub.isClosed(), false, 'a permission violation keeps the connection open');
});

// --- OIDC (Herald) -------------------------------------------------------------
function b64url(buf) { return Buffer.from(buf).toString('base64url'); }
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = rsa.publicKey.export({ format: 'jwk' });
const jwksDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-js-oidc-'));
fs.writeFileSync(path.join(jwksDir, 'jwks.json'), JSON.stringify({ keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] }));
function token(claims, key = rsa.privateKey) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', kid: 'k1', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ iss: 'https://idp.test', aud: 'herald', sub: 'alice', iat: now, exp: now + 300, groups: ['readers'], ...claims }));
  const sig = crypto.sign('sha256', Buffer.from(`${header}.${body}`), key);
  return `${header}.${body}.${b64url(sig)}`;
}
const oidcConf = () => ({ config: `oidc {\n  issuer: "https://idp.test"\n  audience: "herald"\n  jwks_file: "${jwksDir}/jwks.json"\n` +
  '  role_claim: groups\n  roles { readers: reader }\n  skew: "5s"\n}\n' +
  'authorization {\n  failure_delay: "10ms"\n  permission_sets {\n    reader: { publish: { allow: ["ro.>"] }, subscribe: { allow: ["ro.>", "_INBOX.>"] } }\n  }\n}\n' });

ST('OIDC: IdP token as the client token; bad tokens rejected', oidcConf, async (t, srv, open) => {
  const nc = await open({ token: token({}) });
  const c = collector(nc, 'ro.t');
  await nc.flush();
  nc.publish('ro.t', sc.encode('ok'));
  await c.wait(1);
  const now = Math.floor(Date.now() / 1000);
  const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cases = {
    expired: token({ exp: now - 60 }),
    'wrong audience': token({ aud: 'someone-else' }),
    'wrong key': token({}, other.privateKey),
    'alg none': `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${token({}).split('.')[1]}.`,
    'tampered payload': token({}).replace(/\.([^.]+)\./, (_, p) => `.${b64url(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), groups: ['admins'] }))}.`),
  };
  for (const [what, bad] of Object.entries(cases)) {
    await rejectsWithAuth(connect({ servers: srv.url, token: bad, reconnect: false, timeout: 5000 }))
      .catch((e) => { throw new Error(`${what}: ${e.message}`); });
  }
}, { skip: SERVER_KIND !== 'herald' && 'OIDC is a Herald feature' });
