'use strict';
// Pull consumers on a single JetStream node, through nats.js and through raw
// protocol requests: CONSUMER.CREATE (the three subject forms), INFO, NAMES,
// LIST, DELETE; CONSUMER.MSG.NEXT with batch / no_wait / expires and the
// status messages; the $JS.ACK reply subject; +ACK, AckSync, -NAK, +TERM,
// +WPI; redelivery after ack_wait; ack policies; deliver policies; a durable
// consumer across a restart.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { AckPolicy, DeliverPolicy, createInbox } = require('nats');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let jsm;
let js;
const t = L.T(test, () => [node]);

before(async () => {
  node = await L.startSingle('c1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

async function stream(name, n, subjects) {
  await jsm.streams.add({ name, subjects: subjects || [`${name.toLowerCase()}.>`] });
  const p = name.toLowerCase();
  for (let i = 1; i <= n; i++) await js.publish(`${p}.${i % 2 ? 'odd' : 'even'}`, L.sc.encode(`m${i}`));
}

// Raw pull: publishes the request, collects what arrives on the inbox until
// `until(msgs)` or the time limit; returns [{subject, reply, data, code, description, headers}].
async function rawPull(subject, body, { until, ms = 3000 } = {}) {
  const inbox = createInbox();
  const got = [];
  const sub = nc.subscribe(inbox);
  const done = (async () => {
    for await (const m of sub) {
      got.push({
        subject: m.subject,
        reply: m.reply,
        data: L.sc.decode(m.data),
        code: m.headers ? m.headers.code : 0,
        description: m.headers ? m.headers.description : '',
        headers: m.headers,
      });
      if (until && until(got)) break;
    }
  })();
  nc.publish(subject, typeof body === 'string' ? L.sc.encode(body) : L.sc.encode(JSON.stringify(body)), { reply: inbox });
  await Promise.race([done, L.sleep(ms)]);
  sub.unsubscribe();
  return got;
}

t('create a durable pull consumer: defaults echoed, info, names, list, delete', async () => {
  await stream('CA', 3);
  const ci = await jsm.consumers.add('CA', { durable_name: 'd1', ack_policy: AckPolicy.Explicit });
  assert.equal(ci.stream_name, 'CA');
  assert.equal(ci.name, 'd1');
  assert.equal(ci.config.durable_name, 'd1');
  assert.equal(ci.config.deliver_policy, 'all');
  assert.equal(ci.config.ack_policy, 'explicit');
  assert.equal(ci.config.ack_wait, 30000000000);
  assert.equal(ci.config.max_deliver, -1);
  assert.equal(ci.config.replay_policy, 'instant');
  assert.equal(ci.config.max_waiting, 512);
  assert.equal(ci.config.max_ack_pending, 1000);
  assert.deepEqual(ci.delivered, { consumer_seq: 0, stream_seq: 0 });
  assert.deepEqual(ci.ack_floor, { consumer_seq: 0, stream_seq: 0 });
  assert.equal(ci.num_pending, 3);
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.num_waiting, 0);
  assert.ok(Date.parse(ci.created) > 0);
  // The same config again is fine; the same name with an immutable change is not.
  await jsm.consumers.add('CA', { durable_name: 'd1', ack_policy: AckPolicy.Explicit });
  const raw = await L.api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.CA.d1',
    { stream_name: 'CA', config: { durable_name: 'd1', ack_policy: 'explicit', deliver_policy: 'new' } });
  L.assertApiError(raw, 500, 10012);
  await jsm.consumers.add('CA', { durable_name: 'd2', ack_policy: AckPolicy.Explicit, filter_subject: 'ca.odd' });
  assert.equal((await jsm.consumers.info('CA', 'd2')).num_pending, 2);
  const names = await L.api(nc, '$JS.API.CONSUMER.NAMES.CA', {});
  assert.equal(names.type, 'io.nats.jetstream.api.v1.consumer_names_response');
  assert.deepEqual(names.consumers.sort(), ['d1', 'd2']);
  assert.equal(names.total, 2);
  const list = await jsm.consumers.list('CA').next();
  assert.deepEqual(list.map((c) => c.name).sort(), ['d1', 'd2']);
  assert.equal((await jsm.streams.info('CA')).state.consumer_count, 2);
  assert.equal(await jsm.consumers.delete('CA', 'd2'), true);
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.INFO.CA.d2', null), 404, 10014, 'consumer not found');
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.DELETE.CA.d2', null), 404, 10014, 'consumer not found');
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.INFO.NOPE.d2', null), 404, 10059, 'stream not found');
  // Legacy CREATE with a durable name; a filter token that does not match.
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.CREATE.CA', { stream_name: 'CA', config: { durable_name: 'x', ack_policy: 'explicit' } }),
    400, 10020, 'consumer expected to be ephemeral but a durable name was set in request');
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.CREATE.CA.n1.ca.odd', { stream_name: 'CA', config: { name: 'n1', ack_policy: 'explicit', filter_subject: 'ca.even' } }),
    400, 10131);
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.CREATE.CA', '{'), 400, 10025);
});

t('fetch, ack, and the $JS.ACK reply subject', async () => {
  await stream('CF', 10);
  await jsm.consumers.add('CF', { durable_name: 'f', ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get('CF', 'f');
  const iter = await c.fetch({ max_messages: 4, expires: 2000 });
  const seen = [];
  for await (const m of iter) {
    seen.push(m);
    assert.equal(m.info.stream, 'CF');
    assert.equal(m.info.consumer, 'f');
    assert.equal(m.info.redeliveryCount, 1);
    assert.equal(m.info.pending, 10 - m.seq);
    m.ack();
  }
  assert.deepEqual(seen.map((m) => m.seq), [1, 2, 3, 4]);
  assert.deepEqual(seen.map((m) => m.info.deliverySequence), [1, 2, 3, 4]);
  assert.deepEqual(seen.map((m) => m.subject), ['cf.odd', 'cf.even', 'cf.odd', 'cf.even']);
  assert.equal(L.sc.decode(seen[2].data), 'm3');
  // A synchronous ack: confirmed once applied.
  const m5 = await c.next({ expires: 2000 });
  assert.equal(m5.seq, 5);
  assert.equal(await m5.ackAck(), true);
  const ci = await L.retry(async () => {
    const i = await jsm.consumers.info('CF', 'f');
    if (i.ack_floor.stream_seq !== 5) throw new Error(JSON.stringify(i.ack_floor));
    return i;
  }, 5000, 'ack floor 5');
  assert.deepEqual([ci.delivered.consumer_seq, ci.delivered.stream_seq], [5, 5]);
  assert.deepEqual([ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq], [5, 5]);
  assert.ok(Date.parse(ci.delivered.last_active) > 0, 'delivered.last_active');
  assert.ok(Date.parse(ci.ack_floor.last_active) > 0, 'ack_floor.last_active');
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.num_pending, 5);
});

t('pull status messages: 404 no_wait, 408 partial no_wait and expiry, 400 bad request', async () => {
  await stream('CS', 2);
  await jsm.consumers.add('CS', { durable_name: 's', ack_policy: AckPolicy.Explicit });
  const next = '$JS.API.CONSUMER.MSG.NEXT.CS.s';
  // Two available, five asked with no_wait: two messages, then 408 with what is left.
  let got = await rawPull(next, { batch: 5, no_wait: true }, { until: (g) => g.some((m) => m.code) });
  assert.equal(got.length, 3);
  assert.equal(got[0].subject, 'cs.odd');
  assert.match(got[0].reply, /^\$JS\.ACK\.CS\.s\.1\.1\.1\.\d+\.1$/);
  assert.equal(got[1].subject, 'cs.even');
  assert.match(got[1].reply, /^\$JS\.ACK\.CS\.s\.1\.2\.2\.\d+\.0$/);
  assert.equal(got[2].code, 408);
  assert.equal(got[2].description, 'Request Timeout');
  assert.equal(got[2].headers.get('Nats-Pending-Messages'), '3');
  assert.equal(got[2].headers.get('Nats-Pending-Bytes'), '0');
  // Nothing left: 404 at once.
  got = await rawPull(next, { batch: 1, no_wait: true }, { until: (g) => g.length >= 1 });
  assert.equal(got.length, 1);
  assert.equal(got[0].code, 404);
  assert.equal(got[0].description, 'No Messages');
  // Expiry without messages: 408 after about the expiry.
  const t0 = Date.now();
  got = await rawPull(next, { batch: 3, expires: 400000000 }, { until: (g) => g.length >= 1 });
  assert.equal(got.length, 1);
  assert.equal(got[0].code, 408);
  assert.ok(Date.now() - t0 >= 350, `expired after ${Date.now() - t0} ms`);
  // A waiting request is served when a message arrives.
  const pending = rawPull(next, { batch: 1, expires: 3000000000 }, { until: (g) => g.length >= 1 });
  await L.sleep(200);
  await js.publish('cs.late', L.sc.encode('late'));
  got = await pending;
  assert.equal(got.length, 1);
  assert.equal(got[0].subject, 'cs.late');
  assert.equal(got[0].data, 'late');
  // Malformed request.
  got = await rawPull(next, '{"batch":', { until: (g) => g.length >= 1 });
  assert.equal(got[0].code, 400);
  // A bare integer body is a batch size.
  await js.publish('cs.x', L.sc.encode('x1'));
  await js.publish('cs.x', L.sc.encode('x2'));
  got = await rawPull(next, '2', { until: (g) => g.length >= 2 });
  assert.deepEqual(got.map((m) => m.data), ['x1', 'x2']);
});

t('redelivery: ack_wait, -NAK, +TERM, +WPI', async () => {
  await stream('CR', 3);
  await jsm.consumers.add('CR', { durable_name: 'r', ack_policy: AckPolicy.Explicit, ack_wait: 600 * 1e6 });
  const c = await js.consumers.get('CR', 'r');
  const iter = await c.fetch({ max_messages: 3, expires: 2000 });
  const first = [];
  for await (const m of iter) first.push(m);
  assert.deepEqual(first.map((m) => m.seq), [1, 2, 3]);
  first[1].ack();
  first[2].ack();
  // Seq 1 not acked: back after ack_wait, delivery count 2.
  const t0 = Date.now();
  const again = await c.next({ expires: 3000 });
  assert.ok(again, 'redelivered');
  assert.equal(again.seq, 1);
  assert.ok(Date.now() - t0 >= 300, `redelivered after ${Date.now() - t0} ms`);
  assert.equal(again.info.redeliveryCount, 2);
  assert.equal(again.redelivered, true);
  assert.equal(again.info.deliverySequence, 4);
  // -NAK: redelivered at once.
  again.nak();
  const third = await c.next({ expires: 2000 });
  assert.equal(third.seq, 1);
  assert.equal(third.info.redeliveryCount, 3);
  // +TERM: never again.
  third.term();
  assert.equal(await c.next({ expires: 1200 }), null, 'nothing after +TERM');
  // +WPI keeps a message ours past ack_wait.
  await js.publish('cr.more', L.sc.encode('more'));
  const m4 = await c.next({ expires: 2000 });
  assert.equal(m4.seq, 4);
  const wpi = setInterval(() => m4.working(), 200);
  try {
    assert.equal(await c.next({ expires: 1500 }), null, 'not redelivered while in progress');
  } finally {
    clearInterval(wpi);
  }
  assert.equal(await m4.ackAck(), true);
  const ci = await jsm.consumers.info('CR', 'r');
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.ack_floor.stream_seq, 4);
  assert.equal(ci.num_redelivered, 0);
});

t('ack policies none and all; deliver policies last, new, by_start_sequence', async () => {
  await stream('CP', 6);
  await jsm.consumers.add('CP', { durable_name: 'none', ack_policy: AckPolicy.None });
  let c = await js.consumers.get('CP', 'none');
  let iter = await c.fetch({ max_messages: 3, expires: 2000 });
  let seqs = [];
  for await (const m of iter) seqs.push(m.seq);
  assert.deepEqual(seqs, [1, 2, 3]);
  let ci = await jsm.consumers.info('CP', 'none');
  assert.equal(ci.num_ack_pending, 0);

  await jsm.consumers.add('CP', { durable_name: 'all', ack_policy: AckPolicy.All });
  c = await js.consumers.get('CP', 'all');
  iter = await c.fetch({ max_messages: 4, expires: 2000 });
  const got = [];
  for await (const m of iter) got.push(m);
  assert.equal(got.length, 4);
  assert.equal(await got[2].ackAck(), true);  // acks 1..3
  ci = await jsm.consumers.info('CP', 'all');
  assert.equal(ci.num_ack_pending, 1);
  assert.equal(ci.ack_floor.stream_seq, 3);

  await jsm.consumers.add('CP', { durable_name: 'last', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.Last });
  assert.equal((await (await js.consumers.get('CP', 'last')).next({ expires: 2000 })).seq, 6);
  await jsm.consumers.add('CP', { durable_name: 'seq4', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 4 });
  const s4 = await jsm.consumers.info('CP', 'seq4');
  assert.equal(s4.delivered.stream_seq, 3);
  assert.equal(s4.num_pending, 3);
  assert.equal((await (await js.consumers.get('CP', 'seq4')).next({ expires: 2000 })).seq, 4);
  await jsm.consumers.add('CP', { durable_name: 'new', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
  assert.equal((await jsm.consumers.info('CP', 'new')).num_pending, 0);
  const cn = await js.consumers.get('CP', 'new');
  const p = cn.next({ expires: 3000 });
  await L.sleep(200);
  await js.publish('cp.fresh', L.sc.encode('fresh'));
  assert.equal((await p).seq, 7);
});

t('an ephemeral consumer, and a durable one across a restart', async () => {
  await stream('CE', 4);
  const eph = await jsm.consumers.add('CE', { ack_policy: AckPolicy.Explicit });
  assert.ok(eph.name.length > 0);
  assert.equal(eph.config.durable_name, undefined);
  const ce = await js.consumers.get('CE', eph.name);
  assert.equal((await ce.next({ expires: 2000 })).seq, 1);
  await jsm.consumers.add('CE', { durable_name: 'keep', ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get('CE', 'keep');
  const m1 = await c.next({ expires: 2000 });
  assert.equal(await m1.ackAck(), true);
  const m2 = await c.next({ expires: 2000 });
  assert.equal(m2.seq, 2);  // delivered, not acked
  await clients.closeAll();
  await node.stop();
  await node.start();
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
  const ci = await L.retry(() => jsm.consumers.info('CE', 'keep'), 10000, 'consumer after restart');
  assert.equal(ci.ack_floor.stream_seq, 1);
  assert.equal(ci.delivered.stream_seq, 2);
  assert.equal(ci.num_ack_pending, 1);
  // The unacked message comes back (redelivery after ack_wait is 30 s: NAK
  // is not possible from a new connection, so fetch the next new one first).
  const c2 = await js.consumers.get('CE', 'keep');
  const m3 = await c2.next({ expires: 2000 });
  assert.equal(m3.seq, 3);
});

t('work-queue and interest retention remove what is acknowledged', async () => {
  await jsm.streams.add({ name: 'CW', subjects: ['cw.>'], retention: 'workqueue' });
  for (let i = 1; i <= 4; i++) await js.publish(`cw.${i}`, L.sc.encode(`w${i}`));
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.CW.none',
    { stream_name: 'CW', config: { durable_name: 'none', ack_policy: 'none' } }), 400, 10084);
  await jsm.consumers.add('CW', { durable_name: 'w', ack_policy: AckPolicy.Explicit });
  L.assertApiError(await L.api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.CW.w2',
    { stream_name: 'CW', config: { durable_name: 'w2', ack_policy: 'explicit' } }), 400, 10099,
  'multiple non-filtered consumers not allowed on workqueue stream');
  const c = await js.consumers.get('CW', 'w');
  const iter = await c.fetch({ max_messages: 3, expires: 2000 });
  const got = [];
  for await (const m of iter) got.push(m);
  assert.equal(got.length, 3);
  assert.equal(await got[0].ackAck(), true);
  assert.equal(await got[2].ackAck(), true);
  const si = await L.retry(async () => {
    const i = await jsm.streams.info('CW');
    if (i.state.messages !== 2) throw new Error(`messages ${i.state.messages}`);
    return i;
  }, 5000, 'two messages left');
  assert.equal(si.state.first_seq, 2);

  await jsm.streams.add({ name: 'CI', subjects: ['ci.>'], retention: 'interest' });
  await jsm.consumers.add('CI', { durable_name: 'a', ack_policy: AckPolicy.Explicit });
  await jsm.consumers.add('CI', { durable_name: 'b', ack_policy: AckPolicy.Explicit });
  for (let i = 1; i <= 3; i++) await js.publish(`ci.${i}`, L.sc.encode(`i${i}`));
  const ca = await js.consumers.get('CI', 'a');
  for (let i = 0; i < 3; i++) assert.equal(await (await ca.next({ expires: 2000 })).ackAck(), true);
  assert.equal((await jsm.streams.info('CI')).state.messages, 3, 'b has not acked');
  const cb = await js.consumers.get('CI', 'b');
  assert.equal(await (await cb.next({ expires: 2000 })).ackAck(), true);
  await L.retry(async () => {
    const i = await jsm.streams.info('CI');
    if (i.state.messages !== 2) throw new Error(`messages ${i.state.messages}`);
  }, 5000, 'the message both acked removed');
});
