'use strict';
// Heavier multi-connection scenarios with nats.js v2 (bounded, a few seconds).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect, StringCodec, JSONCodec } = require('nats');
const { stopAndCheck, startServer, withLog, waitFor, within } = require('../lib/server');

const sc = StringCodec();
let srv;
const conns = [];
const T = (name, fn) => test(name, { timeout: 60000 }, withLog(() => srv, fn));
async function conn(opts = {}) {
  const nc = await connect({ servers: srv.url, timeout: 5000, ...opts });
  conns.push(nc);
  return nc;
}

before(async () => { srv = await startServer(); });
after(async () => {
  for (const nc of conns) { if (!nc.isClosed()) await nc.close().catch(() => {}); }
  if (srv) await srv.stop();
});

T('request storm: 5 clients x 200 concurrent requests to a queue group of 3 responders', async () => {
  const served = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const r = await conn();
    r.subscribe('storm.svc', { queue: 'svc', callback: (err, m) => { served[i]++; m.respond(sc.encode(`r:${sc.decode(m.data)}`)); } });
    await r.flush();
  }
  const clients = [];
  for (let c = 0; c < 5; c++) clients.push(await conn());
  const all = [];
  clients.forEach((cc, c) => {
    for (let r = 0; r < 200; r++) {
      all.push(cc.request('storm.svc', sc.encode(`${c}-${r}`), { timeout: 10000 })
        .then((m) => assert.equal(sc.decode(m.data), `r:${c}-${r}`)));
    }
  });
  await within(Promise.all(all), 20000, '1000 requests');
  assert.equal(served.reduce((a, b) => a + b, 0), 1000);
  assert.ok(served.every((n) => n > 0), `all responders used: ${served}`);
});

T('100 connections: per-connection subjects and a shared wildcard', async () => {
  const N = 100;
  const got = new Array(N).fill(0);
  let wild = 0;
  const subs = [];
  for (let i = 0; i < N; i++) {
    const nc = await conn();
    nc.subscribe(`conn.${i}`, { callback: () => { got[i]++; } });
    nc.subscribe('conn.*', { callback: () => { wild++; } });
    subs.push(nc);
  }
  await Promise.all(subs.map((nc) => nc.flush()));
  const pub = await conn();
  for (let i = 0; i < N; i++) pub.publish(`conn.${i}`, sc.encode(String(i)));
  await pub.flush();
  await waitFor(() => wild >= N * N && got.every((g) => g >= 1), 15000, `deliveries (wild=${wild})`);
  await Promise.all(subs.map((nc) => nc.flush()));
  assert.ok(got.every((g) => g === 1));
  assert.equal(wild, N * N);
});

T('services API (micro): endpoint request, $SRV.PING discovery', async () => {
  const nc = await conn();
  const jc = JSONCodec();
  const svc = await nc.services.add({ name: 'calc', version: '1.2.3', description: 'adds' });
  svc.addEndpoint('add', (err, m) => {
    const { a, b } = jc.decode(m.data);
    m.respond(jc.encode({ sum: a + b }));
  });
  await nc.flush();
  const cli = await conn();
  const r = await cli.request('add', jc.encode({ a: 2, b: 40 }), { timeout: 3000 });
  assert.deepEqual(jc.decode(r.data), { sum: 42 });
  const pings = [];
  const it = await cli.services.client({ maxWait: 1000 }).ping('calc');
  for await (const p of it) pings.push(p);
  assert.equal(pings.length, 1);
  assert.equal(pings[0].name, 'calc');
  assert.equal(pings[0].version, '1.2.3');
  await svc.stop();
});

T('server shuts down cleanly on SIGTERM (no sanitizer reports)', async () => {
  for (const nc of conns) { if (!nc.isClosed()) await nc.close().catch(() => {}); }
  const s = srv;
  srv = null;
  await stopAndCheck(s);
});
