'use strict';
// Auth, payload limits and reconnect with the official nats.js v2 client.
// Each test starts its own server (with the flags/config it needs).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { connect, StringCodec, ErrorCode, Events } = require('nats');
const { startServer, withLog, waitFor, within, stopAndCheck } = require('../lib/server');
const { collector } = require('../lib/util');

const sc = StringCodec();

// Run fn with a fresh server; always stop it; print its log on failure.
function ST(name, serverOpts, fn) {
  test(name, { timeout: 30000 }, async (t) => {
    let srv;
    const conns = [];
    const open = async (opts = {}) => {
      const nc = await connect({ servers: srv.url, timeout: 5000, ...opts });
      conns.push(nc);
      return nc;
    };
    try {
      srv = await startServer(serverOpts);
      await withLog(() => srv, (tt) => fn(tt, srv, open))(t);
      for (const nc of conns) if (!nc.isClosed()) await nc.close().catch(() => {});
      const s = srv;
      srv = null;
      await stopAndCheck(s); // sanitizer reports at shutdown fail the test
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

ST('auth token: correct token connects, wrong/missing token rejected', { args: ['--auth', 's3cr3t'] }, async (t, srv, open) => {
  const nc = await open({ token: 's3cr3t' });
  assert.equal(nc.info.auth_required, true);
  const c = collector(nc, 'auth.t');
  await nc.flush();
  nc.publish('auth.t', sc.encode('ok'));
  await c.wait(1);
  await rejectsWithAuth(connect({ servers: srv.url, token: 'wrong', reconnect: false }));
  await rejectsWithAuth(connect({ servers: srv.url, reconnect: false }));
});

ST('auth user/pass: correct credentials connect, wrong rejected', { args: ['--user', 'alice', '--pass', 'pw1'] }, async (t, srv, open) => {
  const nc = await open({ user: 'alice', pass: 'pw1' });
  assert.equal(nc.info.auth_required, true);
  const r = collector(nc, 'up.t');
  await nc.flush();
  nc.publish('up.t');
  await r.wait(1);
  await rejectsWithAuth(connect({ servers: srv.url, user: 'alice', pass: 'bad', reconnect: false }));
  await rejectsWithAuth(connect({ servers: srv.url, user: 'bob', pass: 'pw1', reconnect: false }));
  await rejectsWithAuth(connect({ servers: srv.url, reconnect: false }));
});

ST('auth from config file: authorization { users [...] }', {
  config: 'authorization {\n  users = [\n    {user: "u1", password: "p1"}\n    {user: "u2", password: "p2"}\n  ]\n}\n',
}, async (t, srv, open) => {
  const a = await open({ user: 'u1', pass: 'p1' });
  const b = await open({ user: 'u2', pass: 'p2' });
  const c = collector(b, 'cfg.auth');
  await b.flush();
  a.publish('cfg.auth', sc.encode('x'));
  await c.wait(1);
  await rejectsWithAuth(connect({ servers: srv.url, user: 'u1', pass: 'p2', reconnect: false }));
});

ST('max payload: INFO advertises config value; client refuses larger publish', { config: 'max_payload: 1024\n' }, async (t, srv, open) => {
  const nc = await open();
  assert.equal(nc.info.max_payload, 1024);
  const c = collector(nc, 'mp.t');
  await nc.flush();
  nc.publish('mp.t', new Uint8Array(1024)); // exactly max is fine
  await c.wait(1);
  assert.equal(c.msgs[0].data.length, 1024);
  assert.throws(() => nc.publish('mp.t', new Uint8Array(1025)), (err) => err.code === ErrorCode.MaxPayloadExceeded);
  assert.ok(!nc.isClosed());
});

ST('max payload: raw oversized PUB gets -ERR Maximum Payload Violation and close', { config: 'max_payload: 1024\n' }, async (t, srv) => {
  const sock = net.connect({ host: '127.0.0.1', port: srv.port });
  let buf = '';
  let closed = false;
  sock.on('data', (d) => { buf += d.toString('latin1'); });
  sock.on('close', () => { closed = true; });
  sock.on('error', () => {});
  try {
    await waitFor(() => buf.includes('\r\n'), 3000, 'INFO');
    assert.match(buf, /^INFO \{/);
    const info = JSON.parse(buf.slice(5, buf.indexOf('\r\n')).trim());
    assert.equal(info.max_payload, 1024);
    sock.write('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n');
    await waitFor(() => buf.includes('PONG\r\n'), 3000, 'PONG');
    sock.write('PUB foo 2000\r\n');
    await waitFor(() => closed, 3000, 'server to close the connection');
    assert.ok(buf.includes("-ERR 'Maximum Payload Violation'\r\n"), `got: ${JSON.stringify(buf)}`);
  } finally {
    sock.destroy();
  }
});

ST('reconnect: subscription keeps working after server restart on same port', {}, async (t, srv, open) => {
  const nc = await open({ reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100, reconnectJitter: 0 });
  const events = [];
  (async () => { for await (const s of nc.status()) events.push(s.type); })().catch(() => {});
  const c = collector(nc, 'rc.t');
  const q = collector(nc, 'rc.q', { queue: 'g' });
  const limited = collector(nc, 'rc.max');
  limited.sub.unsubscribe(3);
  await nc.flush();
  const p1 = await open();
  p1.publish('rc.t', sc.encode('before'));
  p1.publish('rc.max', sc.encode('1'));
  await p1.flush();
  await c.wait(1);
  await limited.wait(1);
  await p1.close();
  const firstId = nc.info.server_id;

  await srv.stop();
  await waitFor(() => events.includes(Events.Disconnect), 5000, 'disconnect event');
  await srv.start();
  await waitFor(() => events.includes(Events.Reconnect), 10000, `reconnect event (events: ${events})`);
  await within(nc.flush(), 5000, 'flush after reconnect');

  const p2 = await open();
  p2.publish('rc.t', sc.encode('after'));
  p2.publish('rc.q', sc.encode('q-after'));
  for (let i = 2; i <= 5; i++) p2.publish('rc.max', sc.encode(String(i)));
  await p2.flush();
  await c.wait(2).catch((e) => { e.message += ` got=${c.msgs.map((m) => sc.decode(m.data))}`; throw e; });
  await q.wait(1);
  await limited.wait(3);
  await nc.flush();
  assert.deepEqual(c.msgs.map((m) => sc.decode(m.data)), ['before', 'after']);
  assert.equal(sc.decode(q.msgs[0].data), 'q-after');
  // the remaining max (2) was re-sent with the subscription
  assert.deepEqual(limited.msgs.map((m) => sc.decode(m.data)), ['1', '2', '3']);
  assert.notEqual(nc.info.server_id, undefined);
  t.diagnostic(`server_id before=${firstId} after=${nc.info.server_id}`);
  // requests work through the reconnected connection too
  nc.subscribe('rc.svc', { callback: (e, m) => m.respond(sc.encode('pong')) });
  await nc.flush(); // the SUB must reach the server before p2 asks, or the answer is 503
  const r = await p2.request('rc.svc', sc.encode('ping'), { timeout: 3000 });
  assert.equal(sc.decode(r.data), 'pong');
});
