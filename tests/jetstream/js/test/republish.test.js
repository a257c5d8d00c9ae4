'use strict';
// Stream `republish` (nats-server 2.9's RePublish) on a single node: the
// config's validation answers, and the exact header blocks and payloads of
// the republished messages, read off a raw protocol connection (the bytes
// below are the ones nats-server 2.9.10 sends); duplicates are not
// republished, headers_only sends Nats-Msg-Size instead of the payload, a KV
// bucket created with nats.js's `republish` option. The R3 case (one copy,
// from the leader only, also after a stepdown) is in cluster.test.js.
const net = require('node:net');
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const L = require('../lib/js');

let node;
const clients = new L.Clients();
let nc;
let js;
const t = L.T(test, () => [node]);
const enc = (s) => L.sc.encode(s);

before(async () => {
  node = await L.startSingle('s1');
  nc = await clients.conn(node);
  await L.waitJsReady(nc);
  js = nc.jetstream();
});
after(async () => {
  await clients.closeAll();
  if (node) await node.stop();
});

// A raw client connection that records every HMSG/MSG it receives:
// { subject, sid, headers (the exact header block), data }.
class RawSub {
  constructor(url) {
    const port = Number(url.split(':').pop());
    this.sock = net.connect(port, '127.0.0.1');
    this.buf = Buffer.alloc(0);
    this.msgs = [];
    this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.parse(); });
  }
  send(s) { this.sock.write(s); }
  parse() {
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.buf.subarray(0, eol).toString('latin1');
      if (line === 'PONG') this.pongs = (this.pongs || 0) + 1;
      if (line === 'PING') this.send('PONG\r\n');
      // HMSG <subj> <sid> [reply] <hdr len> <total len>; MSG <subj> <sid> [reply] <len>
      const f = line.split(/\s+/);
      const isH = f[0] === 'HMSG';
      if (!(isH && (f.length === 5 || f.length === 6)) && !(f[0] === 'MSG' && (f.length === 4 || f.length === 5))) {
        this.buf = this.buf.subarray(eol + 2);
        continue;
      }
      const total = Number(f[f.length - 1]);
      const hlen = isH ? Number(f[f.length - 2]) : 0;
      const m = [null, null, f[1], f[2]];
      if (this.buf.length < eol + 2 + total + 2) return;
      const body = this.buf.subarray(eol + 2, eol + 2 + total);
      this.msgs.push({ subject: m[2], sid: m[3], headers: body.subarray(0, hlen).toString('latin1'), data: body.subarray(hlen).toString('latin1') });
      this.buf = this.buf.subarray(eol + 2 + total + 2);
    }
  }
  async ready(subs) {
    this.send('CONNECT {"verbose":false,"headers":true,"protocol":1}\r\n');
    subs.forEach((s, i) => this.send(`SUB ${s} ${i + 1}\r\n`));
    this.send('PING\r\n');
    await L.waitFor(() => this.pongs > 0, 5000, 'PONG');
  }
  close() { this.sock.destroy(); }
}

t('republish config: defaults, nats-server\'s errors, update rule', async () => {
  const si = await L.api(nc, '$JS.API.STREAM.CREATE.RPC', { name: 'RPC', subjects: ['rpc.in.>'], republish: { dest: 'rpc.out.>' } });
  assert.ok(!si.error, JSON.stringify(si.error));
  assert.deepEqual(si.config.republish, { src: '>', dest: 'rpc.out.>' });
  const ho = await L.api(nc, '$JS.API.STREAM.CREATE.RPC2', { name: 'RPC2', subjects: ['rpc2.*'], republish: { src: 'rpc2.*', dest: 'rpc2out.$1', headers_only: true } });
  assert.deepEqual(ho.config.republish, { src: 'rpc2.*', dest: 'rpc2out.$1', headers_only: true });
  const bad = [
    [{ dest: 'a.b' }, 10052, 'stream configuration for republish destination forms a cycle'],
    [{ src: 'b.>', dest: 'c.>' }, 10052, 'stream configuration for republish source is not valid subset of subjects'],
    [{ src: 'a.*', dest: 'c.>' }, 10052, 'stream configuration for republish not valid'],
    [{ src: 'a.>', dest: 'c.*' }, 10052, 'stream configuration for republish not valid'],
    [{ src: 'a.*.*', dest: 'c.$1' }, 10052, 'stream configuration for republish not valid'],
    [{ src: 'a.>' }, 10052, 'stream configuration for republish not valid'],
    [{ dest: 5 }, 10025, 'invalid JSON'],
    ['x', 10025, 'invalid JSON'],
  ];
  for (const [rp, errCode, description] of bad) {
    const r = await L.api(nc, '$JS.API.STREAM.CREATE.RPX', { name: 'RPX', subjects: ['a.>'], republish: rp });
    L.assertApiError(r, errCode === 10025 ? 400 : 500, errCode, description);
  }
  // The same republish again is no change; another one, or none, is refused.
  const same = await L.api(nc, '$JS.API.STREAM.UPDATE.RPC', { name: 'RPC', subjects: ['rpc.in.>'], republish: { dest: 'rpc.out.>' } });
  assert.ok(!same.error, JSON.stringify(same.error));
  for (const rp of [{ dest: 'rpc.other.>' }, undefined]) {
    const r = await L.api(nc, '$JS.API.STREAM.UPDATE.RPC', { name: 'RPC', subjects: ['rpc.in.>'], republish: rp });
    L.assertApiError(r, 500, 10052, 'stream configuration update can not change RePublish');
  }
  await L.api(nc, '$JS.API.STREAM.DELETE.RPC', null);
  await L.api(nc, '$JS.API.STREAM.DELETE.RPC2', null);
});

t('republished messages: nats-server\'s header blocks, payloads, headers_only, no duplicates', async () => {
  await L.api(nc, '$JS.API.STREAM.CREATE.RP', { name: 'RP', subjects: ['rp.in.>'], republish: { dest: 'rp.out.>' } });
  await L.api(nc, '$JS.API.STREAM.CREATE.RP2', { name: 'RP2', subjects: ['ho.*'], republish: { src: 'ho.*', dest: 'hdr.$1', headers_only: true } });
  const raw = new RawSub(node.url);
  try {
    await raw.ready(['rp.out.>', 'hdr.>']);
    await js.publish('rp.in.a', enc('one'));
    await js.publish('rp.in.a', enc('two'), { headers: L.hdrs({ Foo: 'bar' }) });
    await js.publish('rp.in.b.c', enc(''));
    await js.publish('ho.x', enc('12345'));
    await js.publish('ho.x', enc('1'), { headers: L.hdrs({ Foo: 'bar' }) });
    const d1 = await js.publish('rp.in.a', enc('d1'), { msgID: 'dup' });
    const d2 = await js.publish('rp.in.a', enc('d2'), { msgID: 'dup' });
    assert.equal(d2.duplicate, true);
    assert.equal(d2.seq, d1.seq);
    const want = [
      ['rp.out.rp.in.a', 'NATS/1.0\r\nNats-Stream: RP\r\nNats-Subject: rp.in.a\r\nNats-Sequence: 1\r\nNats-Last-Sequence: 0\r\n\r\n', 'one'],
      ['rp.out.rp.in.a', 'NATS/1.0\r\nFoo: bar\r\nNats-Stream: RP\r\nNats-Subject: rp.in.a\r\nNats-Sequence: 2\r\nNats-Last-Sequence: 1\r\n\r\n', 'two'],
      ['rp.out.rp.in.b.c', 'NATS/1.0\r\nNats-Stream: RP\r\nNats-Subject: rp.in.b.c\r\nNats-Sequence: 3\r\nNats-Last-Sequence: 0\r\n\r\n', ''],
      ['hdr.x', 'NATS/1.0\r\nNats-Stream: RP2\r\nNats-Subject: ho.x\r\nNats-Sequence: 1\r\nNats-Last-Sequence: 0\r\nNats-Msg-Size: 5\r\n\r\n', ''],
      ['hdr.x', 'NATS/1.0\r\nFoo: bar\r\nNats-Stream: RP2\r\nNats-Subject: ho.x\r\nNats-Sequence: 2\r\nNats-Last-Sequence: 1\r\nNats-Msg-Size: 1\r\n\r\n', ''],
      ['rp.out.rp.in.a', 'NATS/1.0\r\nNats-Msg-Id: dup\r\nNats-Stream: RP\r\nNats-Subject: rp.in.a\r\nNats-Sequence: 4\r\nNats-Last-Sequence: 2\r\n\r\n', 'd1'],
    ];
    await L.waitFor(() => raw.msgs.length >= want.length, 5000, `${want.length} republished messages`);
    // A duplicate would come right behind: give it the time a ping takes.
    await nc.flush();
    await L.sleep(200);
    assert.deepEqual(raw.msgs.map((m) => [m.subject, m.headers, m.data]), want);
  } finally {
    raw.close();
  }
  await L.api(nc, '$JS.API.STREAM.DELETE.RP', null);
  await L.api(nc, '$JS.API.STREAM.DELETE.RP2', null);
});

t('refused and interest-dropped messages are not republished; a source subset only', async () => {
  await L.api(nc, '$JS.API.STREAM.CREATE.RPS', { name: 'RPS', subjects: ['s.>'], max_msgs: 1, discard: 'new', republish: { src: 's.keep.*', dest: 'kept.$1' } });
  await L.api(nc, '$JS.API.STREAM.CREATE.RPI', { name: 'RPI', subjects: ['i.*'], retention: 'interest', republish: { dest: 'iout.>' } });
  const raw = new RawSub(node.url);
  try {
    await raw.ready(['kept.>', 'iout.>']);
    await js.publish('s.other.x', enc('not matched'));  // stored, source does not match
    const full = await L.rawPub(nc, 's.keep.y', 'refused');  // max_msgs reached: refused
    assert.ok(full.error, JSON.stringify(full));
    await L.api(nc, '$JS.API.STREAM.PURGE.RPS', {});
    await js.publish('s.keep.z', enc('kept'));
    await js.publish('i.a', enc('no interest'));  // interest retention without consumers: not stored
    await L.waitFor(() => raw.msgs.length >= 1, 5000, 'the republished message');
    await nc.flush();
    await L.sleep(200);
    assert.deepEqual(raw.msgs.map((m) => [m.subject, m.data]), [['kept.z', 'kept']]);
    assert.match(raw.msgs[0].headers, /\r\nNats-Sequence: 2\r\nNats-Last-Sequence: 0\r\n/);
  } finally {
    raw.close();
  }
  await L.api(nc, '$JS.API.STREAM.DELETE.RPS', null);
  await L.api(nc, '$JS.API.STREAM.DELETE.RPI', null);
});

t('a KV bucket with republish (nats.js views.kv option): puts and deletes arrive as messages', async () => {
  const kv = await js.views.kv('RPKV', { republish: { src: '$KV.RPKV.>', dest: 'rpkv.>' } });
  const sub = nc.subscribe('rpkv.>');
  const got = [];
  (async () => { for await (const m of sub) got.push(m); })();
  await nc.flush();
  await kv.put('k1', enc('v1'));
  await kv.put('k1', enc('v2'));
  await kv.delete('k1');
  await L.waitFor(() => got.length >= 3, 5000, 'three republished KV operations');
  sub.unsubscribe();
  assert.deepEqual(got.map((m) => m.subject), ['rpkv.k1', 'rpkv.k1', 'rpkv.k1']);
  assert.deepEqual(got.map((m) => L.sc.decode(m.data)), ['v1', 'v2', '']);
  assert.deepEqual(got.map((m) => m.headers.get('Nats-Sequence')), ['1', '2', '3']);
  assert.deepEqual(got.map((m) => m.headers.get('Nats-Last-Sequence')), ['0', '1', '2']);
  assert.equal(got[2].headers.get('KV-Operation'), 'DEL');
  assert.equal(got[0].headers.get('Nats-Stream'), 'KV_RPKV');
});
