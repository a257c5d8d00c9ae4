'use strict';
// Object store buckets through nats.js (js.views.os), which stand on a stream
// with rollup headers: chunked puts and gets (empty to several MB), digests,
// info, list, links, delete, seal, status, and a watcher.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let js;
const t = L.T(test, () => [node]);

before(async () => {
  node = await L.startSingle('o1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

function payload(n) {
  return new Uint8Array(crypto.randomBytes(n));
}

t('put and get objects of every size, with digests and chunk counts', async () => {
  const os = await js.views.os('blobs', { description: 'objects' });
  const chunk = 128 * 1024;
  const sizes = { empty: 0, small: 100, one: chunk, several: 3 * chunk + 17, large: 5 * 1024 * 1024 };
  const data = {};
  for (const [name, n] of Object.entries(sizes)) {
    data[name] = payload(n);
    const info = await os.putBlob({ name }, data[name]);
    assert.equal(info.size, n, name);
    assert.equal(info.chunks, Math.ceil(n / chunk), name);
    const digest = 'SHA-256=' + crypto.createHash('sha256').update(data[name]).digest('base64url');
    // nats.js pads its base64url digest; compare without the padding.
    assert.equal(info.digest.replace(/=+$/, ''), digest.replace(/=+$/, ''), name);
  }
  for (const [name, bytes] of Object.entries(data)) {
    const got = await os.getBlob(name);
    assert.ok(got !== null, name);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes)), `${name}: contents differ`);
  }
  const names = (await os.list()).map((o) => o.name).sort();
  assert.deepEqual(names, ['empty', 'large', 'one', 'several', 'small']);

  // Overwrite: the new contents, and the old chunks are purged.
  const before = (await os.status()).size;
  const replacement = payload(1000);
  await os.putBlob({ name: 'large' }, replacement);
  assert.ok(Buffer.from(await os.getBlob('large')).equals(Buffer.from(replacement)));
  assert.ok((await os.status()).size < before, 'old chunks purged');

  // Links.
  const small = await os.info('small');
  await os.link('alias', small);
  assert.ok(Buffer.from(await os.getBlob('alias')).equals(Buffer.from(data.small)));

  // Delete.
  await os.delete('several');
  assert.equal(await os.getBlob('several'), null);
  const gone = await os.info('several');
  assert.equal(gone.deleted, true);
  assert.equal(gone.size, 0);
  assert.equal(await os.getBlob('never-put'), null);

  const st = await os.status();
  assert.equal(st.bucket, 'blobs');
  assert.equal(st.description, 'objects');
  assert.equal(st.replicas, 1);
  assert.equal(st.sealed, false);

  await os.seal();
  assert.equal((await os.status()).sealed, true);
  await assert.rejects(os.putBlob({ name: 'after-seal' }, payload(10)));
  assert.ok(Buffer.from(await os.getBlob('small')).equals(Buffer.from(data.small)), 'sealed bucket still readable');
  assert.equal(await os.destroy(), true);
});

t('a watcher sees the current objects, then new ones', async () => {
  const os = await js.views.os('watched');
  await os.putBlob({ name: 'a' }, payload(10));
  await os.putBlob({ name: 'b' }, payload(200 * 1024));
  const w = await os.watch({ includeHistory: true });
  const seen = [];
  const done = (async () => {
    for await (const info of w) {
      if (info === null) continue;
      seen.push(info.name);
      if (seen.length === 3) break;
    }
  })();
  await L.retry(async () => { if (seen.length < 2) throw new Error(seen.join(',')); }, 5000, 'current objects');
  assert.deepEqual(seen.slice(0, 2).sort(), ['a', 'b']);
  await os.putBlob({ name: 'c' }, payload(5));
  await Promise.race([done, L.sleep(5000)]);
  w.stop();
  assert.deepEqual(seen.slice(2), ['c']);
});
