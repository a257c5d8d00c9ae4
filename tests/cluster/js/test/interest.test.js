'use strict';
// 5. Interest propagation: a subscription on B is announced to A (RS+) and
// then A's publishes reach it; after unsubscribe (RS-) nothing crosses the
// route any more (A's /routez out_msgs for the route to B stays put).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { StringCodec } = require('nats');
const { startCluster, stopAll, waitMesh, withInterest, waitRouteSubs, T: mkT, waitFor, Clients, collect } = require('../lib/cluster');

const sc = StringCodec();
let nodes = [];
const T = mkT(test, () => nodes);
const clients = new Clients();
const conn = (node, opts) => clients.conn(node, opts);

before(async () => { nodes = await startCluster(3); await waitMesh(nodes, 20000); });
after(async () => {
  await clients.closeAll();
  await stopAll(nodes);
});

T('interest: subscription on B reaches A (routez subscriptions), then A publishes and B receives', async () => {
  const [A, B, C] = nodes;
  const b = await conn(B);
  const a = await conn(A);
  const c = await withInterest(B, [A, C], 1, async () => { const x = collect(b, 'ip.first'); await b.flush(); return x; });
  a.publish('ip.first', sc.encode('1'));
  await a.flush();
  await waitFor(() => c.msgs.length === 1, 5000, 'message on B');
  // the very first publish after interest is visible must arrive, from every node
  const cc = await conn(C);
  cc.publish('ip.first', sc.encode('2'));
  await waitFor(() => c.msgs.length === 2, 5000, 'message from C on B');
  assert.deepEqual(c.msgs.map((m) => sc.decode(m.data)), ['1', '2']);
});

T('interest: no interest, no traffic: unsubscribe on B stops messages crossing A->B (routez out_msgs)', async () => {
  const [A, B] = nodes;
  const b = await conn(B);
  const a = await conn(A);
  const base = ((await A.routeTo(B)) || {}).subscriptions || 0;
  const [data, sentinel] = await withInterest(B, [A], 2, async () => {
    const d = collect(b, 'ip.data');
    const s = collect(b, 'ip.sentinel');
    await b.flush();
    return [d, s];
  });
  // positive control: with interest, 100 messages cross and are counted
  const out0 = (await A.routeTo(B)).out_msgs;
  for (let i = 0; i < 100; i++) a.publish('ip.data', sc.encode(String(i)));
  a.publish('ip.sentinel');
  await a.flush();
  await waitFor(() => sentinel.msgs.length === 1 && data.msgs.length === 100, 5000, '100 messages + sentinel on B');
  const out1 = (await A.routeTo(B)).out_msgs;
  assert.ok(out1 - out0 >= 101, `out_msgs counts forwarded messages: ${out0} -> ${out1}`);

  // unsubscribe: wait (bounded) until A processed the RS-
  data.sub.unsubscribe();
  await b.flush();
  await waitRouteSubs(A, B, (n) => n <= base + 1, 'RS- for ip.data on A');
  const out2 = (await A.routeTo(B)).out_msgs;
  for (let i = 0; i < 100; i++) a.publish('ip.data', sc.encode(String(i)));
  a.publish('ip.sentinel'); // still has interest: per-route order makes it a barrier
  await a.flush();
  await waitFor(() => sentinel.msgs.length === 2, 5000, 'second sentinel on B');
  const out3 = (await A.routeTo(B)).out_msgs;
  // exactly the sentinel crossed; allow a little system traffic (nats-server $SYS)
  assert.ok(out3 - out2 >= 1 && out3 - out2 <= 3, `after RS- only the sentinel crosses: out_msgs ${out2} -> ${out3}`);
  assert.equal(data.msgs.length, 100, 'no delivery after unsubscribe');
});

T('interest: subscription on B with max=1 (auto-unsubscribe) removes interest on A after delivery', async () => {
  const [A, B] = nodes;
  const b = await conn(B);
  const a = await conn(A);
  const base = ((await A.routeTo(B)) || {}).subscriptions || 0;
  const c = await withInterest(B, [A], 1, async () => { const x = collect(b, 'ip.once', { max: 1 }); await b.flush(); return x; });
  a.publish('ip.once', sc.encode('x'));
  await waitFor(() => c.msgs.length === 1, 5000, 'the one message');
  await waitRouteSubs(A, B, (n) => n <= base, 'interest gone on A after max reached');
});

T('interest: queue group weight changes and removal propagate (no-responders once the last member leaves)', async () => {
  const [A, B] = nodes;
  const a = await conn(A);
  const b1 = await conn(B);
  const b2 = await conn(B);
  const base = ((await A.routeTo(B)) || {}).subscriptions || 0;
  const s1 = await withInterest(B, [A], 1, async () => {
    const s = b1.subscribe('ip.q', { queue: 'g', callback: (e, m) => { if (!e) m.respond(sc.encode('1')); } });
    await b1.flush();
    return s;
  });
  const s2 = b2.subscribe('ip.q', { queue: 'g', callback: (e, m) => { if (!e) m.respond(sc.encode('2')); } });
  await b2.flush();
  const seen = new Set();
  for (let i = 0; i < 60 && seen.size < 2; i++) seen.add(sc.decode((await a.request('ip.q', undefined, { timeout: 5000 })).data));
  assert.equal(seen.size, 2, 'both members on B are used');
  s1.unsubscribe();
  await b1.flush();
  for (let i = 0; i < 10; i++) assert.equal(sc.decode((await a.request('ip.q', undefined, { timeout: 5000 })).data), '2');
  s2.unsubscribe();
  await b2.flush();
  await waitRouteSubs(A, B, (n) => n <= base, 'queue interest gone on A');
  await assert.rejects(a.request('ip.q', undefined, { timeout: 5000 }), /503|no responders/i);
});
