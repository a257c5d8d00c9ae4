'use strict';
// Key-value buckets through nats.js (js.views.kv), which stand on streams,
// direct/last-by-subject gets and ordered push consumers with
// deliver_policy last_per_subject: put/get/update/create/delete/purge,
// history, keys, and a watcher that sees the current values, then changes.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let js;
const t = L.T(test, () => [node]);

before(async () => {
  node = await L.startSingle('k1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

t('put, get, update, create, delete, history, keys', async () => {
  const kv = await js.views.kv('cfg', { history: 5 });
  const r1 = await kv.put('a.b', L.sc.encode('v1'));
  const r2 = await kv.put('a.b', L.sc.encode('v2'));
  assert.equal(r2, r1 + 1);
  await kv.put('c', L.sc.encode('c1'));
  const e = await kv.get('a.b');
  assert.equal(L.sc.decode(e.value), 'v2');
  assert.equal(e.revision, r2);
  assert.equal(e.key, 'a.b');
  await assert.rejects(kv.update('a.b', L.sc.encode('bad'), r1), /wrong last sequence/);
  const r3 = await kv.update('a.b', L.sc.encode('v3'), r2);
  assert.ok(r3 > r2);
  await assert.rejects(kv.create('a.b', L.sc.encode('again')));
  await kv.create('fresh', L.sc.encode('f'));
  await kv.delete('c');
  assert.equal((await kv.get('c')).operation, 'DEL');
  const keys = [];
  for await (const k of await kv.keys()) keys.push(k);
  assert.deepEqual(keys.sort(), ['a.b', 'fresh']);
  const hist = [];
  for await (const h of await kv.history({ key: 'a.b' })) hist.push(L.sc.decode(h.value));
  assert.deepEqual(hist, ['v1', 'v2', 'v3']);
  assert.equal(await kv.get('missing'), null);
});

t('a watcher gets the current values, then every change', async () => {
  const kv = await js.views.kv('watch');
  await kv.put('x', L.sc.encode('1'));
  await kv.put('y', L.sc.encode('1'));
  await kv.put('x', L.sc.encode('2'));
  const w = await kv.watch();
  const seen = [];
  const done = (async () => {
    for await (const e of w) {
      seen.push(`${e.key}=${L.sc.decode(e.value)}:${e.operation}`);
      if (seen.length === 4) break;
    }
  })();
  await L.retry(async () => { if (seen.length < 2) throw new Error(seen.join(',')); }, 5000, 'initial values');
  assert.deepEqual(seen.slice(0, 2), ['y=1:PUT', 'x=2:PUT'], 'only the last value of each key, in order');
  await kv.put('y', L.sc.encode('2'));
  await kv.delete('x');
  await Promise.race([done, L.sleep(5000)]);
  w.stop();
  assert.deepEqual(seen, ['y=1:PUT', 'x=2:PUT', 'y=2:PUT', 'x=:DEL']);
});
