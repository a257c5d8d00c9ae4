'use strict';
// 6. A node is SIGKILLed and restarted: the others keep serving, the mesh
// heals, interest is restored. 7. nats.js client failover through the
// connect_urls it learned from INFO.
const { test, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { StringCodec, Events } = require('nats');
const { Node, startCluster, stopAll, waitMesh, withInterest, freePorts, T: mkT, waitFor, sleep, Clients, collect } = require('../lib/cluster');

const sc = StringCodec();
let nodes = [];
const T = mkT(test, () => nodes);
const clients = new Clients();
const conn = (node, opts) => clients.conn(node, opts);
// Publish `subject` from `pub` every 100 ms until `c` has a message (bounded).
async function publishUntil(pub, subject, c, ms = 10000) {
  const n0 = c.msgs.length;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    pub.publish(subject, sc.encode('probe'));
    await pub.flush();
    const until = Date.now() + 100;
    while (Date.now() < until && c.msgs.length === n0) await sleep(10);
    if (c.msgs.length > n0) return;
  }
  throw new Error(`no message on ${subject} within ${ms}ms`);
}

afterEach(async () => {
  await clients.closeAll();
  await stopAll(nodes);
});

async function killRestartHeal(victimIdx) {
  const victim = nodes[victimIdx];
  const rest = nodes.filter((n) => n !== victim);
  // long-lived subscriptions on the survivors, created before the failure
  const s0 = await conn(rest[0]);
  const keep = collect(s0, 'heal.keep');
  await s0.flush();
  await victim.kill();
  // survivors keep serving each other
  await waitMesh(rest, 15000);
  const p1 = await conn(rest[1]);
  await publishUntil(p1, 'heal.keep', keep);
  // restart on the same ports: the mesh heals everywhere
  await victim.start();
  await waitMesh(nodes, 20000);
  // interest restored both ways: survivors' existing interest reaches the restarted node,
  // and a new subscription on the restarted node is announced to the survivors
  const v = await conn(victim);
  await waitFor(async () => (((await victim.routeTo(rest[0])) || {}).subscriptions || 0) >= 1, 10000,
    `${victim.name} learned ${rest[0].name}'s interest`);
  v.publish('heal.keep', sc.encode('from-restarted'));
  await v.flush();
  await waitFor(() => keep.msgs.some((m) => sc.decode(m.data) === 'from-restarted'), 5000, 'message from the restarted node');
  const fresh = await withInterest(victim, rest, 1, async () => { const x = collect(v, 'heal.new'); await v.flush(); return x; });
  for (const r of rest) {
    const pc = await conn(r);
    pc.publish('heal.new', sc.encode(r.name));
    await pc.flush();
  }
  await waitFor(() => fresh.msgs.length === rest.length, 5000, `messages from ${rest.length} survivors on the restarted node`);
  assert.deepEqual(fresh.msgs.map((m) => sc.decode(m.data)).sort(), rest.map((r) => r.name).sort());
}

T('kill -9 the middle node (n2, seed of n3) and restart it: mesh heals, interest restored', async () => {
  nodes = await startCluster(3);
  await waitMesh(nodes, 20000);
  await killRestartHeal(1);
}, 90000);

T('kill -9 the root node (n1, no seed of its own) and restart it: gossip re-completes the mesh', async () => {
  nodes = await startCluster(3);
  await waitMesh(nodes, 20000);
  await killRestartHeal(0);
}, 90000);

T('failover (nats.js): client knows only A, learns the others from INFO connect_urls, survives kill -9 of A', async () => {
  nodes = await startCluster(3);
  await waitMesh(nodes, 20000);
  const [A, B, C] = nodes;
  const nc = await conn(A, { reconnectTimeWait: 200, maxReconnectAttempts: -1, reconnectJitter: 0, pingInterval: 2000 });
  const events = [];
  (async () => { for await (const s of nc.status()) events.push(s); })().catch(() => {});
  const want = nodes.map((n) => n.clientAddr).sort();
  await waitFor(() => JSON.stringify([...(nc.info.connect_urls || [])].sort()) === JSON.stringify(want), 5000,
    `connect_urls ${want} (have ${nc.info.connect_urls})`);
  assert.equal(nc.getServer(), A.clientAddr);
  const c = collect(nc, 'fo.js');
  await nc.flush();
  const pub = await conn(C);
  await publishUntil(pub, 'fo.js', c);

  await A.kill();
  await waitFor(() => events.some((e) => e.type === Events.Reconnect), 15000,
    `reconnect event (events: ${events.map((e) => e.type)})`);
  assert.ok([B.clientAddr, C.clientAddr].includes(nc.getServer()), `reconnected to another node: ${nc.getServer()}`);
  assert.ok(!nc.isClosed());
  // the subscription was re-sent and works again with a publisher on a third client
  await publishUntil(pub, 'fo.js', c);
  assert.ok(c.msgs.length >= 2);
  // and it can publish/request through the new node
  const echo = collect(pub, 'fo.echo');
  await pub.flush();
  await publishUntil(nc, 'fo.echo', echo);
  await waitMesh([B, C], 10000);
}, 90000);

T('async INFO: a client of n1 learns a joining node (nats.js "update" status, connect_urls) and forgets it when it leaves', async () => {
  nodes = await startCluster(2);
  await waitMesh(nodes, 20000);
  const nc = await conn(nodes[0]);
  const events = [];
  (async () => { for await (const s of nc.status()) events.push(s); })().catch(() => {});
  const urls = () => [...(nc.info.connect_urls || [])].sort();
  await waitFor(() => urls().length === 2, 5000, `2 connect_urls (have ${urls()})`);
  const [cp, hp, rp] = await freePorts(3);
  const n3 = new Node(2, { name: 'n3', clusterName: 'C1', clientPort: cp, httpPort: hp, routePort: rp, seed: nodes[1].routePort });
  nodes.push(n3);
  await n3.start();
  await waitMesh(nodes, 20000);
  await waitFor(() => events.some((e) => e.type === Events.Update && (e.data.added || []).includes(n3.clientAddr)), 5000,
    `update event adding ${n3.clientAddr} (events ${JSON.stringify(events)})`);
  assert.deepEqual(urls(), nodes.map((n) => n.clientAddr).sort());
  await n3.stop();
  await waitMesh(nodes.slice(0, 2), 10000);
  await waitFor(() => !urls().includes(n3.clientAddr), 5000, `connect_urls without ${n3.clientAddr} (have ${urls()})`);
  assert.deepEqual(urls(), nodes.slice(0, 2).map((n) => n.clientAddr).sort());
}, 60000);
