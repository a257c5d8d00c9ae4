'use strict';
// 1. Mesh formation through one seed per node, cluster-name mismatch refused,
// /varz and /routez counts, connect_urls in client INFO.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect } = require('nats');
const { Node, startCluster, stopAll, waitMesh, freePorts, T: mkT, waitFor, sleep } = require('../lib/cluster');

let nodes = [];
let extra = [];
const T = mkT(test, () => nodes.concat(extra));

before(async () => { nodes = await startCluster(3); });
after(async () => { await stopAll(nodes.concat(extra)); });

T('mesh: 3 nodes, each with one seed (chain), form a full mesh via gossip', async () => {
  await waitMesh(nodes, 20000);
  const ids = new Set(nodes.map((n) => n.serverId));
  assert.equal(ids.size, 3, 'distinct server ids');
  for (const n of nodes) {
    const r = await n.routez();
    assert.equal(r.server_id, n.serverId);
    assert.equal(r.num_routes, 2, `${n.name} num_routes`);
    assert.equal(r.routes.length, 2);
    for (const rt of r.routes) {
      assert.notEqual(rt.remote_id, n.serverId, 'no route to self');
      assert.equal(rt.ip, '127.0.0.1');
    }
  }
  // per pair exactly one side dialled; the configured seed routes are marked so
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const a = await nodes[i].routeTo(nodes[j]);
      const b = await nodes[j].routeTo(nodes[i]);
      assert.ok(a.did_solicit !== b.did_solicit, `${nodes[i].name}<->${nodes[j].name} did_solicit ${a.did_solicit}/${b.did_solicit}`);
    }
  }
  for (let i = 1; i < nodes.length; i++) {
    const r = await nodes[i].routeTo(nodes[i - 1]);
    assert.equal(r.did_solicit, true, `${nodes[i].name} dialled its seed`);
    assert.equal(r.is_configured, true, `${nodes[i].name}'s route to its seed is configured`);
  }
  assert.equal((await nodes[2].routeTo(nodes[0])).is_configured || false, false, 'gossip route n3-n1 is not configured');
  // node 3 was only given node 2 as a seed, so its route to node 1 came from gossip
  assert.ok(await nodes[2].routeTo(nodes[0]), 'n3 has a route to n1');
  assert.ok(await nodes[0].routeTo(nodes[2]), 'n1 has a route to n3');
});

T('mesh: /varz reports the route count and the cluster name', async () => {
  await waitMesh(nodes);
  for (const n of nodes) {
    const v = await n.mon('varz');
    assert.equal(v.routes, 2, `${n.name} varz.routes`);
    assert.equal(v.server_name, n.name);
    assert.equal(v.cluster && v.cluster.name, 'C1', `${n.name} varz.cluster.name`);
    assert.equal(v.cluster.cluster_port, n.routePort, `${n.name} varz.cluster.cluster_port`);
  }
});

T('mesh: client INFO connect_urls lists every node', async () => {
  await waitMesh(nodes);
  const want = nodes.map((n) => n.clientAddr).sort();
  for (const n of nodes) {
    const nc = await connect({ servers: n.url, timeout: 5000 });
    try {
      // bounded: INFO after route completion may arrive asynchronously
      await waitFor(() => JSON.stringify([...(nc.info.connect_urls || [])].sort()) === JSON.stringify(want), 5000,
        `connect_urls of ${n.name} = ${want} (have ${nc.info.connect_urls})`);
      assert.equal(nc.info.cluster, 'C1');
    } finally { await nc.close(); }
  }
});

T('mesh: a node with a different cluster name is refused; the others are unaffected', async () => {
  await waitMesh(nodes);
  const [cp, hp, rp] = await freePorts(3);
  const bad = new Node(9, { name: 'bad', clusterName: 'OTHER', clientPort: cp, httpPort: hp, routePort: rp, seed: nodes[0].routePort });
  extra.push(bad);
  await bad.start();
  // Give it time to dial (and be refused) several times: bounded poll, the
  // property must hold at every sample.
  const deadline = Date.now() + 3000;
  let samples = 0;
  while (Date.now() < deadline) {
    for (const n of nodes) {
      const r = await n.routez();
      assert.ok(!(r.routes || []).some((x) => x.remote_id === bad.serverId), `${n.name} has a route to the foreign node`);
      assert.equal(r.num_routes, 2, `${n.name} num_routes stays 2`);
    }
    const br = await bad.routez();
    assert.equal(br.num_routes || 0, 0, 'foreign node has no routes');
    samples++;
    await sleep(200);
  }
  assert.ok(samples >= 3);
  // the cluster still routes messages
  const a = await connect({ servers: nodes[0].url });
  const c = await connect({ servers: nodes[2].url });
  try {
    const sub = c.subscribe('after.bad', { max: 1 });
    await c.flush();
    await waitFor(async () => ((await nodes[0].routeTo(nodes[2])) || {}).subscriptions >= 1, 5000, 'interest on n1');
    const got = (async () => { for await (const m of sub) return m.subject; })();
    // publish until it crosses (interest is already there, one publish suffices)
    a.publish('after.bad');
    assert.equal(await Promise.race([got, sleep(5000).then(() => 'timeout')]), 'after.bad');
  } finally { await a.close(); await c.close(); }
  await bad.stop();
  await waitMesh(nodes);
});

T('mesh: the same cluster from config files (cluster { name, listen, routes [...] }), seeds in a ring', async () => {
  // node i seeds node i+1, the last seeds the first: every node dials and is dialled
  const cfg = await startCluster(3, { useConfig: true, prefix: 'cf', seeds: (i) => (i + 1) % 3 });
  extra.push(...cfg);
  try {
    await waitMesh(cfg, 20000);
    for (const n of cfg) {
      const v = await n.mon('varz');
      assert.equal(v.server_name, n.name);
      assert.equal(v.cluster.name, 'C1');
    }
    const a = await connect({ servers: cfg[0].url });
    const c = await connect({ servers: cfg[2].url });
    try {
      const sub = c.subscribe('cfg.x', { max: 1 });
      await c.flush();
      await waitFor(async () => (((await cfg[0].routeTo(cfg[2])) || {}).subscriptions || 0) >= 1, 5000, 'interest on cf1');
      a.publish('cfg.x');
      const got = (async () => { for await (const m of sub) return m.subject; })();
      assert.equal(await Promise.race([got, sleep(5000).then(() => 'timeout')]), 'cfg.x');
    } finally { await a.close(); await c.close(); }
    // the ring must not leave duplicate routes behind (checked by waitMesh: exactly N-1 distinct remotes)
    assert.deepEqual(await (require('../lib/cluster').meshState)(cfg), []);
  } finally { await stopAll(cfg); }
});
