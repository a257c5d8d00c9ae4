'use strict';
// Reading and removing messages on a single JetStream node: STREAM.MSG.GET
// (seq, last_by_subj, next_by_subj), DIRECT.GET (allow_direct), MSG.DELETE
// (erase and no_erase), PURGE (all, filter, keep, seq), STREAM.INFO with
// subjects_filter and deleted_details.
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
const b64 = (s) => Buffer.from(s).toString('base64');

before(async () => {
  node = await L.startSingle('m1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

// g.a g.b g.a g.c g.b at seqs 1..5, each with header Hdr-X: 1, payload p-<subject>
async function fill(name, direct) {
  await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`], allow_direct: direct });
  const p = name.toLowerCase();
  for (const s of ['a', 'b', 'a', 'c', 'b']) await L.rawPub(nc, `${p}.${s}`, `p-${p}.${s}`, { 'Hdr-X': '1' });
}

t('MSG.GET by seq, last_by_subj, next_by_subj: raw JSON and errors', async () => {
  await fill('G', false);
  const get = (b) => L.api(nc, '$JS.API.STREAM.MSG.GET.G', b);
  const r = await get({ seq: 2 });
  assert.equal(r.type, 'io.nats.jetstream.api.v1.stream_msg_get_response');
  assert.equal(r.message.subject, 'g.b');
  assert.equal(r.message.seq, 2);
  assert.equal(r.message.data, b64('p-g.b'));
  assert.equal(r.message.hdrs, b64('NATS/1.0\r\nHdr-X: 1\r\n\r\n'));
  assert.ok(Date.parse(r.message.time) > 0);
  assert.equal((await get({ last_by_subj: 'g.a' })).message.seq, 3);
  assert.equal((await get({ last_by_subj: 'g.*' })).message.seq, 5, 'last_by_subj takes a wildcard');
  assert.equal((await get({ next_by_subj: 'g.b', seq: 3 })).message.seq, 5);
  assert.equal((await get({ next_by_subj: 'g.b', seq: 2 })).message.seq, 2, 'next_by_subj starts at seq (inclusive)');
  assert.equal((await get({ next_by_subj: 'g.b' })).message.seq, 2, 'no seq: from the start');
  assert.equal((await get({ next_by_subj: 'g.>', seq: 4 })).message.seq, 4);
  L.assertApiError(await get({ seq: 99 }), 404, 10037, 'no message found');
  L.assertApiError(await get({ last_by_subj: 'g.zz' }), 404, 10037, 'no message found');
  L.assertApiError(await get({ next_by_subj: 'g.a', seq: 4 }), 404, 10037, 'no message found');
  L.assertApiError(await get({ seq: 0 }), 400, 10003, 'bad request');
  L.assertApiError(await get({}), 400, 10003, 'bad request');
  L.assertApiError(await get(null), 400, 10003, 'bad request');
  L.assertApiError(await get({ seq: 1, last_by_subj: 'g.a' }), 400, 10003, 'bad request');
  // through nats.js
  const m = await jsm.streams.getMessage('G', { last_by_subj: 'g.c' });
  assert.equal(m.seq, 4);
  assert.equal(m.subject, 'g.c');
  assert.equal(L.sc.decode(m.data), 'p-g.c');
  assert.equal(m.header.get('Hdr-X'), '1');
  await L.assertRejectsApi(jsm.streams.getMessage('G', { seq: 42 }), 10037, 'no message found');
  // DIRECT.GET without allow_direct: nats-server 2.9.10 does not answer (timeout); no-responders is also fine
  await assert.rejects(nc.request('$JS.API.DIRECT.GET.G', enc('{"seq":1}'), { timeout: 1000 }), (e) => e.code === 'TIMEOUT' || e.code === '503');
  await jsm.streams.delete('G');
});

t('DIRECT.GET with allow_direct: stored message + Nats-Stream/Subject/Sequence/Time-Stamp; status errors', async () => {
  await fill('D', true);
  const dget = (subj, body) => nc.request(subj, body === null ? new Uint8Array() : enc(typeof body === 'string' ? body : JSON.stringify(body)), { timeout: 3000 });
  const check = (m, subj, seq) => {
    assert.equal(L.sc.decode(m.data), `p-${subj}`);
    assert.equal(m.headers.get('Hdr-X'), '1');
    assert.equal(m.headers.get('Nats-Stream'), 'D');
    assert.equal(m.headers.get('Nats-Subject'), subj);
    assert.equal(m.headers.get('Nats-Sequence'), String(seq));
    assert.ok(Date.parse(m.headers.get('Nats-Time-Stamp')) > 0, m.headers.get('Nats-Time-Stamp'));
  };
  check(await dget('$JS.API.DIRECT.GET.D', { seq: 2 }), 'd.b', 2);
  check(await dget('$JS.API.DIRECT.GET.D', { last_by_subj: 'd.a' }), 'd.a', 3);
  check(await dget('$JS.API.DIRECT.GET.D', { next_by_subj: 'd.b', seq: 3 }), 'd.b', 5);
  check(await dget('$JS.API.DIRECT.GET.D.d.c', null), 'd.c', 4);
  const status = async (subj, body, code, desc) => {
    const m = await dget(subj, body);
    assert.ok(m.headers, 'a status message');
    assert.equal(m.headers.code, code);
    assert.equal(m.headers.description, desc);
    assert.equal(m.data.length, 0);
  };
  await status('$JS.API.DIRECT.GET.D', { seq: 99 }, 404, 'Message Not Found');
  await status('$JS.API.DIRECT.GET.D.d.zz', null, 404, 'Message Not Found');
  await status('$JS.API.DIRECT.GET.D', {}, 408, 'Empty Request');
  await status('$JS.API.DIRECT.GET.D', null, 408, 'Empty Request');
  await status('$JS.API.DIRECT.GET.D', '{bad', 408, 'Malformed Request');
  // nats.js direct API
  const m = await jsm.direct.getMessage('D', { last_by_subj: 'd.b' });
  assert.equal(m.seq, 5);
  assert.equal(m.subject, 'd.b');
  assert.equal(m.stream, 'D');
  // a deleted message is not found
  await jsm.streams.deleteMessage('D', 2);
  await status('$JS.API.DIRECT.GET.D', { seq: 2 }, 404, 'Message Not Found');
  await jsm.streams.delete('D');
});

t('MSG.DELETE with and without no_erase; errors; deleted_details', async () => {
  await fill('X', false);
  const del = (b) => L.api(nc, '$JS.API.STREAM.MSG.DELETE.X', b);
  const r = await del({ seq: 2 });
  assert.equal(r.type, 'io.nats.jetstream.api.v1.stream_msg_delete_response');
  assert.equal(r.success, true);
  L.assertApiError(await del({ seq: 2 }), 400, 10043, 'sequence 2 not found');
  assert.equal((await del({ seq: 3, no_erase: true })).success, true);
  // beyond the end: 2.9.10 reports its store error text
  L.assertApiError(await del({ seq: 99 }), 500, 10057, 'stream store EOF');
  L.assertApiError(await del({}), 400, 10003, 'bad request');
  L.assertApiError(await del(null), 400, 10003, 'bad request');
  assert.equal(await jsm.streams.deleteMessage('X', 4, false), true);
  assert.equal(await jsm.streams.deleteMessage('X', 1, true), true);
  const info = await L.api(nc, '$JS.API.STREAM.INFO.X', { deleted_details: true });
  // first message deleted: first_seq moves; interior deletes are listed
  assert.equal(info.state.messages, 1);
  assert.equal(info.state.first_seq, 5);
  assert.equal(info.state.last_seq, 5);
  for (const s of [1, 2, 3, 4]) {
    L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.GET.X', { seq: s }), 404, 10037, 'no message found');
  }
  // interior deletes are reported in num_deleted / deleted
  await jsm.streams.add({ name: 'Y', subjects: ['y'] });
  for (let i = 0; i < 5; i++) await js.publish('y', enc(`${i}`));
  await jsm.streams.deleteMessage('Y', 2);
  await jsm.streams.deleteMessage('Y', 4, false);
  const yi = await L.api(nc, '$JS.API.STREAM.INFO.Y', { deleted_details: true });
  assert.equal(yi.state.messages, 3);
  assert.equal(yi.state.num_deleted, 2);
  assert.deepEqual(yi.state.deleted, [2, 4]);
  const plain = await L.api(nc, '$JS.API.STREAM.INFO.Y', null);
  assert.equal(plain.state.deleted, undefined, 'deleted list only on request');
  await jsm.streams.delete('X');
  await jsm.streams.delete('Y');
});

t('PURGE: filter+keep, seq, keep, all, filter+seq; bad combination', async () => {
  await jsm.streams.add({ name: 'H', subjects: ['h.>'] });
  for (let i = 1; i <= 10; i++) await js.publish(i % 2 ? 'h.odd' : 'h.even', enc(`v${i}`));
  const purge = (b) => L.api(nc, '$JS.API.STREAM.PURGE.H', b);
  const subjects = async () => (await L.api(nc, '$JS.API.STREAM.INFO.H', { subjects_filter: '>' })).state;
  let r = await purge({ filter: 'h.odd', keep: 2 });
  assert.equal(r.type, 'io.nats.jetstream.api.v1.stream_purge_response');
  assert.deepEqual([r.success, r.purged], [true, 3]);
  let st = await subjects();
  assert.deepEqual(st.subjects, { 'h.even': 5, 'h.odd': 2 });
  assert.equal(st.messages, 7);
  assert.equal(st.first_seq, 2);
  // seq: purge everything below seq
  r = await purge({ seq: 6 });
  assert.equal(r.purged, 2);
  st = await subjects();
  assert.deepEqual(st.subjects, { 'h.even': 3, 'h.odd': 2 });
  assert.equal(st.first_seq, 6);
  // keep: the newest N
  r = await purge({ keep: 1 });
  assert.equal(r.purged, 4);
  st = await subjects();
  assert.deepEqual(st.subjects, { 'h.even': 1 });
  assert.equal(st.first_seq, 10);
  // all
  r = await purge(null);
  assert.deepEqual([r.success, r.purged], [true, 1]);
  st = (await L.api(nc, '$JS.API.STREAM.INFO.H', null)).state;
  assert.equal(st.messages, 0);
  assert.equal(st.bytes, 0);
  assert.equal(st.first_seq, 11);
  assert.equal(st.last_seq, 10);
  assert.equal(st.first_ts, '0001-01-01T00:00:00Z');
  // sequences continue after a purge
  assert.equal((await js.publish('h.odd', enc('v11'))).seq, 11);
  r = await purge({ filter: 'h.*', seq: 3 });
  assert.deepEqual([r.success, r.purged], [true, 0]);
  L.assertApiError(await purge({ seq: 5, keep: 1 }), 400, 10003, 'bad request');
  const none = await purge({ filter: 'zz.>' });
  assert.deepEqual([none.success, none.purged], [true, 0]);
  // nats.js purge options
  for (let i = 12; i <= 15; i++) await js.publish('h.even', enc(`v${i}`));
  const pr = await jsm.streams.purge('H', { filter: 'h.even', keep: 1 });
  assert.equal(pr.purged, 3);
  assert.equal((await jsm.streams.info('H')).state.messages, 2);
  await jsm.streams.delete('H');
});

t('STREAM.INFO subjects_filter: exact, wildcard, none; num_subjects', async () => {
  await jsm.streams.add({ name: 'F', subjects: ['f.>'] });
  for (const s of ['f.a.1', 'f.a.2', 'f.b.1', 'f.a.1', 'f.c']) await js.publish(s, enc('x'));
  const info = (f) => L.api(nc, '$JS.API.STREAM.INFO.F', { subjects_filter: f });
  let r = await info('f.a.*');
  assert.deepEqual(r.state.subjects, { 'f.a.1': 2, 'f.a.2': 1 });
  assert.equal(r.total, 2);
  assert.equal(r.state.num_subjects, 4);
  r = await info('f.c');
  assert.deepEqual(r.state.subjects, { 'f.c': 1 });
  r = await info('>');
  assert.deepEqual(r.state.subjects, { 'f.a.1': 2, 'f.a.2': 1, 'f.b.1': 1, 'f.c': 1 });
  r = await info('f.zz');
  assert.ok(!r.state.subjects || Object.keys(r.state.subjects).length === 0);
  r = await L.api(nc, '$JS.API.STREAM.INFO.F', null);
  assert.equal(r.state.subjects, undefined, 'no subjects map unless asked');
  const si = await jsm.streams.info('F', { subjects_filter: 'f.b.>' });
  assert.deepEqual(si.state.subjects, { 'f.b.1': 1 });
  await jsm.streams.delete('F');
});
