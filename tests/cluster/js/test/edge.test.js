'use strict';
// Edge cases: every node listing every route URL (incl. its own) and starting
// at once, interest of a killed node removed (queue members, responders),
// overlapping subscriptions cross once, a large interest set sent to a joiner,
// a request storm to a queue group spread over nodes.
const { test, afterEach } = require('node:test');
const net = require('node:net');
const assert = require('node:assert/strict');
const { connect, StringCodec, ErrorCode } = require('nats');
const { Node, startCluster, stopAll, waitMesh, withInterest, freePorts, T: mkT, waitFor, SERVER_KIND, Clients, collect } = require('../lib/cluster');

const SERVER_KIND_IS_NATS = SERVER_KIND === 'nats-server'; // $SYS traffic can share the route counters

const sc = StringCodec();
let nodes = [];
const T = mkT(test, () => nodes);
const clients = new Clients();
const conn = (node, opts) => clients.conn(node, opts);

afterEach(async () => {
  await clients.closeAll();
  await stopAll(nodes);
});

T('all routes listed everywhere (incl. self), all nodes started at once: exactly one route per pair', async () => {
  const ports = await freePorts(9);
  const routes = [2, 5, 8].map((k) => `nats://127.0.0.1:${ports[k]}`).join(',');
  nodes = [0, 1, 2].map((i) => {
    const n = new Node(i, { name: `a${i + 1}`, clusterName: 'C1', clientPort: ports[3 * i], httpPort: ports[3 * i + 1], routePort: ports[3 * i + 2], seed: null });
    n.srv.args.push('--routes', routes);
    return n;
  });
  await Promise.all(nodes.map((n) => n.start()));
  await waitMesh(nodes, 20000);
  // stays a clean mesh (no late duplicate or self route)
  const deadline = Date.now() + 2500;
  const { meshState } = require('../lib/cluster');
  while (Date.now() < deadline) {
    assert.deepEqual(await meshState(nodes), []);
    await new Promise((r) => setTimeout(r, 250));
  }
  const a = await conn(nodes[0]);
  const c = await conn(nodes[2]);
  const col = await withInterest(nodes[2], [nodes[0]], 1, async () => { const x = collect(c, 'all.x'); await c.flush(); return x; });
  for (let i = 0; i < 100; i++) a.publish('all.x', sc.encode(String(i)));
  a.publish('all.x', sc.encode('end'));
  await waitFor(() => col.msgs.length >= 101, 5000, '101 messages');
  await c.flush();
  assert.equal(col.msgs.length, 101, 'no duplicates through duplicate routes');
}, 60000);

T('killed node: its queue members and responders are forgotten by the survivors', async () => {
  nodes = await startCluster(3);
  await waitMesh(nodes, 20000);
  const [A, B, C] = nodes;
  const N = 200;
  const bm = [];
  const bncs = [];
  for (let k = 0; k < 2; k++) {
    const nc = await conn(B);
    bncs.push(nc);
    bm.push(collect(nc, 'dead.q', { queue: 'g' }));
    await nc.flush();
  }
  const cnc = await conn(C, { maxReconnectAttempts: 0 });
  await withInterest(C, [A], 2, async () => {
    collect(cnc, 'dead.q', { queue: 'g' });
    cnc.subscribe('dead.svc', { callback: (e, m) => { if (!e) m.respond(sc.encode('c')); } });
    await cnc.flush();
  });
  await waitFor(async () => (((await A.routeTo(B)) || {}).subscriptions || 0) >= 1, 5000, 'B interest on A');
  const pub = await conn(A);
  assert.equal(sc.decode((await pub.request('dead.svc', undefined, { timeout: 5000 })).data), 'c');
  await C.kill();
  await waitMesh([A, B], 15000);
  // only C had a responder: fast 503, not a timeout
  const t0 = Date.now();
  await assert.rejects(pub.request('dead.svc', undefined, { timeout: 5000 }), (e) => e.code === ErrorCode.NoResponders);
  assert.ok(Date.now() - t0 < 2000);
  // every message goes to B's members, none is lost to the dead node
  const sentinel = collect(bncs[1], 'dead.sentinel');
  await bncs[1].flush();
  await waitFor(async () => (((await A.routeTo(B)) || {}).subscriptions || 0) >= 2, 5000, 'sentinel interest on A');
  for (let i = 0; i < N; i++) pub.publish('dead.q', sc.encode(String(i)));
  pub.publish('dead.sentinel');
  await pub.flush();
  await waitFor(() => sentinel.msgs.length === 1, 5000, 'sentinel');
  // The sentinel shares a connection with one member only: the other
  // member's messages may still be on their way.
  const got = () => bm.flatMap((m) => m.msgs.map((x) => sc.decode(x.data)));
  await waitFor(() => got().length >= N, 5000, 'all queue messages on B').catch(() => {});
  assert.equal(got().length, N, `B members got ${got().length} of ${N}`);
  assert.equal(new Set(got()).size, N);
}, 60000);

T('overlapping subscriptions on B (x.*, x.>, x.y, queue) : each message crosses the route once', async () => {
  nodes = await startCluster(2);
  await waitMesh(nodes, 20000);
  const [A, B] = nodes;
  const b = await conn(B);
  const a = await conn(A);
  const subs = await withInterest(B, [A], 4, async () => {
    const s = [collect(b, 'ov.*'), collect(b, 'ov.>'), collect(b, 'ov.y'), collect(b, 'ov.y', { queue: 'q' })];
    await b.flush();
    return s;
  });
  const N = 50;
  const out0 = (await A.routeTo(B)).out_msgs;
  for (let i = 0; i < N; i++) a.publish('ov.y', sc.encode(String(i)));
  await a.flush();
  await waitFor(() => subs.every((s) => s.msgs.length >= N), 5000, `${N} on each of 4 subs (${subs.map((s) => s.msgs.length)})`);
  await b.flush();
  assert.deepEqual(subs.map((s) => s.msgs.length), [N, N, N, N]);
  const out1 = (await A.routeTo(B)).out_msgs;
  assert.ok(out1 - out0 >= N && out1 - out0 <= N + 2, `route out_msgs grew by ${out1 - out0} for ${N} messages`);
}, 60000);

T('a joining node receives the full interest set (2000 subscriptions) of an existing node', async () => {
  nodes = await startCluster(2);
  await waitMesh(nodes, 20000);
  const [A, B] = nodes;
  const b = await conn(B);
  const cols = [];
  for (let i = 0; i < 2000; i++) cols.push(collect(b, `many.${i}`));
  await b.flush();
  await waitFor(async () => (((await A.routeTo(B)) || {}).subscriptions || 0) >= 2000, 10000, '2000 subs on A');
  const [cp, hp, rp] = await freePorts(3);
  const J = new Node(2, { name: 'n3', clusterName: 'C1', clientPort: cp, httpPort: hp, routePort: rp, seed: A.routePort });
  nodes.push(J);
  await J.start();
  await waitMesh(nodes, 20000);
  await waitFor(async () => (((await J.routeTo(B)) || {}).subscriptions || 0) >= 2000, 10000, '2000 subs from B on the joiner');
  const j = await conn(J);
  for (const i of [0, 999, 1999]) j.publish(`many.${i}`, sc.encode(String(i)));
  await j.flush();
  await waitFor(() => [0, 999, 1999].every((i) => cols[i].msgs.length === 1), 5000, 'messages from the joiner');
}, 60000);

T('request storm: 1000 requests from n1 to a queue group of responders on n2 and n3', async () => {
  nodes = await startCluster(3);
  await waitMesh(nodes, 20000);
  const counts = { n2: 0, n3: 0 };
  for (const n of nodes.slice(1)) {
    const nc = await conn(n);
    await withInterest(n, [nodes[0]], 1, async () => {
      nc.subscribe('storm', { queue: 'svc', callback: (e, m) => { if (!e) { counts[n.name]++; m.respond(m.data); } } });
      await nc.flush();
    });
  }
  const req = await conn(nodes[0]);
  const rs = await Promise.all([...Array(1000).keys()].map((i) => req.request('storm', sc.encode(String(i)), { timeout: 10000 })));
  rs.forEach((r, i) => assert.equal(sc.decode(r.data), String(i)));
  assert.equal(counts.n2 + counts.n3, 1000);
  assert.ok(counts.n2 > 0 && counts.n3 > 0, `both nodes served: ${JSON.stringify(counts)}`);
}, 60000);

T('interest changes while a node joins: the joiner ends with exactly the final interest set', async () => {
  nodes = await startCluster(2);
  await waitMesh(nodes, 20000);
  const [A, B] = nodes;
  const b = await conn(B);
  const [cp, hp, rp] = await freePorts(3);
  const J = new Node(2, { name: 'n3', clusterName: 'C1', clientPort: cp, httpPort: hp, routePort: rp, seed: A.routePort });
  nodes.push(J);
  const subs = [];
  const hits = new Map();
  let stop = false;
  // churn on B: subscribe, unsubscribe every third; J starts once B has 3000
  // subscriptions and the churn goes on while it joins
  let meshAt = -1;
  const PRE = Number(process.env.CLUSTER_CHURN_PRE || 3000);
  let preDone;
  const pre = new Promise((r) => { preDone = r; });
  const churn = (async () => {
    // keeps going until the joiner is fully meshed (and a bit beyond), bounded
    for (let i = 0; i < 30000; i++) {
      if (stop && meshAt < 0) meshAt = i;
      if (stop && i > meshAt + 300) break;
      subs.push(b.subscribe(`churn.${i}`, { callback: (e, m) => { if (!e) hits.set(m.subject, (hits.get(m.subject) || 0) + 1); } }));
      if (i % 3 === 2) subs[i - 1].unsubscribe();
      if (i % 20 === 19) await b.flush();
      if (i === PRE) preDone();
    }
    await b.flush();
    preDone();
  })();
  await pre;
  await J.start();
  await waitMesh(nodes, 20000);
  stop = true;
  await churn;
  const live = subs.filter((s) => !s.isClosed()).length;
  assert.ok(meshAt > 0, `churn still running when the mesh formed (${subs.length} subs)`);
  console.log(`churn: ${subs.length} subscribed, ${live} live, mesh formed at #${meshAt}`);
  // A (route up before the churn) and J (joined during it) must converge on
  // the same view of B's interest (polled together: RS+ may still be in flight)
  const countOn = async (n) => ((await n.routeTo(B)) || {}).subscriptions || 0;
  let cA = 0;
  let cJ = 0;
  let converged = true;
  try {
    await waitFor(async () => { cA = await countOn(A); cJ = await countOn(J); return cA === cJ && cA >= live; }, 10000, 'convergence');
  } catch (_) { converged = false; }
  // behaviour, not counters: A and J each publish once to every subject ever
  // used; B must get exactly the live ones (the sentinel is a per-route barrier)
  const check = collect(b, 'churn.check');
  await b.flush();
  await waitFor(async () => (await countOn(A)) >= cA + 1 && (await countOn(J)) >= cJ + 1, 10000, 'churn.check on A and J');
  for (const P of [A, J]) {
    hits.clear();
    const pc = await conn(P);
    const out0 = (await P.routeTo(B)).out_msgs;
    for (let i = 0; i < subs.length; i++) pc.publish(`churn.${i}`);
    pc.publish('churn.check');
    await pc.flush();
    await waitFor(() => check.msgs.length === (P === A ? 1 : 2), 10000, `sentinel from ${P.name}`);
    await b.flush();
    const out1 = (await P.routeTo(B)).out_msgs;
    const missing = [];
    for (let i = 0; i < subs.length; i++) if (!subs[i].isClosed() && !hits.get(`churn.${i}`)) missing.push(i);
    assert.deepEqual(missing.slice(0, 20), [],
      `${missing.length} live subscriptions of B got no message from ${P.name} (route subs on A ${cA}, on J ${cJ}, live ${live}; ` +
      `${subs.length} subscribed, mesh formed at #${meshAt}; first missing ${missing.slice(0, 5)}, last ${missing.slice(-3)})`);
    // nothing crossed for the removed subjects
    const want = live + 1;
    assert.ok(out1 - out0 === want || (SERVER_KIND_IS_NATS && out1 - out0 >= want && out1 - out0 <= want + 3),
      `${P.name}->B out_msgs +${out1 - out0}, want ${want} (live subjects + sentinel)`);
  }
  assert.ok(converged, `route subscription counts for B: A ${cA}, J ${cJ}, live ${live}`);
}, 60000);

T('a node killed and restarted 3 times in a row: the mesh heals every time, no leaked routes', async () => {
  nodes = await startCluster(3);
  await waitMesh(nodes, 20000);
  for (let round = 0; round < 3; round++) {
    const victim = nodes[round % 3];
    await victim.kill();
    await waitMesh(nodes.filter((n) => n !== victim), 15000);
    await victim.start();
    await waitMesh(nodes, 20000);
  }
  // traffic from every node to every node
  const ncs = [];
  for (const n of nodes) ncs.push(await conn(n));
  const cols = [];
  for (let j = 0; j < 3; j++) {
    cols.push(await withInterest(nodes[j], nodes.filter((_, k) => k !== j), 1, async () => { const x = collect(ncs[j], `flap.${j}`); await ncs[j].flush(); return x; }));
  }
  // Core delivery is at most once while the duplicate routes a restart
  // causes are resolved (one of two is closed, as nats-server closes it, and
  // what was in flight on it is gone): publish rounds until every node has
  // heard from every node.
  const heard = () => cols.every((c) => new Set(c.msgs.map((m) => sc.decode(m.data))).size === 3);
  const deadline = Date.now() + 10000;
  for (let round = 0; !heard() && Date.now() < deadline; round++) {
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) ncs[i].publish(`flap.${j}`, sc.encode(String(i)));
    for (const nc of ncs) await nc.flush();
    await waitFor(heard, 1000, 'one round').catch(() => {});
  }
  assert.ok(heard(), `each node heard from every node (${cols.map((c) => [...new Set(c.msgs.map((m) => sc.decode(m.data)))].join(''))})`);
}, 90000);

T('a slow consumer on B is cut off by B; the route and B\'s other subscribers are unaffected', async () => {
  nodes = await startCluster(2, { useConfig: true, extraConfig: 'max_pending: 4194304\nwrite_deadline: "2s"' });
  await waitMesh(nodes, 20000);
  const [A, B] = nodes;
  const ridBefore = (await B.routeTo(A)).rid;
  // raw client on B that subscribes and then stops reading
  const slow = net.connect({ host: '127.0.0.1', port: B.port });
  let slowClosed = false;
  slow.on('close', () => { slowClosed = true; });
  slow.on('error', () => {});
  let buf = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no PONG for the slow client')), 5000);
    slow.on('data', (d) => { buf += d.toString('latin1'); if (buf.includes('PONG\r\n')) { clearTimeout(t); resolve(); } });
    slow.write('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nSUB slow.x 1\r\nPING\r\n');
  });
  slow.removeAllListeners('data');
  slow.pause();
  const good = await conn(B);
  const g = collect(good, 'slow.x');
  await good.flush();
  await waitFor(async () => (((await A.routeTo(B)) || {}).subscriptions || 0) >= 1, 5000, 'interest on A');
  const pub = await conn(A);
  const chunk = new Uint8Array(64 * 1024).fill(120);
  const N = 400; // 25 MiB
  for (let i = 0; i < N; i++) {
    pub.publish('slow.x', chunk);
    if (i % 16 === 15) { await pub.flush(); await good.flush(); }
  }
  await pub.flush();
  await waitFor(() => g.msgs.length === N, 20000, `good subscriber got ${g.msgs.length} of ${N}`);
  // read what the kernel buffered: the server must have closed the connection
  slow.on('data', () => {});
  slow.resume();
  await waitFor(() => slowClosed, 15000, 'slow consumer disconnected by B');
  await waitMesh(nodes, 5000);
  assert.equal((await B.routeTo(A)).rid, ridBefore, 'same route (not re-established)');
  slow.destroy();
}, 60000);
