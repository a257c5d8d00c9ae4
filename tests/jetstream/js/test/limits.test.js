'use strict';
// Stream limits and discard policies on a single JetStream node: max_msgs,
// max_bytes, max_age, max_msgs_per_subject, max_msg_size, discard old/new,
// discard_new_per_subject, deny_delete, deny_purge, sealed.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let jsm;
let js;
const t = L.T(test, () => [node]);
const enc = (s) => L.sc.encode(s);

before(async () => {
  node = await L.startSingle('l1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

async function payloads(stream, from, to) {
  const out = [];
  for (let s = from; s <= to; s++) out.push(L.sc.decode((await jsm.streams.getMessage(stream, { seq: s })).data));
  return out;
}

t('max_msgs, discard old: oldest dropped, sequences keep growing', async () => {
  await jsm.streams.add({ name: 'MO', subjects: ['mo'], max_msgs: 3 });
  for (let i = 1; i <= 5; i++) assert.equal((await js.publish('mo', enc(`m${i}`))).seq, i);
  const st = (await jsm.streams.info('MO')).state;
  assert.equal(st.messages, 3);
  assert.equal(st.first_seq, 3);
  assert.equal(st.last_seq, 5);
  assert.deepEqual(await payloads('MO', 3, 5), ['m3', 'm4', 'm5']);
  await L.assertRejectsApi(jsm.streams.getMessage('MO', { seq: 2 }), 10037, 'no message found');
  await jsm.streams.delete('MO');
});

t('max_msgs, discard new: 10077 maximum messages exceeded, nothing dropped', async () => {
  await jsm.streams.add({ name: 'MN', subjects: ['mn'], max_msgs: 3, discard: 'new' });
  for (let i = 1; i <= 3; i++) await js.publish('mn', enc(`m${i}`));
  const r = await L.rawPub(nc, 'mn', 'm4');
  L.assertApiError(r, 503, 10077, 'maximum messages exceeded');
  assert.equal(r.stream, 'MN');
  assert.equal(r.seq, 0);
  await L.assertRejectsApi(js.publish('mn', enc('m4')), 10077, 'maximum messages exceeded');
  const st = (await jsm.streams.info('MN')).state;
  assert.equal(st.messages, 3);
  assert.equal(st.first_seq, 1);
  assert.equal(st.last_seq, 3);
  // room again after a delete
  await jsm.streams.deleteMessage('MN', 1);
  assert.equal((await js.publish('mn', enc('m4'))).seq, 4);
  await jsm.streams.delete('MN');
});

t('max_bytes, discard old and new', async () => {
  // the exact record size is the server's business; the total stays within max_bytes
  await jsm.streams.add({ name: 'BO', subjects: ['bo'], max_bytes: 1000 });
  for (let i = 1; i <= 30; i++) await js.publish('bo', enc(`${i}`.padStart(100, '.')));
  let st = (await jsm.streams.info('BO')).state;
  assert.ok(st.bytes <= 1000 && st.bytes >= 300, `bytes ${st.bytes}`);
  assert.ok(st.messages >= 3 && st.messages < 10, `messages ${st.messages}`);
  assert.equal(st.last_seq, 30);
  assert.equal(st.first_seq, 31 - st.messages);
  await jsm.streams.add({ name: 'BN', subjects: ['bn'], max_bytes: 1000, discard: 'new' });
  let stored = 0;
  let err = null;
  for (let i = 1; i <= 30 && !err; i++) {
    const r = await L.rawPub(nc, 'bn', `${i}`.padStart(100, '.'));
    if (r.error) err = r; else stored = r.seq;
  }
  assert.ok(err, 'discard new refused a publish');
  L.assertApiError(err, 503, 10077, 'maximum bytes exceeded');
  st = (await jsm.streams.info('BN')).state;
  assert.equal(st.messages, stored);
  assert.equal(st.first_seq, 1);
  assert.ok(st.bytes <= 1000);
  // a message bigger than max_bytes by itself
  L.assertApiError(await L.rawPub(nc, 'bn', 'x'.repeat(2000)), 503, 10077, 'maximum bytes exceeded');
  await jsm.streams.delete('BO');
  await jsm.streams.delete('BN');
});

t('max_age 1 s: messages expire; empty stream has first_seq = last_seq + 1', async () => {
  const si = await jsm.streams.add({ name: 'AGE', subjects: ['age'], max_age: 1e9 });
  // duplicate_window defaults to max_age when that is smaller than 2 minutes
  assert.equal(si.config.duplicate_window, 1e9);
  await js.publish('age', enc('a'));
  await js.publish('age', enc('b'));
  assert.equal((await jsm.streams.info('AGE')).state.messages, 2);
  await L.waitFor(async () => (await jsm.streams.info('AGE')).state.messages === 0, 6000, 'expiry after max_age');
  const st = (await jsm.streams.info('AGE')).state;
  assert.equal(st.last_seq, 2);
  assert.equal(st.first_seq, 3);
  assert.equal(st.bytes, 0);
  // (nats-server 2.9.10 reports first_ts "1970-01-01T00:00:00Z" here, not the zero time: not asserted)
  assert.equal((await js.publish('age', enc('c'))).seq, 3);
  await jsm.streams.delete('AGE');
});

t('max_msgs_per_subject: old per subject dropped (discard old, and discard new without per-subject)', async () => {
  await jsm.streams.add({ name: 'PS', subjects: ['ps.>'], max_msgs_per_subject: 2 });
  for (const s of ['ps.a', 'ps.a', 'ps.b', 'ps.a', 'ps.b', 'ps.b']) await js.publish(s, enc(s));
  let info = await L.api(nc, '$JS.API.STREAM.INFO.PS', { subjects_filter: '>' });
  assert.deepEqual(info.state.subjects, { 'ps.a': 2, 'ps.b': 2 });
  assert.equal(info.state.messages, 4);
  assert.equal(info.state.num_subjects, 2);
  assert.equal(info.state.first_seq, 2);
  // discard new without discard_new_per_subject still drops the subject's oldest
  await jsm.streams.add({ name: 'PN', subjects: ['pn.>'], max_msgs_per_subject: 2, discard: 'new' });
  for (let i = 1; i <= 3; i++) assert.equal((await js.publish('pn.a', enc(`${i}`))).seq, i);
  info = await L.api(nc, '$JS.API.STREAM.INFO.PN', null);
  assert.equal(info.state.messages, 2);
  assert.equal(info.state.first_seq, 2);
  await jsm.streams.delete('PS');
  await jsm.streams.delete('PN');
});

t('discard_new_per_subject: 10077 maximum messages per subject exceeded', async () => {
  const si = await jsm.streams.add({ name: 'DN', subjects: ['dn.>'], max_msgs_per_subject: 2, discard: 'new', discard_new_per_subject: true });
  assert.equal(si.config.discard_new_per_subject, true);
  await js.publish('dn.a', enc('1'));
  await js.publish('dn.a', enc('2'));
  L.assertApiError(await L.rawPub(nc, 'dn.a', '3'), 503, 10077, 'maximum messages per subject exceeded');
  assert.equal((await js.publish('dn.b', enc('b'))).seq, 3, 'other subjects still take messages');
  // stream-wide max_msgs wins with its own text
  await jsm.streams.add({ name: 'DM', subjects: ['dm.>'], max_msgs: 2, max_msgs_per_subject: 5, discard: 'new', discard_new_per_subject: true });
  await js.publish('dm.a', enc('1'));
  await js.publish('dm.a', enc('2'));
  L.assertApiError(await L.rawPub(nc, 'dm.a', '3'), 503, 10077, 'maximum messages exceeded');
  await jsm.streams.delete('DN');
  await jsm.streams.delete('DM');
});

t('max_msg_size counts headers + payload: 10054', async () => {
  await jsm.streams.add({ name: 'MS', subjects: ['ms'], max_msg_size: 10 });
  assert.equal((await js.publish('ms', enc('x'.repeat(10)))).seq, 1);
  const r = await L.rawPub(nc, 'ms', 'x'.repeat(11));
  L.assertApiError(r, 400, 10054, 'message size exceeds maximum allowed');
  assert.equal(r.seq, 0);
  // 5 bytes of payload, but with a header the message is larger than 10
  L.assertApiError(await L.rawPub(nc, 'ms', 'x'.repeat(5), { 'Nats-Msg-Id': 'abc' }), 400, 10054, 'message size exceeds maximum allowed');
  await L.assertRejectsApi(js.publish('ms', enc('x'.repeat(11))), 10054);
  assert.equal((await jsm.streams.info('MS')).state.messages, 1);
  await jsm.streams.delete('MS');
});

t('deny_delete and deny_purge: 10057 and 10110; the stream can still be deleted', async () => {
  await jsm.streams.add({ name: 'DE', subjects: ['de'], deny_delete: true, deny_purge: true });
  await js.publish('de', enc('v'));
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.DE', { seq: 1 }), 500, 10057, 'message delete not permitted');
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.DE', { seq: 1, no_erase: true }), 500, 10057, 'message delete not permitted');
  await L.assertRejectsApi(jsm.streams.deleteMessage('DE', 1), 10057);
  const p = await L.api(nc, '$JS.API.STREAM.PURGE.DE', null);
  L.assertApiError(p, 500, 10110, 'stream purge not permitted');
  assert.equal(p.purged, 0);
  await L.assertRejectsApi(jsm.streams.purge('DE'), 10110);
  assert.equal((await jsm.streams.info('DE')).state.messages, 1);
  assert.equal(await jsm.streams.delete('DE'), true);
});

t('sealed: publish, delete, purge refused with 10109; info/get still work', async () => {
  await jsm.streams.add({ name: 'SE', subjects: ['se'] });
  await js.publish('se', enc('v'));
  const cfg = (await jsm.streams.info('SE')).config;
  const up = await jsm.streams.update('SE', { ...cfg, sealed: true });
  assert.equal(up.config.sealed, true);
  const r = await L.rawPub(nc, 'se', 'x');
  L.assertApiError(r, 400, 10109, 'invalid operation on sealed stream');
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.SE', { seq: 1 }), 400, 10109, 'invalid operation on sealed stream');
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.PURGE.SE', null), 400, 10109, 'invalid operation on sealed stream');
  assert.equal(L.sc.decode((await jsm.streams.getMessage('SE', { seq: 1 })).data), 'v');
  assert.equal((await jsm.streams.info('SE')).state.messages, 1);
  assert.equal(await jsm.streams.delete('SE'), true);
});
