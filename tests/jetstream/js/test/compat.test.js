'use strict';
// Requests where the stream API must answer as nats-server 2.9.10 does, found
// by sending the same bytes to both (single node): what real clients send
// (async-nats: `null` for STREAM.INFO, `{}` for STREAM.DELETE), request
// bodies at the edges, discard-new limits as the stores apply them, paging,
// direct-get forms, header values and the API counters.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let jsm;
const t = L.T(test, () => [node]);
const enc = (s) => L.sc.encode(s);

before(async () => {
  node = await L.startSingle('c1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  jsm = await nc.jetstreamManager();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

async function add(cfg) {
  const r = await L.api(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, cfg);
  assert.ok(!r.error, `create ${cfg.name}: ${JSON.stringify(r.error)}`);
  return r;
}

t('null and {} bodies: STREAM.INFO, NAMES, DELETE, MSG.GET, MSG.DELETE, UPDATE', async () => {
  await add({ name: 'NB', subjects: ['nb.>'] });
  const info = await L.api(nc, '$JS.API.STREAM.INFO.NB', 'null');
  assert.ok(!info.error, JSON.stringify(info.error));
  assert.equal(info.config.name, 'NB');
  // nats-server's stream info reply always carries the paging members.
  assert.deepEqual([info.total, info.offset, info.limit], [0, 0, 0]);
  const plain = await L.api(nc, '$JS.API.STREAM.INFO.NB', null);
  assert.deepEqual([plain.total, plain.offset, plain.limit], [0, 0, 0]);
  const names = await L.api(nc, '$JS.API.STREAM.NAMES', 'null');
  assert.ok(!names.error && names.streams.includes('NB'), JSON.stringify(names));

  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.GET.NB', 'null'), 400, 10003, 'bad request');
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.NB', 'null'), 500, 10057, 'no message found');
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.NB', '{}'), 400, 10003, 'bad request');
  // An update's configuration is checked before its name is compared.
  for (const body of ['{}', 'null', '{"subjects":["nb.>"]}', '{"name":""}']) {
    L.assertApiError(await L.api(nc, '$JS.API.STREAM.UPDATE.NB', body), 500, 10052,
      "stream name is required and can not contain '.', '*', '>'");
  }
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.DELETE.NB', 'null'), 400, 10038,
    'expected an empty request payload');
  const del = await L.api(nc, '$JS.API.STREAM.DELETE.NB', '{ }');
  assert.deepEqual(del, { type: 'io.nats.jetstream.api.v1.stream_delete_response', success: true });
});

t('config: max_msg_size is an int32, mirror_direct needs a mirror, enums refuse null', async () => {
  for (const verb of ['CREATE', 'UPDATE']) {
    L.assertApiError(await L.api(nc, `$JS.API.STREAM.${verb}.BIG`,
      { name: 'BIG', subjects: ['big'], max_msg_size: 3000000000 }), 400, 10025, 'invalid JSON');
  }
  const ok = await add({ name: 'BIG', subjects: ['big'], max_msg_size: 2147483647 });
  assert.equal(ok.config.max_msg_size, 2147483647);
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.CREATE.MD', { name: 'MD', subjects: ['md'], mirror_direct: true }),
    500, 10052, 'stream has no mirror but does have mirror direct');
  for (const k of ['retention', 'discard', 'storage']) {
    L.assertApiError(await L.api(nc, '$JS.API.STREAM.CREATE.EN', `{"name":"EN","subjects":["en"],"${k}":null}`),
      400, 10025, 'invalid JSON');
  }
});

t('an update that tightens limits answers with the trimmed state', async () => {
  await add({ name: 'UL', subjects: ['ul.>'] });
  for (const s of ['a', 'a', 'a', 'b', 'b']) await L.rawPub(nc, `ul.${s}`, 'x');
  const r = await L.api(nc, '$JS.API.STREAM.UPDATE.UL', { name: 'UL', subjects: ['ul.>'], max_msgs: 2 });
  assert.ok(!r.error, JSON.stringify(r.error));
  assert.equal(r.state.messages, 2);
  assert.equal(r.state.first_seq, 4);
});

t('discard new: a message replacing its subject oldest passes max_msgs and max_bytes', async () => {
  // MaxMsgs 3, one per subject: a b c fill it; a again replaces a; d and e
  // are new subjects over the limit.
  await add({ name: 'DN', subjects: ['dn.>'], discard: 'new', max_msgs: 3, max_msgs_per_subject: 1 });
  const got = [];
  for (const s of ['a', 'b', 'c', 'a', 'd', 'b', 'e']) {
    const ack = await L.rawPub(nc, `dn.${s}`, 'x');
    got.push(ack.error ? `x${ack.error.err_code}` : '.');
  }
  assert.deepEqual(got, ['.', '.', '.', '.', 'x10077', '.', 'x10077']);

  // max_bytes compares stored bytes + headers + payload (>=); what is over
  // after the append is removed from the head, as discard old does.
  await add({ name: 'DB', subjects: ['db'], discard: 'new', max_bytes: 100 });
  const ack70 = await L.rawPub(nc, 'db', 'y'.repeat(70));
  assert.ok(!ack70.error, JSON.stringify(ack70));
  let info = await jsm.streams.info('DB');
  assert.equal(info.state.messages, 0, 'a 70-byte payload is stored (102 bytes) and removed at once');
  const sizes = [];
  for (const n of [40, 27, 28, 0]) {
    const a = await L.rawPub(nc, 'db', 'z'.repeat(n));
    sizes.push(a.error ? a.error.err_code : 'ok');
  }
  info = await jsm.streams.info('DB');
  assert.deepEqual(sizes, ['ok', 'ok', 'ok', 'ok']);
  assert.ok(info.state.bytes <= 100, JSON.stringify(info.state));

  // A full KV-like stream (history 1, discard new, max_bytes): a put to an
  // existing key, and a delete marker, still go in.
  await add({ name: 'KVF', subjects: ['kvf.>'], discard: 'new', max_bytes: 1000, max_msgs_per_subject: 1 });
  let k = 0;
  for (; k < 50; k++) {
    const a = await L.rawPub(nc, `kvf.k${k}`, 'v'.repeat(100));
    if (a.error) { L.assertApiError(a, 503, 10077, 'maximum bytes exceeded'); break; }
  }
  assert.ok(k > 1 && k < 50, `filled after ${k} keys`);
  assert.ok(!(await L.rawPub(nc, 'kvf.k0', 'w'.repeat(100))).error, 'an update of an existing key');
  assert.ok(!(await L.rawPub(nc, 'kvf.k1', '', { 'KV-Operation': 'DEL' })).error, 'a delete marker');
  // The marker freed room: a small new key fits, a large one does not.
  L.assertApiError(await L.rawPub(nc, 'kvf.new', 'v'.repeat(200)), 503, 10077, 'maximum bytes exceeded');
  assert.ok(!(await L.rawPub(nc, 'kvf.new', 'v')).error);
});

t('memory streams count bytes as the memory store: subject + headers + data + 16', async () => {
  // nats-server: memStoreMsgSize for memory streams, fileStoreMsgSize
  // (22 + subject + data + 8, + 4 + headers) for file streams.
  for (const [name, storage, want] of [['SZM', 'memory', [31, 171]], ['SZF', 'file', [45, 203]]]) {
    await add({ name, subjects: [`${name.toLowerCase()}.>`], storage });
    const p = name.toLowerCase();
    assert.ok(!(await L.rawPub(nc, `${p}.a`, 'x'.repeat(10))).error);
    assert.equal((await jsm.streams.info(name)).state.bytes, want[0], `${name} after one`);
    assert.ok(!(await L.rawPub(nc, `${p}.bb`, 'x'.repeat(100), { X: 'y' })).error);
    const st = (await jsm.streams.info(name)).state;
    assert.deepEqual([st.messages, st.bytes], [2, want[1]], name);
    await jsm.streams.deleteMessage(name, 1);
    assert.equal((await jsm.streams.info(name)).state.bytes, want[1] - want[0], `${name} after a delete`);
    await jsm.streams.delete(name);
  }
  // max_bytes bites where the memory store's count says: 59 bytes a message
  // here, so two fit in 120 (a file stream holds one: 73 each).
  await add({ name: 'SZL', subjects: ['szl'], storage: 'memory', max_bytes: 120 });
  for (let i = 0; i < 3; i++) assert.ok(!(await L.rawPub(nc, 'szl', 'y'.repeat(40))).error);
  const st = (await jsm.streams.info('SZL')).state;
  assert.deepEqual([st.messages, st.bytes, st.first_seq], [2, 118, 2]);
  await add({ name: 'SZN', subjects: ['szn'], storage: 'memory', max_bytes: 120, discard: 'new' });
  const got = [];
  for (let i = 0; i < 3; i++) {
    const a = await L.rawPub(nc, 'szn', 'y'.repeat(40));
    got.push(a.error ? a.error.err_code : a.seq);
  }
  assert.deepEqual(got, [1, 2, 10077]);
  await jsm.streams.delete('SZL');
  await jsm.streams.delete('SZN');
});

t('a missing stream: stream info and consumer names/list errors keep their paging members', async () => {
  const err = { code: 404, err_code: 10059, description: 'stream not found' };
  const info = await L.api(nc, '$JS.API.STREAM.INFO.NOPE', null);
  assert.deepEqual(Object.keys(info), ['type', 'error', 'total', 'offset', 'limit']);
  assert.deepEqual([info.error, info.total, info.offset, info.limit], [err, 0, 0, 0]);
  for (const [op, type] of [['NAMES', 'consumer_names'], ['LIST', 'consumer_list']]) {
    const r = await L.api(nc, `$JS.API.CONSUMER.${op}.NOPE`, null);
    assert.deepEqual(r, { type: `io.nats.jetstream.api.v1.${type}_response`, error: err, total: 0, offset: 0, limit: 0, consumers: [] });
    assert.deepEqual(Object.keys(r), ['type', 'error', 'total', 'offset', 'limit', 'consumers']);
  }
  const purge = await L.api(nc, '$JS.API.STREAM.PURGE.NOPE', null);
  assert.deepEqual(purge, { type: 'io.nats.jetstream.api.v1.stream_purge_response', error: err, purged: 0 });
  const ci = await L.api(nc, '$JS.API.CONSUMER.INFO.NOPE.C', null);
  assert.deepEqual(ci, { type: 'io.nats.jetstream.api.v1.consumer_info_response', error: err });
});

t('API audit advisories: one per answered API request, with its request and response', async () => {
  const sub = nc.subscribe('$JS.EVENT.ADVISORY.API');
  const audits = [];
  const done = (async () => { for await (const m of sub) audits.push(JSON.parse(L.sc.decode(m.data))); })();
  await nc.flush();
  const body = { name: 'AUD', subjects: ['aud'], allow_direct: true };
  const created = await nc.request('$JS.API.STREAM.CREATE.AUD', enc(JSON.stringify(body)), { timeout: 5000 });
  const missing = await nc.request('$JS.API.STREAM.INFO.NOPE', enc(''), { timeout: 5000 });
  await L.rawPub(nc, 'aud', 'x');
  await nc.request('$JS.API.DIRECT.GET.AUD', enc('{"seq":1}'), { timeout: 5000 });  // not audited
  const names = await nc.request('$JS.API.STREAM.NAMES', enc(''), { timeout: 5000 });
  await L.waitFor(async () => audits.length >= 3, 5000, 'three audit advisories');
  await nc.flush();
  sub.unsubscribe();
  await done;
  assert.deepEqual(audits.map((a) => a.subject), ['$JS.API.STREAM.CREATE.AUD', '$JS.API.STREAM.INFO.NOPE', '$JS.API.STREAM.NAMES']);
  for (const a of audits) {
    assert.equal(a.type, 'io.nats.jetstream.advisory.v1.api_audit');
    assert.deepEqual(Object.keys(a).slice(0, 6), ['type', 'id', 'timestamp', 'server', 'client', 'subject']);
    assert.equal(a.server, nc.info.server_name);
    assert.equal(a.client.acc, '$G');
    assert.equal(a.client.server, nc.info.server_name);
  }
  assert.equal(audits[0].request, JSON.stringify(body));
  assert.equal(audits[0].response, L.sc.decode(created.data));
  assert.equal('request' in audits[1], false, 'an empty request is left out');
  assert.equal(audits[1].response, L.sc.decode(missing.data));
  assert.equal(audits[2].response, L.sc.decode(names.data));
  await jsm.streams.delete('AUD');
});

t('a found STREAM.MSG.GET is answered outside the API layer: not counted, not audited; its errors are', async () => {
  await add({ name: 'MG', subjects: ['mg.>'] });
  await L.rawPub(nc, 'mg.a', 'x');
  const sub = nc.subscribe('$JS.EVENT.ADVISORY.API');
  const audits = [];
  const done = (async () => { for await (const m of sub) audits.push(JSON.parse(L.sc.decode(m.data))); })();
  await nc.flush();
  // Each account info counts itself only after answering: read the totals
  // twice around the gets and take the INFO requests out.
  const before = (await L.api(nc, '$JS.API.INFO', undefined)).api;
  const found = await L.api(nc, '$JS.API.STREAM.MSG.GET.MG', { seq: 1 });
  assert.equal(found.message.seq, 1);
  const byLast = await L.api(nc, '$JS.API.STREAM.MSG.GET.MG', { last_by_subj: 'mg.a' });
  assert.equal(byLast.message.seq, 1);
  const missing = await L.api(nc, '$JS.API.STREAM.MSG.GET.MG', { seq: 9 });
  assert.equal(missing.error.err_code, 10037);
  const after = (await L.api(nc, '$JS.API.INFO', undefined)).api;
  assert.equal(after.total - before.total, 2, 'the first INFO and the failed get');
  assert.equal(after.errors - before.errors, 1);
  await L.waitFor(async () => audits.some((a) => a.subject === '$JS.API.STREAM.MSG.GET.MG'), 5000, 'the failed get audited');
  await nc.flush();
  sub.unsubscribe();
  await done;
  const gets = audits.filter((a) => a.subject === '$JS.API.STREAM.MSG.GET.MG');
  assert.equal(gets.length, 1, 'only the failed get is audited');
  assert.equal(JSON.parse(gets[0].response).error.err_code, 10037);
  await jsm.streams.delete('MG');
});

t('MSG.DELETE of a missing message answers its error as a plain response: counted, not as an error', async () => {
  await add({ name: 'MD', subjects: ['md.>'] });
  await L.rawPub(nc, 'md.a', 'x');
  await L.rawPub(nc, 'md.a', 'y');
  const before = (await L.api(nc, '$JS.API.INFO', undefined)).api;
  assert.equal((await L.api(nc, '$JS.API.STREAM.MSG.DELETE.MD', { seq: 1 })).success, true);
  const again = await L.api(nc, '$JS.API.STREAM.MSG.DELETE.MD', { seq: 1 });
  assert.equal(again.error.err_code, 10057, JSON.stringify(again));
  const past = await L.api(nc, '$JS.API.STREAM.MSG.DELETE.MD', { seq: 50, no_erase: true });
  assert.equal(past.error.err_code, 10057, JSON.stringify(past));
  const after = (await L.api(nc, '$JS.API.INFO', undefined)).api;
  assert.equal(after.total - before.total, 4, 'the first INFO and the three deletes');
  assert.equal(after.errors - before.errors, 0);
  // A refused request still counts as an error (deny_delete).
  await add({ name: 'MDD', subjects: ['mdd.>'], deny_delete: true });
  await L.rawPub(nc, 'mdd.a', 'x');
  const b2 = (await L.api(nc, '$JS.API.INFO', undefined)).api;
  const denied = await L.api(nc, '$JS.API.STREAM.MSG.DELETE.MDD', { seq: 1 });
  assert.deepEqual([denied.error.err_code, denied.error.description], [10057, 'message delete not permitted']);
  const a2 = (await L.api(nc, '$JS.API.INFO', undefined)).api;
  assert.equal(a2.errors - b2.errors, 1);
  await jsm.streams.delete('MD');
  await jsm.streams.delete('MDD');
});

t('template owners are refused: a create names no template here, an update never may', async () => {
  let r = await L.api(nc, '$JS.API.STREAM.CREATE.TO', { name: 'TO', subjects: ['to.>'], template_owner: 't' });
  assert.deepEqual(r.error, { code: 500, err_code: 10049, description: 'stream not owned by template' });
  await add({ name: 'TO', subjects: ['to.>'] });
  r = await L.api(nc, '$JS.API.STREAM.UPDATE.TO', { name: 'TO', subjects: ['to.>'], template_owner: 't' });
  assert.deepEqual(r.error, { code: 500, err_code: 10052, description: 'stream configuration update can not be owned by a template' });
  r = await L.api(nc, '$JS.API.STREAM.INFO.TO', undefined);
  assert.equal(r.config.template_owner, undefined);
  await jsm.streams.delete('TO');
});

t('a single server refuses consumer replicas (10074), not as more than the stream has (10126)', async () => {
  await add({ name: 'CR', subjects: ['cr'] });
  for (const [subject, config] of [
    ['$JS.API.CONSUMER.DURABLE.CREATE.CR.d3', { durable_name: 'd3', ack_policy: 'explicit', num_replicas: 3 }],
    ['$JS.API.CONSUMER.CREATE.CR', { ack_policy: 'explicit', num_replicas: 5 }],
  ]) {
    const r = await L.api(nc, subject, { stream_name: 'CR', config });
    assert.deepEqual(r.error, { code: 500, err_code: 10074, description: 'replicas > 1 not supported in non-clustered mode' }, subject);
  }
  const ok = await L.api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.CR.d1', { stream_name: 'CR', config: { durable_name: 'd1', ack_policy: 'explicit', num_replicas: 1 } });
  assert.equal(ok.name, 'd1');
  await jsm.streams.delete('CR');
});

t('STREAM.INFO pages subjects_filter from offset, clamped', async () => {
  await add({ name: 'PG', subjects: ['pg.>'] });
  for (const s of ['c', 'a', 'b', 'a']) await L.rawPub(nc, `pg.${s}`, 'x');
  const info = (b) => L.api(nc, '$JS.API.STREAM.INFO.PG', b);
  let r = await info({ subjects_filter: '>', offset: 1 });
  assert.deepEqual([r.total, r.offset, r.limit], [3, 1, 100000]);
  assert.deepEqual(r.state.subjects, { 'pg.b': 1, 'pg.c': 1 });
  r = await info({ subjects_filter: 'pg.*', offset: 10 });
  assert.deepEqual([r.total, r.offset, r.limit], [3, 3, 100000]);
  assert.equal(r.state.subjects, undefined);
  r = await info({ subjects_filter: 'none' });
  assert.deepEqual([r.total, r.offset, r.limit], [0, 0, 0]);
  r = await L.api(nc, '$JS.API.STREAM.NAMES', { offset: 1000 });
  assert.equal(r.offset, r.total, 'an offset past the end is echoed clamped');
});

t('DIRECT.GET: subject form with wildcards and without a body; status texts', async () => {
  await add({ name: 'DG', subjects: ['dg.>'], allow_direct: true });
  for (const s of ['a', 'b', 'a']) await L.rawPub(nc, `dg.${s}`, `p-${s}`);
  const raw = async (subject, body) => {
    const m = await nc.request(subject, body === undefined ? new Uint8Array() : enc(body), { timeout: 3000 });
    return { code: m.headers && m.headers.code, desc: m.headers && m.headers.description, m };
  };
  let r = await raw('$JS.API.DIRECT.GET.DG.dg.*');
  assert.equal(r.m.headers.get('Nats-Sequence'), '3');
  r = await raw('$JS.API.DIRECT.GET.DG.dg.>');
  assert.equal(r.m.headers.get('Nats-Subject'), 'dg.a');
  r = await raw('$JS.API.DIRECT.GET.DG.dg.b');
  assert.equal(r.m.headers.get('Nats-Sequence'), '2');
  r = await raw('$JS.API.DIRECT.GET.DG.dg.a', '{"seq":1}');
  assert.deepEqual([r.code, r.desc], [408, 'Bad Request']);
  for (const body of ['{"seq":0}', '{"unknown":1}', 'null', '{"last_by_subj":""}', undefined]) {
    r = await raw('$JS.API.DIRECT.GET.DG', body);
    assert.deepEqual([r.code, r.desc], [408, 'Empty Request'], `body ${body}`);
  }
  r = await raw('$JS.API.DIRECT.GET.DG', '{"seq":1,"last_by_subj":"dg.a"}');
  assert.deepEqual([r.code, r.desc], [408, 'Bad Request']);
  r = await raw('$JS.API.DIRECT.GET.DG', 'nope');
  assert.deepEqual([r.code, r.desc], [408, 'Malformed Request']);
});

t('header values: rollup is case-blind, empty expectations are none, expected stream before dedupe', async () => {
  await add({ name: 'HV', subjects: ['hv.>'], allow_rollup_hdrs: true });
  for (let i = 0; i < 3; i++) await L.rawPub(nc, 'hv.a', `m${i}`);
  await L.rawPub(nc, 'hv.b', 'other');
  let a = await L.rawPub(nc, 'hv.a', 'rolled', { 'Nats-Rollup': 'SUB' });
  assert.ok(!a.error, JSON.stringify(a));
  let info = await jsm.streams.info('HV', { subjects_filter: '>' });
  assert.deepEqual(info.state.subjects, { 'hv.a': 1, 'hv.b': 1 });
  a = await L.rawPub(nc, 'hv.c', 'all', { 'Nats-Rollup': 'All' });
  info = await jsm.streams.info('HV');
  assert.equal(info.state.messages, 1);
  for (const h of ['Nats-Expected-Stream', 'Nats-Expected-Last-Sequence', 'Nats-Expected-Last-Subject-Sequence',
    'Nats-Expected-Last-Msg-Id']) {
    a = await L.rawPub(nc, 'hv.d', 'x', { [h]: '' });
    assert.ok(!a.error, `${h} empty: ${JSON.stringify(a)}`);
  }
  const first = await L.rawPub(nc, 'hv.e', 'x', { 'Nats-Msg-Id': 'm1' });
  assert.ok(!first.error);
  a = await L.rawPub(nc, 'hv.e', 'x', { 'Nats-Msg-Id': 'm1', 'Nats-Expected-Stream': 'OTHER' });
  L.assertApiError(a, 400, 10060, 'expected stream does not match');
  a = await L.rawPub(nc, 'hv.e', 'x', { 'Nats-Msg-Id': 'm1' });
  assert.equal(a.duplicate, true);
});

t('purge and delete edges: empty or invalid filter, missing stream, below the first message', async () => {
  await add({ name: 'PE', subjects: ['pe.>'] });
  for (let i = 0; i < 4; i++) await L.rawPub(nc, 'pe.a', 'x');
  let r = await L.api(nc, '$JS.API.STREAM.PURGE.PE', { filter: 'a..b' });
  assert.deepEqual([r.success, r.purged], [true, 0]);
  r = await L.api(nc, '$JS.API.STREAM.PURGE.PE', { filter: '', seq: 3 });
  assert.deepEqual([r.success, r.purged], [true, 2]);
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.PE', { seq: 1 }), 500, 10057, 'no message found');
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.PE', { seq: 9 }), 500, 10057, 'stream store EOF');
  await L.rawPub(nc, 'pe.a', 'x');
  assert.equal((await L.api(nc, '$JS.API.STREAM.MSG.DELETE.PE', { seq: 4 })).success, true);
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.MSG.DELETE.PE', { seq: 4 }), 400, 10043, 'sequence 4 not found');
  r = await L.api(nc, '$JS.API.STREAM.PURGE.PE', 'null');
  assert.deepEqual([r.success, r.purged], [true, 2]);
  r = await L.api(nc, '$JS.API.STREAM.PURGE.NOPE', null);
  L.assertApiError(r, 404, 10059, 'stream not found');
  assert.equal(r.purged, 0);
});

t('API counters: counted when answered; not the INFO being answered, not direct gets', async () => {
  const a = await L.api(nc, '$JS.API.INFO', null);
  const b = await L.api(nc, '$JS.API.INFO', null);
  assert.equal(b.api.total, a.api.total + 1, 'the previous INFO is counted, this one is not yet');
  await add({ name: 'AC', subjects: ['ac'], allow_direct: true });
  await L.rawPub(nc, 'ac', 'x');
  for (let i = 0; i < 5; i++) await nc.request('$JS.API.DIRECT.GET.AC', enc('{"seq":1}'), { timeout: 3000 });
  L.assertApiError(await L.api(nc, '$JS.API.STREAM.INFO.NONE', null), 404, 10059);
  const c = await L.api(nc, '$JS.API.INFO', null);
  assert.equal(c.api.total, b.api.total + 3, 'INFO, CREATE and the failed STREAM.INFO');
  assert.equal(c.api.errors, b.api.errors + 1);
});

t('a no_ack stream answers nothing, errors included', async () => {
  await add({ name: 'NA', subjects: ['na'], no_ack: true });
  await assert.rejects(nc.request('na', enc('x'), { timeout: 500, headers: L.hdrs({ 'Nats-Expected-Last-Sequence': '7' }) }),
    /TIMEOUT/i);
  await assert.rejects(nc.request('na', enc('x'), { timeout: 500 }), /TIMEOUT/i);
  await L.retry(async () => {
    const info = await jsm.streams.info('NA');
    assert.equal(info.state.messages, 1, 'the refused message is not stored, the other one is');
  }, 5000, 'NA to hold one message');
});
