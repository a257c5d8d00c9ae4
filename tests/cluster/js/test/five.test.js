'use strict';
// 9. 5-node cluster (chain of single seeds): full mesh by gossip; one
// publisher on n1, subscribers on n2..n5 each get everything exactly once, in
// order; a queue group spread over n2..n5 gets each message once.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { StringCodec } = require('nats');
const { startCluster, stopAll, waitMesh, withInterest, T: mkT, waitFor, Clients, collect } = require('../lib/cluster');

const sc = StringCodec();
let nodes = [];
const T = mkT(test, () => nodes);
const clients = new Clients();
const conn = (node, opts) => clients.conn(node, opts);

before(async () => { nodes = await startCluster(5); });
after(async () => {
  await clients.closeAll();
  await stopAll(nodes);
});

T('5 nodes: full mesh (4 routes each) from one seed per node', async () => {
  await waitMesh(nodes, 30000);
  for (const n of nodes) assert.equal((await n.mon('varz')).routes, 4, `${n.name} varz.routes`);
  const nc = await conn(nodes[4]);
  await waitFor(() => (nc.info.connect_urls || []).length === 5, 5000, 'connect_urls of 5 nodes');
}, 60000);

T('5 nodes: publisher on n1, subscribers on n2..n5 each get every message exactly once, in order', async () => {
  await waitMesh(nodes, 30000);
  const N = 3000;
  const subs = [];
  for (const n of nodes.slice(1)) {
    const nc = await conn(n);
    const c = await withInterest(n, [nodes[0]], 3, async () => {
      const x = collect(nc, 'five.data');
      x.wild = collect(nc, 'five.*');
      x.q = collect(nc, 'five.data', { queue: 'workers' });
      await nc.flush();
      return x;
    });
    c.node = n;
    subs.push(c);
  }
  const pub = await conn(nodes[0]);
  for (let i = 0; i < N; i++) {
    pub.publish('five.data', sc.encode(String(i)));
    if (i % 500 === 499) await pub.flush();
  }
  pub.publish('five.end');
  await pub.flush();
  await waitFor(() => subs.every((c) => c.wild.msgs.some((m) => m.subject === 'five.end')), 15000,
    `end marker on every node (${subs.map((c) => c.msgs.length)})`);
  for (const c of subs) {
    assert.equal(c.msgs.length, N, `${c.node.name} plain count`);
    for (let i = 0; i < N; i++) if (sc.decode(c.msgs[i].data) !== String(i)) assert.fail(`${c.node.name}: #${i} is ${sc.decode(c.msgs[i].data)}`);
    assert.equal(c.wild.msgs.length, N + 1, `${c.node.name} wildcard count`);
  }
  const q = subs.flatMap((c) => c.q.msgs.map((m) => sc.decode(m.data)));
  assert.equal(q.length, N, `queue group total (per node ${subs.map((c) => c.q.msgs.length)})`);
  assert.equal(new Set(q).size, N, 'queue group: no duplicates');
  assert.ok(subs.filter((c) => c.q.msgs.length > 0).length >= 2, 'queue group spread over several nodes');
}, 60000);

T('5 nodes: every node publishes, every other node receives (request/reply across each pair)', async () => {
  await waitMesh(nodes, 30000);
  const ncs = [];
  for (const n of nodes) ncs.push(await conn(n));
  for (let j = 0; j < nodes.length; j++) {
    await withInterest(nodes[j], nodes.filter((_, k) => k !== j), 1, async () => {
      ncs[j].subscribe(`five.svc.${j}`, { callback: (e, m) => { if (!e) m.respond(sc.encode(`${j}<-${sc.decode(m.data)}`)); } });
      await ncs[j].flush();
    });
  }
  for (let i = 0; i < nodes.length; i++) {
    for (let j = 0; j < nodes.length; j++) {
      const r = await ncs[i].request(`five.svc.${j}`, sc.encode(String(i)), { timeout: 5000 });
      assert.equal(sc.decode(r.data), `${j}<-${i}`);
    }
  }
}, 60000);
