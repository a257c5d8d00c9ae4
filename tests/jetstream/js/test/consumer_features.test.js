'use strict';
// Consumer features beyond plain fetch/ack, on a single JetStream node:
// max_expires, +NXT with a request body, a pull request whose client went
// away, max_deliver with its advisory, the NAK / TERM / CREATED / DELETED
// advisories, "-NAK <duration>", rate_limit_bps, replay_policy original,
// interest retention (no consumer; consumer deleted), and
// CONSUMER.LEADER.STEPDOWN without clustering.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { AckPolicy, createInbox, connect } = require('nats');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let jsm;
let js;
const t = L.T(test, () => [node]);
const enc = (s) => L.sc.encode(s);

before(async () => {
  node = await L.startSingle('cf1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

// Collects what arrives on `subject` (a subscription made now); `msgs()`
// returns them as {subject, reply, data, code, description, at}.
function collect(conn, subject) {
  const got = [];
  const sub = conn.subscribe(subject);
  (async () => {
    for await (const m of sub) {
      got.push({
        subject: m.subject,
        reply: m.reply,
        data: L.sc.decode(m.data),
        code: m.headers ? m.headers.code : 0,
        description: m.headers ? m.headers.description : '',
        at: Date.now(),
      });
    }
  })();
  return { msgs: () => got, stop: () => sub.unsubscribe() };
}

function pull(stream, consumer, body, inbox, conn = nc) {
  conn.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, enc(typeof body === 'string' ? body : JSON.stringify(body)),
    { reply: inbox });
}

const dataMsgs = (got) => got.filter((m) => m.code === 0 && m.reply && m.reply.startsWith('$JS.ACK.'));

t('max_expires: a pull request asking for longer gets 409 Exceeded MaxRequestExpires', async () => {
  await jsm.streams.add({ name: 'MXE', subjects: ['mxe.>'] });
  await jsm.consumers.add('MXE', { durable_name: 'c', ack_policy: AckPolicy.Explicit, max_expires: 1e9 });
  const inbox = createInbox();
  const c = collect(nc, inbox);
  pull('MXE', 'c', { batch: 1, expires: 5e9 }, inbox);
  await L.waitFor(() => c.msgs().length >= 1, 5000, 'the 409');
  assert.equal(c.msgs()[0].code, 409);
  assert.equal(c.msgs()[0].description, 'Exceeded MaxRequestExpires of 1s');
  // Within the limit: waits, then 408 at expiry.
  pull('MXE', 'c', { batch: 1, expires: 3e8 }, inbox);
  await L.waitFor(() => c.msgs().length >= 2, 5000, 'the 408');
  assert.equal(c.msgs()[1].code, 408);
  c.stop();
});

t('+NXT with a batch: the message is acknowledged and the next ones arrive on the reply subject', async () => {
  await jsm.streams.add({ name: 'NXT', subjects: ['nxt.>'] });
  for (let i = 1; i <= 6; i++) await js.publish('nxt.a', enc(`m${i}`));
  await jsm.consumers.add('NXT', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const inbox = createInbox();
  const c = collect(nc, inbox);
  pull('NXT', 'c', { batch: 1 }, inbox);
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 1, 5000, 'the first message');
  const first = dataMsgs(c.msgs())[0];
  assert.equal(first.data, 'm1');
  nc.publish(first.reply, enc('+NXT {"batch":2}'), { reply: inbox });
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 3, 5000, 'two more');
  assert.deepEqual(dataMsgs(c.msgs()).map((m) => m.data), ['m1', 'm2', 'm3']);
  // The bare-number form.
  nc.publish(dataMsgs(c.msgs())[2].reply, enc('+NXT 1'), { reply: inbox });
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 4, 5000, 'one more');
  assert.equal(dataMsgs(c.msgs())[3].data, 'm4');
  await nc.flush();
  // Nothing else reached the inbox: no empty "ack reply" for +NXT.
  assert.equal(c.msgs().length, 4, JSON.stringify(c.msgs()));
  await L.waitFor(async () => {
    const ci = await jsm.consumers.info('NXT', 'c');
    return ci.ack_floor.stream_seq === 1 && ci.num_ack_pending === 2;
  }, 5000, 'm1 and m3 acknowledged, m2 and m4 pending');
  c.stop();
});

t('a pull request whose client went away is not served; the next request gets the message', async () => {
  await jsm.streams.add({ name: 'GONE', subjects: ['gone.>'] });
  await jsm.consumers.add('GONE', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const nc2 = await connect({ servers: node.url });
  const inbox2 = createInbox();
  nc2.subscribe(inbox2);
  pull('GONE', 'c', { batch: 1, expires: 30e9 }, inbox2, nc2);
  await nc2.flush();
  await L.waitFor(async () => (await jsm.consumers.info('GONE', 'c')).num_waiting === 1, 5000, 'the request waiting');
  await nc2.close();
  // Let the close (and its interest) go.
  await L.sleep(300);
  await js.publish('gone.a', enc('only'));
  const inbox = createInbox();
  const c = collect(nc, inbox);
  pull('GONE', 'c', { batch: 1, expires: 3e9 }, inbox);
  await L.waitFor(() => c.msgs().length >= 1, 5000, 'an answer');
  assert.equal(c.msgs()[0].code, 0, JSON.stringify(c.msgs()));
  assert.equal(c.msgs()[0].data, 'only');
  assert.match(c.msgs()[0].reply, /^\$JS\.ACK\.GONE\.c\.1\.1\.1\./);
  c.stop();
});

t('max_deliver: a message never acknowledged goes max_deliver times, then the MAX_DELIVERIES advisory', async () => {
  await jsm.streams.add({ name: 'MD', subjects: ['md.>'] });
  await js.publish('md.a', enc('x'));
  await jsm.consumers.add('MD', { durable_name: 'c', ack_policy: AckPolicy.Explicit, ack_wait: 5e8, max_deliver: 2 });
  const adv = collect(nc, '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.MD.c');
  await nc.flush();
  const inbox = createInbox();
  const c = collect(nc, inbox);
  pull('MD', 'c', { batch: 1, expires: 4e9 }, inbox);
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 1, 5000, 'the first delivery');
  pull('MD', 'c', { batch: 1, expires: 4e9 }, inbox);
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 2, 5000, 'the redelivery');
  assert.match(dataMsgs(c.msgs())[1].reply, /^\$JS\.ACK\.MD\.c\.2\.1\.2\./);
  // A third request: the message is not delivered again.
  pull('MD', 'c', { batch: 1, expires: 2e9 }, inbox);
  await L.waitFor(() => adv.msgs().length >= 1, 5000, 'the advisory');
  const a = JSON.parse(adv.msgs()[0].data);
  assert.equal(a.type, 'io.nats.jetstream.advisory.v1.max_deliver');
  assert.equal(a.stream, 'MD');
  assert.equal(a.consumer, 'c');
  assert.equal(a.stream_seq, 1);
  assert.equal(a.deliveries, 2);
  assert.equal(typeof a.id, 'string');
  assert.match(a.timestamp, /^\d{4}-\d\d-\d\dT/);
  await L.waitFor(() => c.msgs().some((m) => m.code === 408), 5000, 'the third request expiring');
  assert.equal(dataMsgs(c.msgs()).length, 2);
  const ci = await jsm.consumers.info('MD', 'c');
  assert.equal(ci.num_ack_pending, 0);
  // Giving up is not an acknowledgement: the ack floor has no time yet.
  assert.deepEqual(ci.ack_floor, { consumer_seq: 0, stream_seq: 0 });
  c.stop();
  adv.stop();
});

t('advisories: consumer created and deleted, message naked and terminated', async () => {
  await jsm.streams.add({ name: 'ADV', subjects: ['adv.>'] });
  await js.publish('adv.a', enc('1'));
  await js.publish('adv.a', enc('2'));
  const adv = collect(nc, '$JS.EVENT.ADVISORY.CONSUMER.*.ADV.*');
  await nc.flush();
  await jsm.consumers.add('ADV', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const inbox = createInbox();
  const c = collect(nc, inbox);
  pull('ADV', 'c', { batch: 2, expires: 3e9 }, inbox);
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 2, 5000, 'two messages');
  const [m1, m2] = dataMsgs(c.msgs());
  nc.publish(m1.reply, enc('-NAK'));
  nc.publish(m2.reply, enc('+TERM'));
  await L.waitFor(() => adv.msgs().length >= 3, 5000, 'create, nak and term advisories');
  await jsm.consumers.delete('ADV', 'c');
  await L.waitFor(() => adv.msgs().length >= 4, 5000, 'the delete advisory');
  const bySubject = Object.fromEntries(adv.msgs().map((m) => [m.subject, JSON.parse(m.data)]));
  const created = bySubject['$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.c'];
  assert.equal(created.type, 'io.nats.jetstream.advisory.v1.consumer_action');
  assert.equal(created.action, 'create');
  assert.equal(created.stream, 'ADV');
  assert.equal(created.consumer, 'c');
  const deleted = bySubject['$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.c'];
  assert.equal(deleted.action, 'delete');
  const nak = bySubject['$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.ADV.c'];
  assert.equal(nak.type, 'io.nats.jetstream.advisory.v1.nak');
  assert.deepEqual([nak.stream_seq, nak.consumer_seq, nak.deliveries], [1, 1, 1]);
  const term = bySubject['$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.c'];
  assert.equal(term.type, 'io.nats.jetstream.advisory.v1.terminated');
  assert.deepEqual([term.stream_seq, term.consumer_seq, term.deliveries], [2, 2, 1]);
  c.stop();
  adv.stop();
});

t('sample_freq: an acknowledged message sends the consumer_ack metric; none without sampling', async () => {
  await jsm.streams.add({ name: 'SMP', subjects: ['smp.>'] });
  for (let i = 0; i < 3; i++) await js.publish('smp.a', enc(`${i}`));
  const metric = collect(nc, '$JS.EVENT.METRIC.CONSUMER.ACK.SMP.*');
  await nc.flush();
  await jsm.consumers.add('SMP', { durable_name: 'sampled', ack_policy: AckPolicy.Explicit, sample_freq: '100%' });
  await jsm.consumers.add('SMP', { durable_name: 'plain', ack_policy: AckPolicy.Explicit });
  for (const name of ['sampled', 'plain']) {
    const inbox = createInbox();
    const c = collect(nc, inbox);
    pull('SMP', name, { batch: 3, expires: 3e9 }, inbox);
    await L.waitFor(() => dataMsgs(c.msgs()).length >= 3, 5000, `three messages for ${name}`);
    const [m1, m2, m3] = dataMsgs(c.msgs());
    await L.sleep(50);  // a measurable ack_time
    nc.publish(m2.reply, enc('+ACK'));
    nc.publish(m3.reply, enc('+TERM'));  // a term is not sampled
    nc.publish(m1.reply, enc(''));  // an empty ack is an ack
    await nc.flush();
    c.stop();
  }
  await L.waitFor(() => metric.msgs().length >= 2, 5000, 'two metrics');
  await L.sleep(300);  // nothing more comes (for the term, or for "plain")
  const got = metric.msgs().map((m) => ({ subject: m.subject, ...JSON.parse(m.data) }));
  assert.equal(got.length, 2, JSON.stringify(got));
  for (const m of got) {
    assert.equal(m.subject, '$JS.EVENT.METRIC.CONSUMER.ACK.SMP.sampled');
    assert.equal(m.type, 'io.nats.jetstream.metric.v1.consumer_ack');
    assert.equal(m.stream, 'SMP');
    assert.equal(m.consumer, 'sampled');
    assert.equal(m.deliveries, 1);
    assert.equal(m.consumer_seq, m.stream_seq);
    assert.ok(m.ack_time >= 40e6 && m.ack_time < 5e9, `ack_time ${m.ack_time}`);
    assert.deepEqual(Object.keys(m), ['subject', 'type', 'id', 'timestamp', 'stream', 'consumer', 'consumer_seq', 'stream_seq', 'ack_time', 'deliveries']);
  }
  assert.deepEqual(got.map((m) => m.stream_seq).sort(), [1, 2]);
  metric.stop();
});

t('-NAK with a Go duration delays the redelivery', async () => {
  await jsm.streams.add({ name: 'NAKD', subjects: ['nakd.>'] });
  await js.publish('nakd.a', enc('x'));
  await jsm.consumers.add('NAKD', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const inbox = createInbox();
  const c = collect(nc, inbox);
  pull('NAKD', 'c', { batch: 2, expires: 5e9 }, inbox);
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 1, 5000, 'the message');
  const nakAt = Date.now();
  nc.publish(dataMsgs(c.msgs())[0].reply, enc('-NAK 800ms'));
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 2, 5000, 'the redelivery');
  const again = dataMsgs(c.msgs())[1];
  assert.ok(again.at - nakAt >= 600, `redelivered after ${again.at - nakAt} ms`);
  assert.match(again.reply, /^\$JS\.ACK\.NAKD\.c\.2\.1\.2\./);
  c.stop();
});

t('rate_limit_bps: a push consumer delivers no faster than its rate', async () => {
  await jsm.streams.add({ name: 'RL', subjects: ['rl.>'], max_msg_size: 4096 });
  const payload = 'x'.repeat(1000);
  for (let i = 0; i < 40; i++) await js.publish('rl.a', enc(payload));
  const deliver = createInbox();
  const c = collect(nc, deliver);
  await nc.flush();
  const start = Date.now();
  // 20,000 bytes per second: ~44 KB takes about 2 s (4 KB burst).
  await jsm.consumers.add('RL', { durable_name: 'c', ack_policy: AckPolicy.None, deliver_subject: deliver, rate_limit_bps: 160000 });
  await L.waitFor(() => c.msgs().length >= 40, 15000, 'all 40');
  const elapsed = c.msgs()[39].at - start;
  assert.ok(elapsed >= 1400, `40 x 1 KB at 20 KB/s arrived in ${elapsed} ms`);
  c.stop();
});

t('replay_policy original: messages arrive with the gaps they were published with', async () => {
  await jsm.streams.add({ name: 'RP', subjects: ['rp.>'] });
  for (let i = 0; i < 5; i++) {
    await js.publish('rp.a', enc(`m${i}`));
    if (i < 4) await L.sleep(300);
  }
  const deliver = createInbox();
  const c = collect(nc, deliver);
  await nc.flush();
  await jsm.consumers.add('RP', { durable_name: 'c', ack_policy: AckPolicy.None, deliver_subject: deliver, replay_policy: 'original' });
  await L.waitFor(() => c.msgs().length >= 5, 10000, 'all 5');
  const span = c.msgs()[4].at - c.msgs()[0].at;
  assert.ok(span >= 900, `published over 1200 ms, replayed over ${span} ms`);
  assert.deepEqual(c.msgs().map((m) => m.data), ['m0', 'm1', 'm2', 'm3', 'm4']);
  // New messages after the replay go at once.
  await js.publish('rp.a', enc('late'));
  await L.waitFor(() => c.msgs().length >= 6, 5000, 'the new message');
  c.stop();
});

t('interest retention: kept only while a consumer needs it; deleting a consumer removes what only it held', async () => {
  await jsm.streams.add({ name: 'INT', subjects: ['int.>'], retention: 'interest' });
  const pa = await js.publish('int.a', enc('nobody'));
  assert.equal(pa.seq, 1);
  assert.equal((await jsm.streams.info('INT')).state.messages, 0);
  await jsm.consumers.add('INT', { durable_name: 'c1', ack_policy: AckPolicy.Explicit });
  await jsm.consumers.add('INT', { durable_name: 'c2', ack_policy: AckPolicy.Explicit });
  for (let i = 0; i < 3; i++) await js.publish('int.a', enc(`m${i}`));
  assert.equal((await jsm.streams.info('INT')).state.messages, 3);
  const inbox = createInbox();
  const c = collect(nc, inbox);
  pull('INT', 'c1', { batch: 3, expires: 3e9 }, inbox);
  await L.waitFor(() => dataMsgs(c.msgs()).length >= 3, 5000, 'three messages');
  for (const m of dataMsgs(c.msgs())) nc.publish(m.reply, enc('+ACK'));
  await L.waitFor(async () => (await jsm.consumers.info('INT', 'c1')).ack_floor.stream_seq === 4, 5000, 'c1 acked all');
  assert.equal((await jsm.streams.info('INT')).state.messages, 3, 'c2 still needs them');
  await jsm.consumers.delete('INT', 'c2');
  await L.waitFor(async () => (await jsm.streams.info('INT')).state.messages === 0, 5000, 'the stream emptied');
  c.stop();
});

t('CONSUMER.LEADER.STEPDOWN on a single node: clustering required', async () => {
  await jsm.streams.add({ name: 'SD', subjects: ['sd.>'] });
  await jsm.consumers.add('SD', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const r = await L.api(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.SD.c', null);
  assert.equal(r.type, 'io.nats.jetstream.api.v1.consumer_leader_stepdown_response');
  L.assertApiError(r, 503, 10010);
});

t('max_consumers: one more consumer than the stream allows is refused with 10026', async () => {
  await jsm.streams.add({ name: 'MC', subjects: ['mc.>'], max_consumers: 2 });
  await jsm.consumers.add('MC', { durable_name: 'a', ack_policy: AckPolicy.Explicit });
  await jsm.consumers.add('MC', { durable_name: 'b', ack_policy: AckPolicy.Explicit });
  const r = await L.api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.MC.c', { stream_name: 'MC', config: { durable_name: 'c', ack_policy: 'explicit' } });
  L.assertApiError(r, 400, 10026, 'maximum consumers limit reached');
  // Updating an existing one is not a new consumer.
  const u = await L.api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.MC.a', { stream_name: 'MC', config: { durable_name: 'a', ack_policy: 'explicit', description: 'x' } });
  assert.equal(u.error, undefined, JSON.stringify(u));
  await jsm.consumers.delete('MC', 'b');
  await jsm.consumers.add('MC', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
});
