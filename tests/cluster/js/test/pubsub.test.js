'use strict';
// 2. Cross-node pub/sub: wildcards from every node to every node, per-publisher
// order across a route (10k messages), headers across nodes.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { StringCodec, headers } = require('nats');
const { startCluster, stopAll, waitMesh, withInterest, T: mkT, waitFor, within, Clients, collect } = require('../lib/cluster');

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

T('pub/sub: * and > wildcards from every node to every node (incl. local)', async () => {
  const ncs = [];
  for (const n of nodes) ncs.push(await conn(n));
  const star = [];
  const gt = [];
  const lit = [];
  for (let j = 0; j < nodes.length; j++) {
    const others = nodes.filter((_, k) => k !== j);
    await withInterest(nodes[j], others, 3, async () => {
      star[j] = collect(ncs[j], 'wc.*.x');
      gt[j] = collect(ncs[j], 'wc.>');
      lit[j] = collect(ncs[j], 'wc.lit');
      await ncs[j].flush();
    });
  }
  for (let i = 0; i < nodes.length; i++) {
    for (const s of [`wc.n${i}.x`, `wc.n${i}.y.z`, `wc.n${i}`, 'wc', `wcx.n${i}.x`, `wc.n${i}.x.y`, 'wc.lit']) {
      ncs[i].publish(s, sc.encode(`${i}:${s}`));
    }
    ncs[i].publish(`wc.end${i}.x`); // sentinel: matches both wildcard subs, published last
  }
  for (let j = 0; j < nodes.length; j++) {
    await waitFor(() => nodes.every((_, i) => star[j].msgs.some((m) => m.subject === `wc.end${i}.x`)
      && gt[j].msgs.some((m) => m.subject === `wc.end${i}.x`)), 10000, `sentinels from every node on ${nodes[j].name}`);
  }
  for (let j = 0; j < nodes.length; j++) {
    const subj = (c) => c.msgs.map((m) => m.subject).filter((s) => !s.startsWith('wc.end')).sort();
    const wantStar = nodes.map((_, i) => `wc.n${i}.x`).sort();
    const wantGt = nodes.flatMap((_, i) => [`wc.n${i}.x`, `wc.n${i}.y.z`, `wc.n${i}`, `wc.n${i}.x.y`, 'wc.lit']).sort();
    assert.deepEqual(subj(star[j]), wantStar, `wc.*.x on ${nodes[j].name}`);
    assert.deepEqual(subj(gt[j]), wantGt, `wc.> on ${nodes[j].name}`);
    assert.equal(lit[j].msgs.length, nodes.length, `wc.lit on ${nodes[j].name}`);
    for (const m of gt[j].msgs) if (!m.subject.startsWith('wc.end')) assert.ok(sc.decode(m.data).endsWith(`:${m.subject}`), 'payload matches subject');
  }
  for (let j = 0; j < nodes.length; j++) { star[j].sub.unsubscribe(); gt[j].sub.unsubscribe(); lit[j].sub.unsubscribe(); }
});

T('pub/sub: two publishers on two nodes, 10k messages each, per-publisher order preserved on a third node', async () => {
  const N = 10000;
  const p1 = await conn(nodes[0]);
  const p2 = await conn(nodes[1]);
  const s = await conn(nodes[2]);
  const got = { a: [], b: [] };
  let bad = 0;
  await withInterest(nodes[2], [nodes[0], nodes[1]], 1, async () => {
    s.subscribe('order.>', {
      callback: (err, m) => {
        if (err) { bad++; return; }
        const [who, idx] = sc.decode(m.data).split(':');
        if (!got[who]) { bad++; return; }
        got[who].push(Number(idx));
      },
    });
    await s.flush();
  });
  for (let i = 0; i < N; i++) {
    p1.publish('order.a', sc.encode(`a:${i}`));
    p2.publish('order.b', sc.encode(`b:${i}`));
    if (i % 1000 === 999) { await Promise.all([p1.flush(), p2.flush()]); }
  }
  await Promise.all([p1.flush(), p2.flush()]);
  await waitFor(() => got.a.length >= N && got.b.length >= N, 30000, `2x${N} messages (have a=${got.a.length} b=${got.b.length})`);
  await s.flush();
  assert.equal(bad, 0);
  for (const who of ['a', 'b']) {
    assert.equal(got[who].length, N, `${who} count`);
    for (let i = 0; i < N; i++) if (got[who][i] !== i) assert.fail(`publisher ${who}: message #${i} is ${got[who][i]}`);
  }
});

T('pub/sub: headers (multi-value, case preserved, header-only) and reply survive across nodes', async () => {
  const p = await conn(nodes[0]);
  const s = await conn(nodes[1]);
  const c = await withInterest(nodes[1], [nodes[0]], 1, async () => { const x = collect(s, 'hdr.x'); await s.flush(); return x; });
  const h = headers();
  h.append('X-Multi', 'one');
  h.append('X-Multi', 'two');
  h.set('X-CaSe-Key', 'Value With Spaces');
  p.publish('hdr.x', sc.encode('body'), { headers: h, reply: 'reply.to.me' });
  const h2 = headers();
  h2.set('Only', 'headers');
  p.publish('hdr.x', undefined, { headers: h2 });
  p.publish('hdr.x', sc.encode('plain'));
  await p.flush();
  await waitFor(() => c.msgs.length >= 3, 5000, '3 messages across the route');
  const [m1, m2, m3] = c.msgs;
  assert.equal(sc.decode(m1.data), 'body');
  assert.equal(m1.reply, 'reply.to.me');
  assert.ok(m1.headers, 'headers present');
  assert.deepEqual(m1.headers.values('X-Multi'), ['one', 'two']);
  assert.equal(m1.headers.get('X-CaSe-Key'), 'Value With Spaces');
  assert.ok([...m1.headers.keys()].includes('X-CaSe-Key'), `case preserved: ${[...m1.headers.keys()]}`);
  assert.equal(m2.data.length, 0);
  assert.equal(m2.headers.get('Only'), 'headers');
  assert.equal(sc.decode(m3.data), 'plain');
  assert.ok(!m3.headers, 'no headers on a plain message');
});

T('pub/sub: 512 KiB payload crosses a route intact', async () => {
  const p = await conn(nodes[2]);
  const s = await conn(nodes[0]);
  const c = await withInterest(nodes[0], [nodes[2]], 1, async () => { const x = collect(s, 'big.x'); await s.flush(); return x; });
  const data = new Uint8Array(512 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
  p.publish('big.x', data);
  await within(p.flush(), 5000, 'flush');
  await waitFor(() => c.msgs.length >= 1, 10000, 'big message');
  assert.equal(Buffer.compare(Buffer.from(c.msgs[0].data), Buffer.from(data)), 0);
});

T('pub/sub: a max_payload-sized message (1 MiB) with headers crosses a route intact', async () => {
  const p = await conn(nodes[1]);
  const s = await conn(nodes[2]);
  const c = await withInterest(nodes[2], [nodes[1]], 1, async () => { const x = collect(s, 'max.x'); await s.flush(); return x; });
  const h = headers();
  h.set('X-Big', 'yes');
  const hdrLen = 'NATS/1.0\r\nX-Big: yes\r\n\r\n'.length;
  const data = new Uint8Array(p.info.max_payload - hdrLen);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13 + 1) & 0xff;
  p.publish('max.x', data, { headers: h });
  await within(p.flush(), 5000, 'flush');
  await waitFor(() => c.msgs.length >= 1, 10000, 'max-size message');
  assert.equal(c.msgs[0].headers.get('X-Big'), 'yes');
  assert.equal(Buffer.compare(Buffer.from(c.msgs[0].data), Buffer.from(data)), 0);
});
