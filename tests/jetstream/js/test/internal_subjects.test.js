'use strict';
// Herald's own subjects ($HERALD.>: JetStream requests forwarded between
// nodes and the admin bus; _HERALD_*: their answers) are the server's only.
// A client must not reach the JetStream API through them past its
// permissions, take the API's queue group, or make a push consumer run
// API requests with its deliveries. (That no client is delivered them
// matters in a cluster only, where nodes forward requests; not tested here.)
// Each check holds on nats-server 2.9.10 too (where these subjects mean
// nothing), except the ones about Herald's own names, run on Herald only.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let admin;
let lim;
const t = L.T(test, () => [node]);
const enc = (s) => L.sc.encode(s);
// A standalone Herald's node id (server/jetstream/jetstream.cc: 1).
const SELF = '0000000000000001';

before(async () => {
  node = new L.JsNode('internal');
  node.srv.config = [
    'authorization {',
    '  users = [',
    '    { user: admin, password: a }',
    '    { user: lim, password: l, permissions: { publish: { allow: [">"], deny: ["$JS.API.>"] }, subscribe: { allow: [">"] } } }',
    '  ]',
    '}',
    '',
  ].join('\n');
  await node.start();
  admin = await clients.conn(node, { user: 'admin', pass: 'a' });
  lim = await clients.conn(node, { user: 'lim', pass: 'l' });
  await L.waitJsReady(admin);
});
after(async () => {
  await clients.closeAll();
  await node.stop();
});

async function streamExists(name) {
  const r = await L.api(admin, `$JS.API.STREAM.INFO.${name}`, null);
  return !r.error;
}

// A request that must have no effect: no answer (no-responders or timeout).
async function unanswered(nc, subject, body) {
  try {
    const m = await nc.request(subject, body === undefined ? new Uint8Array() : enc(body), { timeout: 1000 });
    return `answered: ${L.sc.decode(m.data)}`;
  } catch (e) {
    return e.code === '503' || e.code === 'TIMEOUT' ? 'none' : `error ${e.code}`;
  }
}

t('a client denied $JS.API cannot reach the API through the forwarding subjects', async () => {
  const r = await L.api(admin, '$JS.API.STREAM.CREATE.P1', { name: 'P1', subjects: ['p1'] });
  assert.ok(!r.error, JSON.stringify(r));
  await assert.rejects(L.api(lim, '$JS.API.STREAM.DELETE.P1', null, 1000));
  for (const hops of ['0', '1', '2', '-2147483648']) {
    assert.equal(await unanswered(lim, `$HERALD.JS.${SELF}.${hops}.STREAM.DELETE.P1`), 'none', hops);
  }
  assert.equal(await unanswered(admin, `$HERALD.JS.${SELF}.1.STREAM.DELETE.P1`), 'none');
  assert.ok(await streamExists('P1'), 'P1 was deleted through $HERALD.JS');
});

t('the admin restore entry is not taken from a client', async () => {
  await L.api(admin, '$JS.API.STREAM.CREATE.RW', { name: 'RW', subjects: ['rw.>'] });
  const pa = await L.rawPub(admin, 'rw.a', 'one');
  assert.equal(pa.seq, 1);
  // An 'R' entry moving the stream to the end of the sequence space.
  const entry = Buffer.from([0x52, 0x01, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x06,
    ...Buffer.from('rw.max'), 0x00, 0x01, 0x78]);
  for (const subject of ['$JS.API.HERALD.STREAM.RESTORE.RW', `$HERALD.JS.${SELF}.1.HERALD.STREAM.RESTORE.RW`]) {
    let answer = 'none';
    try {
      const m = await admin.request(subject, entry, { timeout: 1000 });
      answer = L.sc.decode(m.data);
    } catch (e) { /* no answer */ }
    assert.equal(answer, 'none', subject);
  }
  const si = await L.api(admin, '$JS.API.STREAM.INFO.RW', null);
  assert.equal(si.state.last_seq, 1);
  assert.equal((await L.rawPub(admin, 'rw.b', 'two')).seq, 2);
});

t('a push consumer delivering into the API runs nothing', async () => {
  await L.api(admin, '$JS.API.STREAM.CREATE.SD', { name: 'SD', subjects: ['sd.>'] });
  for (let i = 0; i < 5; i++) await L.rawPub(admin, `sd.${i}`, '');
  const target = '$JS.API.STREAM.DELETE.SD';
  let got = 0;
  const spy = admin.subscribe(target, { callback: () => { got++; } });
  await admin.flush();
  const r = await L.api(admin, '$JS.API.CONSUMER.DURABLE.CREATE.SD.PC',
    { stream_name: 'SD', config: { durable_name: 'PC', deliver_subject: target, ack_policy: 'none' } });
  assert.ok(!r.error, JSON.stringify(r));
  await L.retry(async () => { if (got < 5) throw new Error(`${got} delivered`); }, 10000, 'the deliveries');
  spy.unsubscribe();
  // A delete would have been proposed by now and applied within this time.
  const until = Date.now() + 1500;
  for (let i = 0; Date.now() < until && i < 100; i++) {
    assert.ok(await streamExists('SD'), 'a delivery deleted the stream');
    await L.sleep(100);
  }
});

t('a stream capturing a push consumer\'s deliver subject is not a subscriber', { skip: L.IS_NATS }, async () => {
  await L.api(admin, '$JS.API.STREAM.CREATE.PA', { name: 'PA', subjects: ['pa.in'] });
  await L.api(admin, '$JS.API.STREAM.CREATE.PB', { name: 'PB', subjects: ['pb.in'] });
  await L.rawPub(admin, 'pa.in', 'seed');
  // Each stream's push consumer delivers into the other stream: without a
  // client on either subject nothing is delivered (no loop, nothing stored).
  // (nats-server 2.9.10 counts the capturing stream as interest and loops
  // with ack_policy none: Herald only, below.)
  for (const [s, d] of [['PA', 'pb.in'], ['PB', 'pa.in']]) {
    const r = await L.api(admin, `$JS.API.CONSUMER.DURABLE.CREATE.${s}.X`,
      { stream_name: s, config: { durable_name: 'X', deliver_subject: d, ack_policy: 'none' } });
    assert.ok(!r.error, JSON.stringify(r));
  }
  const until = Date.now() + 1500;
  for (let i = 0; Date.now() < until && i < 100; i++) {
    const a = await L.api(admin, '$JS.API.STREAM.INFO.PA', null);
    const b = await L.api(admin, '$JS.API.STREAM.INFO.PB', null);
    assert.equal(a.state.messages, 1);
    assert.equal(b.state.messages, 0);
    await L.sleep(100);
  }
  // A client on PA's deliver subject: PA delivers its message to it.
  let got = 0;
  const sub = admin.subscribe('pb.in', { callback: () => { got++; } });
  await admin.flush();
  await L.retry(async () => { if (got < 1) throw new Error('nothing yet'); }, 10000, 'the delivery once a client subscribed');
  sub.unsubscribe();
  await L.api(admin, '$JS.API.STREAM.DELETE.PA', null);
  await L.api(admin, '$JS.API.STREAM.DELETE.PB', null);
});

t('Herald only: its own names are refused to clients and configs', { skip: L.IS_NATS }, async () => {
  // The API's queue group.
  const errs = [];
  const nc = await clients.conn(node, { user: 'admin', pass: 'a' });
  (async () => { for await (const s of nc.status()) if (s.type === 'error') errs.push(String(s.data)); })();
  nc.subscribe('$JS.API.>', { queue: '_herald_js_api', callback: () => {} });
  await L.retry(async () => { if (errs.length === 0) throw new Error('no error yet'); }, 5000, 'a permissions error');
  assert.match(errs[0], /PERMISSIONS_VIOLATION|Permissions Violation/);
  for (let i = 0; i < 20; i++) assert.ok(!(await L.api(admin, '$JS.API.INFO', null)).error);
  // Deliver subjects, stream subjects and republish destinations there.
  L.assertApiError(await L.api(admin, '$JS.API.CONSUMER.DURABLE.CREATE.SD.H', {
    stream_name: 'SD', config: { durable_name: 'H', deliver_subject: `$HERALD.JS.${SELF}.1.STREAM.DELETE.SD` },
  }), 400, 10112);
  L.assertApiError(await L.api(admin, '$JS.API.STREAM.CREATE.HS', { name: 'HS', subjects: ['$HERALD.>'] }), 500, 10052);
  L.assertApiError(await L.api(admin, '$JS.API.STREAM.CREATE.HR',
    { name: 'HR', subjects: ['hr.>'], republish: { src: '>', dest: '$HERALD.ADMIN.ALL.x' } }), 500, 10052);
  assert.ok(await streamExists('SD'));
});
