'use strict';
// Push consumers on a single JetStream node: delivery to a deliver subject
// (and a queue group), acks and redelivery, idle heartbeats, flow control,
// the clients' ordered consumer, and an ephemeral push consumer removed once
// its deliver subject has no interest.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { AckPolicy, consumerOpts, createInbox } = require('nats');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let jsm;
let js;
const t = L.T(test, () => [node]);

before(async () => {
  node = await L.startSingle('p1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

// Collects messages on `subject` until `until(got)` or the time limit.
function collect(subject, { until, ms = 5000, queue } = {}) {
  const got = [];
  const sub = nc.subscribe(subject, queue ? { queue } : {});
  const done = (async () => {
    for await (const m of sub) {
      got.push(m);
      if (until && until(got)) break;
    }
  })();
  return { sub, got, done: Promise.race([done, L.sleep(ms)]).then(() => { sub.unsubscribe(); return got; }) };
}

t('a durable push consumer delivers to its subject, shown under the stored subject; acks and redelivery', async () => {
  await jsm.streams.add({ name: 'PA', subjects: ['pa.>'] });
  for (let i = 1; i <= 5; i++) await js.publish(`pa.s${i}`, L.sc.encode(`m${i}`));
  const inbox = createInbox();
  const c = collect(inbox, { until: (g) => g.filter((m) => !m.headers || !m.headers.code).length >= 5 });
  await jsm.consumers.add('PA', { durable_name: 'push', deliver_subject: inbox, ack_policy: AckPolicy.Explicit, ack_wait: 800e6 });
  const got = (await c.done).filter((m) => !m.headers || !m.headers.code);
  assert.deepEqual(got.map((m) => m.subject), ['pa.s1', 'pa.s2', 'pa.s3', 'pa.s4', 'pa.s5']);
  assert.match(got[0].reply, /^\$JS\.ACK\.PA\.push\.1\.1\.1\.\d+\.4$/);
  // Ack all but the third: it comes back after ack_wait.
  const again = collect(inbox, { until: (g) => g.some((m) => !m.headers || !m.headers.code) });
  for (const m of got) if (m.subject !== 'pa.s3') m.respond();
  const back = (await again.done).filter((m) => !m.headers || !m.headers.code);
  assert.equal(back.length, 1);
  assert.equal(back[0].subject, 'pa.s3');
  assert.match(back[0].reply, /^\$JS\.ACK\.PA\.push\.2\.3\.6\./);
  back[0].respond();
  const ci = await L.retry(async () => {
    const i = await jsm.consumers.info('PA', 'push');
    if (i.num_ack_pending !== 0) throw new Error(`ack pending ${i.num_ack_pending}`);
    return i;
  }, 5000, 'all acked');
  assert.equal(ci.config.deliver_subject, inbox);
  assert.equal(ci.push_bound, undefined, 'no interest now');
});

t('idle heartbeats carry the last sequences', async () => {
  await jsm.streams.add({ name: 'PH', subjects: ['ph.>'] });
  await js.publish('ph.a', L.sc.encode('x'));
  const inbox = createInbox();
  const c = collect(inbox, { until: (g) => g.some((m) => m.headers && m.headers.code === 100) });
  await jsm.consumers.add('PH', { durable_name: 'hb', deliver_subject: inbox, ack_policy: AckPolicy.None, idle_heartbeat: 300e6 });
  const got = await c.done;
  const hb = got.find((m) => m.headers && m.headers.code === 100);
  assert.ok(hb, 'a heartbeat within 5 s');
  assert.equal(hb.headers.description, 'Idle Heartbeat');
  assert.equal(hb.headers.get('Nats-Last-Consumer'), '1');
  assert.equal(hb.headers.get('Nats-Last-Stream'), '1');
  assert.equal(hb.data.length, 0);
});

t('ordered consumer (flow control, heartbeats) over 3000 messages, in order, exactly once', async () => {
  await jsm.streams.add({ name: 'PO', subjects: ['po.>'] });
  const payload = 'x'.repeat(300);
  const pubs = [];
  for (let i = 1; i <= 3000; i++) pubs.push(js.publish(`po.${i % 10}`, L.sc.encode(`${i}:${payload}`)));
  await Promise.all(pubs);
  const opts = consumerOpts();
  opts.orderedConsumer();
  const sub = await js.subscribe('po.>', opts);
  const seqs = [];
  const deadline = Date.now() + 30000;
  for await (const m of sub) {
    seqs.push(m.seq);
    if (seqs.length === 3000 || Date.now() > deadline) break;
  }
  sub.unsubscribe();
  assert.equal(seqs.length, 3000);
  for (let i = 0; i < seqs.length; i++) assert.equal(seqs[i], i + 1);
});

t('a queue group shares a push consumer; an ephemeral push consumer goes without interest', async () => {
  await jsm.streams.add({ name: 'PQ', subjects: ['pq.>'] });
  const inbox = createInbox();
  const seen = [];
  const subs = [1, 2].map((k) => nc.subscribe(inbox, { queue: 'workers', callback: (_, m) => { seen.push(k); m.respond(); } }));
  await nc.flush();
  await jsm.consumers.add('PQ', { durable_name: 'q', deliver_subject: inbox, deliver_group: 'workers', ack_policy: AckPolicy.Explicit });
  for (let i = 0; i < 40; i++) await js.publish('pq.x', L.sc.encode(`${i}`));
  await L.retry(async () => { if (seen.length < 40) throw new Error(`${seen.length}`); }, 10000, '40 deliveries');
  assert.equal(seen.length, 40, 'each message once');
  for (const s of subs) s.unsubscribe();
  const eph = await jsm.consumers.add('PQ', { deliver_subject: createInbox(), ack_policy: AckPolicy.None, inactive_threshold: 500e6 });
  await L.retry(async () => {
    const names = await L.api(nc, '$JS.API.CONSUMER.NAMES.PQ', {});
    if (names.consumers.includes(eph.name)) throw new Error('still there');
  }, 10000, 'the ephemeral consumer removed');
});
