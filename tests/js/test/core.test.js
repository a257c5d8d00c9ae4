'use strict';
// Core pub/sub behaviour with the official nats.js v2 client.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect, StringCodec, headers, ErrorCode, createInbox } = require('nats');
const { stopAndCheck, startServer, withLog, waitFor, within, sleep, SERVER_KIND } = require('../lib/server');
const { collector, drainAll } = require('../lib/util');

const sc = StringCodec();
let srv;
const conns = [];
const T = (name, fn) => test(name, { timeout: 30000 }, withLog(() => srv, fn));

async function conn(opts = {}) {
  const nc = await connect({ servers: srv.url, timeout: 5000, ...opts });
  conns.push(nc);
  return nc;
}
// Flush publishers first, then subscribers: after this every message
// published before the call has been delivered to the subscriber clients.
async function settle(...ncs) { for (const nc of ncs) await within(nc.flush(), 5000, 'flush'); }

before(async () => { srv = await startServer(); });
after(async () => {
  for (const nc of conns) { if (!nc.isClosed()) await nc.close().catch(() => {}); }
  if (srv) await srv.stop();
});

T('connect: INFO fields (version semver, headers, max_payload, proto)', async () => {
  const nc = await conn();
  const info = nc.info;
  assert.ok(info, 'info present');
  assert.match(info.version, /^\d+\.\d+\.\d+/, `version semver: ${info.version}`);
  assert.equal(info.headers, true);
  assert.equal(info.max_payload, 1048576);
  assert.ok(info.proto >= 1, 'proto >= 1');
  assert.equal(typeof info.server_id, 'string');
  assert.ok(info.server_id.length > 0);
  assert.equal(typeof info.client_id, 'number');
  assert.ok(!info.auth_required, 'no auth required');
  assert.equal(nc.getServer(), `127.0.0.1:${srv.port}`);
  await nc.close();
  assert.ok(nc.isClosed());
  console.log(`server kind=${SERVER_KIND} version=${info.version}`);
});

T('pub/sub: basic delivery of payloads, subject and sid', async () => {
  const nc = await conn();
  const c = collector(nc, 'ps.basic');
  for (let i = 0; i < 5; i++) nc.publish('ps.basic', sc.encode(`m${i}`));
  nc.publish('ps.other', sc.encode('nope'));
  await c.wait(5);
  await settle(nc);
  assert.deepEqual(c.msgs.map((m) => sc.decode(m.data)), ['m0', 'm1', 'm2', 'm3', 'm4']);
  for (const m of c.msgs) { assert.equal(m.subject, 'ps.basic'); assert.equal(m.reply, ''); }
  // empty payload
  nc.publish('ps.basic');
  await c.wait(6);
  assert.equal(c.msgs[5].data.length, 0);
});

T('pub/sub: across connections', async () => {
  const pub = await conn();
  const subc = await conn();
  const c = collector(subc, 'ps.cross');
  await settle(subc);
  pub.publish('ps.cross', sc.encode('hello'));
  await c.wait(1);
  assert.equal(sc.decode(c.msgs[0].data), 'hello');
});

T('wildcards: * matches exactly one token, > one or more', async () => {
  const nc = await conn();
  const star = collector(nc, 'wc.*.c');
  const gt = collector(nc, 'wc.>');
  const mid = collector(nc, 'wc.a.>');
  await settle(nc);
  const subjects = ['wc.a.c', 'wc.b.c', 'wc.a.b.c', 'wc.a', 'wc', 'wc.a.d', 'wcx.a.c'];
  for (const s of subjects) nc.publish(s, sc.encode(s));
  await settle(nc);
  await waitFor(() => gt.msgs.length >= 5 && star.msgs.length >= 2 && mid.msgs.length >= 3, 3000, 'wildcard deliveries');
  await settle(nc);
  assert.deepEqual(star.msgs.map((m) => m.subject), ['wc.a.c', 'wc.b.c']);
  assert.deepEqual(gt.msgs.map((m) => m.subject), ['wc.a.c', 'wc.b.c', 'wc.a.b.c', 'wc.a', 'wc.a.d']);
  assert.deepEqual(mid.msgs.map((m) => m.subject), ['wc.a.c', 'wc.a.b.c', 'wc.a.d']);
});

T('queue groups: each message once per group, all to plain subscriber', async () => {
  const N = 300;
  const pub = await conn();
  const members = [];
  for (let i = 0; i < 3; i++) {
    const nc = await conn();
    members.push({ nc, c: collector(nc, 'qg.work', { queue: 'workers' }) });
  }
  const plainNc = await conn();
  const plain = collector(plainNc, 'qg.work');
  // a second group on a wildcard subject also gets each message once
  const other = [];
  for (let i = 0; i < 2; i++) other.push(collector(plainNc, 'qg.*', { queue: 'auditors' }));
  await settle(...members.map((m) => m.nc), plainNc);
  for (let i = 0; i < N; i++) pub.publish('qg.work', sc.encode(String(i)));
  await settle(pub);
  await plain.wait(N);
  await waitFor(() => members.reduce((a, m) => a + m.c.msgs.length, 0) >= N, 5000, 'queue deliveries');
  await waitFor(() => other.reduce((a, c) => a + c.msgs.length, 0) >= N, 5000, 'second group deliveries');
  await settle(...members.map((m) => m.nc), plainNc);
  const seen = new Map();
  for (const m of members) for (const msg of m.c.msgs) {
    const k = sc.decode(msg.data);
    seen.set(k, (seen.get(k) || 0) + 1);
  }
  assert.equal(seen.size, N, 'every message reached the group');
  for (const [k, v] of seen) assert.equal(v, 1, `message ${k} delivered ${v} times in group`);
  for (const m of members) assert.ok(m.c.msgs.length > 0, 'every member got some messages');
  assert.equal(plain.msgs.length, N);
  assert.deepEqual(plain.msgs.map((m) => sc.decode(m.data)), Array.from({ length: N }, (_, i) => String(i)));
  assert.equal(other.reduce((a, c) => a + c.msgs.length, 0), N);
});

T('request/reply with a responder (single and 50 concurrent)', async () => {
  const svc = await conn();
  svc.subscribe('rr.echo', { callback: (err, m) => { if (!err) m.respond(sc.encode(`echo:${sc.decode(m.data)}`)); } });
  await settle(svc);
  const cli = await conn();
  const r = await cli.request('rr.echo', sc.encode('hi'), { timeout: 3000 });
  assert.equal(sc.decode(r.data), 'echo:hi');
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => cli.request('rr.echo', sc.encode(`q${i}`), { timeout: 5000 })));
  rs.forEach((m, i) => assert.equal(sc.decode(m.data), `echo:q${i}`));
  // old-style (noMux) request uses a dedicated inbox with UNSUB max
  const r2 = await cli.request('rr.echo', sc.encode('nomux'), { timeout: 3000, noMux: true });
  assert.equal(sc.decode(r2.data), 'echo:nomux');
  // explicit reply subject on publish
  const inbox = createInbox();
  const c = collector(cli, inbox);
  await settle(cli);
  cli.publish('rr.echo', sc.encode('manual'), { reply: inbox });
  await c.wait(1);
  assert.equal(sc.decode(c.msgs[0].data), 'echo:manual');
});

T('request reaches responder with the reply subject set', async () => {
  const svc = await conn();
  const c = collector(svc, 'rr.inspect');
  await settle(svc);
  const cli = await conn();
  const p = cli.request('rr.inspect', sc.encode('x'), { timeout: 3000 });
  await c.wait(1);
  const req = c.msgs[0];
  assert.match(req.reply, /^_INBOX\./);
  req.respond(sc.encode('ok'));
  assert.equal(sc.decode((await p).data), 'ok');
});

T('headers round trip: multi-value, case preserved, payload kept', async () => {
  const nc = await conn();
  const c = collector(nc, 'hdr.rt');
  await settle(nc);
  const h = headers();
  h.append('X-Multi', 'one');
  h.append('X-Multi', 'two');
  h.append('MixedCase-Key', 'Value With Spaces');
  h.set('lower-key', 'v');
  nc.publish('hdr.rt', sc.encode('body'), { headers: h });
  // header-only message (empty payload)
  const h2 = headers();
  h2.set('Only', 'hdr');
  nc.publish('hdr.rt', undefined, { headers: h2 });
  await c.wait(2);
  const m = c.msgs[0];
  assert.ok(m.headers, 'headers present');
  assert.deepEqual(m.headers.values('X-Multi'), ['one', 'two']);
  assert.equal(m.headers.get('MixedCase-Key'), 'Value With Spaces');
  assert.equal(m.headers.get('lower-key'), 'v');
  const keys = m.headers.keys();
  assert.ok(keys.includes('MixedCase-Key'), `case preserved in keys: ${keys}`);
  assert.ok(keys.includes('X-Multi'));
  assert.ok(!keys.includes('mixedcase-key'));
  assert.equal(sc.decode(m.data), 'body');
  assert.equal(c.msgs[1].headers.get('Only'), 'hdr');
  assert.equal(c.msgs[1].data.length, 0);
  // headers through request/reply both ways
  const svc = await conn();
  svc.subscribe('hdr.svc', {
    callback: (err, msg) => {
      const rh = headers();
      rh.set('Echo-Req', msg.headers ? msg.headers.get('Req-Id') : 'none');
      msg.respond(msg.data, { headers: rh });
    },
  });
  await settle(svc);
  const qh = headers();
  qh.set('Req-Id', 'abc-123');
  const r = await nc.request('hdr.svc', sc.encode('p'), { timeout: 3000, headers: qh });
  assert.equal(r.headers.get('Echo-Req'), 'abc-123');
  assert.equal(sc.decode(r.data), 'p');
});

T('no responders: request without subscriber rejects quickly with 503', async () => {
  const nc = await conn();
  const t0 = Date.now();
  await assert.rejects(nc.request('nobody.home', sc.encode('x'), { timeout: 5000 }), (err) => {
    assert.equal(err.code, ErrorCode.NoResponders);
    return true;
  });
  assert.ok(Date.now() - t0 < 2000, `rejected after ${Date.now() - t0}ms`);
  // also with noMux (dedicated inbox)
  await assert.rejects(nc.request('nobody.home', sc.encode('x'), { timeout: 5000, noMux: true }), (err) => err.code === ErrorCode.NoResponders);
});

T('request timeout when responder does not answer', async () => {
  const nc = await conn();
  const silent = collector(nc, 'rr.silent');
  await settle(nc);
  const t0 = Date.now();
  await assert.rejects(nc.request('rr.silent', sc.encode('x'), { timeout: 300 }), (err) => err.code === ErrorCode.Timeout);
  assert.ok(Date.now() - t0 >= 250);
  assert.equal(silent.msgs.length, 1);
});

T('unsubscribe with max: sub.unsubscribe(3) gets exactly 3', async () => {
  const nc = await conn();
  const pub = await conn();
  const c = collector(nc, 'unsub.max');
  c.sub.unsubscribe(3);
  await settle(nc);
  for (let i = 0; i < 10; i++) pub.publish('unsub.max', sc.encode(String(i)));
  await settle(pub, nc);
  await c.wait(3);
  await sleep(100);
  await settle(pub, nc);
  assert.equal(c.msgs.length, 3);
  assert.deepEqual(c.msgs.map((m) => sc.decode(m.data)), ['0', '1', '2']);
  await waitFor(() => c.sub.isClosed(), 2000, 'sub closed');
  // auto-unsub after some already delivered: max counts total deliveries
  const c2 = collector(nc, 'unsub.max2');
  await settle(nc);
  for (let i = 0; i < 2; i++) pub.publish('unsub.max2', sc.encode(String(i)));
  await settle(pub);
  await c2.wait(2);
  c2.sub.unsubscribe(4);
  await settle(nc);
  for (let i = 2; i < 10; i++) pub.publish('unsub.max2', sc.encode(String(i)));
  await settle(pub, nc);
  await c2.wait(4);
  await sleep(100);
  await settle(pub, nc);
  assert.equal(c2.msgs.length, 4);
  // plain unsubscribe stops delivery
  const c3 = collector(nc, 'unsub.plain');
  await settle(nc);
  pub.publish('unsub.plain');
  await settle(pub);
  await c3.wait(1);
  c3.sub.unsubscribe();
  await settle(nc);
  pub.publish('unsub.plain');
  await settle(pub, nc);
  await sleep(100);
  assert.equal(c3.msgs.length, 1);
});

T('drain: subscription drain delivers pending messages then closes', async () => {
  const nc = await conn();
  const pub = await conn();
  const sub = nc.subscribe('drain.sub');
  await settle(nc);
  const N = 200;
  for (let i = 0; i < N; i++) pub.publish('drain.sub', sc.encode(String(i)));
  await settle(pub, nc); // all N are now buffered in the client
  const got = [];
  const reader = (async () => {
    for await (const m of sub) { got.push(sc.decode(m.data)); await sleep(0); }
  })();
  await within(sub.drain(), 5000, 'sub.drain()');
  await within(reader, 5000, 'iterator end after drain');
  assert.equal(got.length, N);
  assert.equal(got[N - 1], String(N - 1));
  assert.ok(sub.isClosed());
  // server no longer delivers to it
  pub.publish('drain.sub', sc.encode('late'));
  await settle(pub, nc);
  assert.equal(got.length, N);
});

T('drain: connection drain flushes and closes', async () => {
  const nc = await connect({ servers: srv.url });
  const pub = await conn();
  const c = collector(nc, 'drain.conn');
  await settle(nc);
  for (let i = 0; i < 100; i++) pub.publish('drain.conn', sc.encode(String(i)));
  await settle(pub, nc);
  await within(nc.drain(), 5000, 'nc.drain()');
  assert.ok(nc.isClosed());
  assert.equal(c.msgs.length, 100);
  await within(nc.closed(), 2000, 'closed promise');
});

T('flush: after flush, published messages have reached other subscribers', async () => {
  const pub = await conn();
  const subNc = await conn();
  let count = 0;
  subNc.subscribe('flush.t', { callback: () => { count++; } });
  await settle(subNc);
  for (let i = 0; i < 1000; i++) pub.publish('flush.t', sc.encode('x'));
  const rtt = await pub.rtt();
  assert.ok(rtt >= 0);
  await pub.flush();
  await subNc.flush();
  assert.equal(count, 1000);
});

T('echo:false (noEcho) suppresses own messages only', async () => {
  const nc = await conn({ noEcho: true });
  const other = await conn();
  const c = collector(nc, 'echo.t');
  const oc = collector(other, 'echo.t');
  await settle(nc, other);
  nc.publish('echo.t', sc.encode('self'));
  other.publish('echo.t', sc.encode('other'));
  await settle(nc, other);
  await c.wait(1);
  await oc.wait(2);
  await settle(nc, other, nc);
  assert.deepEqual(c.msgs.map((m) => sc.decode(m.data)), ['other']);
  assert.deepEqual(oc.msgs.map((m) => sc.decode(m.data)).sort(), ['other', 'self']);
  // default echo=true delivers own messages
  const e = collector(other, 'echo.self');
  await settle(other);
  other.publish('echo.self', sc.encode('me'));
  await e.wait(1);
});

T('large message (512 KiB and just under max_payload) integrity', async () => {
  const nc = await conn();
  const c = collector(nc, 'big.msg');
  await settle(nc);
  const sizes = [512 * 1024, 1048576 - 1, 1048576];
  const bodies = sizes.map((n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8) * 7) & 0xff;
    return b;
  });
  for (const b of bodies) nc.publish('big.msg', b);
  await c.wait(3, 10000);
  for (let k = 0; k < 3; k++) {
    assert.equal(c.msgs[k].data.length, sizes[k]);
    assert.ok(Buffer.from(c.msgs[k].data).equals(Buffer.from(bodies[k])), `body ${k} intact`);
  }
});

T('ordering: 10k messages arrive in publish order', async () => {
  const pub = await conn();
  const subNc = await conn();
  const N = 10000;
  const got = [];
  subNc.subscribe('order.t', { callback: (err, m) => { got.push(Number(sc.decode(m.data))); } });
  const self = collector(pub, 'order.t');
  await settle(subNc, pub);
  for (let i = 0; i < N; i++) pub.publish('order.t', sc.encode(String(i)));
  await settle(pub);
  await waitFor(() => got.length >= N && self.msgs.length >= N, 15000, `10k messages (have ${got.length})`);
  for (let i = 0; i < N; i++) if (got[i] !== i) assert.fail(`out of order at ${i}: ${got[i]}`);
  for (let i = 0; i < N; i++) if (sc.decode(self.msgs[i].data) !== String(i)) assert.fail(`self out of order at ${i}`);
});

T('many subscriptions: 2000 subjects, each gets exactly its message', async () => {
  const nc = await conn();
  const pub = await conn();
  const N = 2000;
  const counts = new Array(N).fill(0);
  const wrong = [];
  for (let i = 0; i < N; i++) {
    nc.subscribe(`many.${i}.x`, { callback: (err, m) => { counts[i]++; if (m.subject !== `many.${i}.x`) wrong.push(m.subject); } });
  }
  let all = 0;
  nc.subscribe('many.*.x', { callback: () => { all++; } });
  await settle(nc);
  for (let i = 0; i < N; i++) pub.publish(`many.${i}.x`, sc.encode(String(i)));
  await settle(pub);
  await waitFor(() => all >= N && counts.every((c) => c >= 1), 10000, 'all subjects delivered');
  await settle(pub, nc);
  assert.equal(all, N);
  assert.ok(counts.every((c) => c === 1), 'each exactly once');
  assert.deepEqual(wrong, []);
});

T('invalid subscription subject: server -ERR surfaces as error status, connection stays up', async () => {
  const nc = await conn();
  const statuses = [];
  (async () => { for await (const st of nc.status()) statuses.push(st.type); })().catch(() => {});
  assert.throws(() => nc.subscribe(''), (e) => e.code === ErrorCode.BadSubject); // client-side check
  nc.subscribe('bad..subject', { callback: () => {} }); // only the server rejects this one
  await settle(nc);
  await waitFor(() => statuses.includes('error'), 3000, `error status (have ${statuses})`);
  const c = collector(nc, 'still.works');
  await settle(nc);
  nc.publish('still.works');
  await c.wait(1);
  assert.ok(!nc.isClosed());
  assert.ok(!statuses.includes('disconnect'), `statuses: ${statuses}`);
});

T('verbose + pedantic client: pub/sub and request work (server +OK acks tolerated)', async () => {
  const nc = await conn({ verbose: true, pedantic: true });
  const c = collector(nc, 'vp.t');
  await settle(nc);
  for (let i = 0; i < 100; i++) nc.publish('vp.t', sc.encode(String(i)));
  await settle(nc);
  await c.wait(100);
  assert.deepEqual(c.msgs.map((m) => sc.decode(m.data)), Array.from({ length: 100 }, (_, i) => String(i)));
  nc.subscribe('vp.svc', { callback: (e, m) => m.respond(sc.encode('ok')) });
  const r = await nc.request('vp.svc', sc.encode('x'), { timeout: 3000 });
  assert.equal(sc.decode(r.data), 'ok');
  assert.ok(!nc.isClosed());
});

T('server shuts down cleanly on SIGTERM (no sanitizer reports)', async () => {
  for (const nc of conns) { if (!nc.isClosed()) await nc.close().catch(() => {}); }
  const s = srv;
  srv = null;
  await stopAndCheck(s);
});
