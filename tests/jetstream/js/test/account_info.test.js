'use strict';
// $JS.API.INFO (account info) on a 3-node cluster: every node answers with
// the whole cluster's usage, as nats-server 2.9.10 does: storage summed over
// every replica (an R3 stream's bytes count three times), consumers and
// streams counted once each, API requests and errors of every node.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const L = require('../lib/js');

let nodes = [];
const clients = new L.Clients();
const ncs = [];
const t = L.T(test, () => nodes);

before(async () => {
  nodes = await L.startCluster3('JSA');
  for (const n of nodes) ncs.push(await clients.conn(n));
  await L.waitClusterReady(nodes, ncs);
});
after(async () => {
  await clients.closeAll();
  await L.stopAll(nodes);
});

async function ok(nc, subject, body) {
  const r = await L.api(nc, subject, body);
  assert.ok(!r.error, `${subject}: ${JSON.stringify(r.error)}`);
  return r;
}

t('account info through every node sums the whole cluster', async () => {
  await ok(ncs[0], '$JS.API.STREAM.CREATE.ACC3', { name: 'ACC3', subjects: ['acc3.>'], num_replicas: 3 });
  await ok(ncs[1], '$JS.API.STREAM.CREATE.ACC1', { name: 'ACC1', subjects: ['acc1.>'], num_replicas: 1 });
  for (let i = 0; i < 10; i++) {
    const a = await L.rawPub(ncs[i % 3], `acc3.${i}`, `payload number ${i}`);
    assert.ok(!a.error, JSON.stringify(a));
  }
  for (let i = 0; i < 5; i++) {
    const a = await L.rawPub(ncs[2], `acc1.${i}`, 'x'.repeat(100 + i));
    assert.ok(!a.error, JSON.stringify(a));
  }
  await ok(ncs[0], '$JS.API.CONSUMER.DURABLE.CREATE.ACC3.c1', { stream_name: 'ACC3', config: { durable_name: 'c1', ack_policy: 'explicit' } });
  await ok(ncs[2], '$JS.API.CONSUMER.DURABLE.CREATE.ACC3.c2', { stream_name: 'ACC3', config: { durable_name: 'c2', ack_policy: 'explicit' } });
  await ok(ncs[1], '$JS.API.CONSUMER.DURABLE.CREATE.ACC1.c3', { stream_name: 'ACC1', config: { durable_name: 'c3', ack_policy: 'explicit' } });
  const b3 = (await ok(ncs[0], '$JS.API.STREAM.INFO.ACC3', null)).state.bytes;
  const b1 = (await ok(ncs[0], '$JS.API.STREAM.INFO.ACC1', null)).state.bytes;
  assert.ok(b3 > 0 && b1 > 0);
  // An error, counted by the node that answers it.
  const missing = await L.api(ncs[1], '$JS.API.STREAM.INFO.NOPE', null);
  L.assertApiError(missing, 404, 10059);

  for (const [i, nc] of ncs.entries()) {
    // nats-server's servers exchange usage every 1.5 s: wait for it (bounded).
    const info = await L.retry(async () => {
      const r = await ok(nc, '$JS.API.INFO', null);
      if (r.storage !== 3 * b3 + b1 || r.api.errors < 1) throw new Error(`node ${i + 1}: ${JSON.stringify(r)}`);
      return r;
    }, 15000, `node ${i + 1}'s account info to count every replica`);
    assert.equal(info.type, 'io.nats.jetstream.api.v1.account_info_response');
    assert.equal(info.memory, 0);
    assert.equal(info.streams, 2);
    assert.equal(info.consumers, 3);
    // At least the requests this test made (2 streams, 3 consumers, 2 infos,
    // 1 error), wherever they were answered.
    assert.ok(info.api.total >= 8, JSON.stringify(info.api));
  }

  // Deleting the R3 stream takes its bytes and consumers off every node's sum.
  await ok(ncs[2], '$JS.API.STREAM.DELETE.ACC3', null);
  for (const [i, nc] of ncs.entries()) {
    const info = await L.retry(async () => {
      const r = await ok(nc, '$JS.API.INFO', null);
      if (r.storage !== b1) throw new Error(`node ${i + 1}: ${JSON.stringify(r)}`);
      return r;
    }, 15000, `node ${i + 1}'s account info without the deleted stream`);
    assert.equal(info.streams, 1);
    assert.equal(info.consumers, 1);
  }
});
