'use strict';
// JetStream test helpers: a single JetStream node or a 3-node JetStream
// cluster of the server under test (herald or nats-server), started on free
// 127.0.0.1 ports and stopped by PID through the process helper of tests/js
// (SIGTERM, SIGKILL after 5 s; log in a temp file, printed when a test fails).
//
// Single node: -a 127.0.0.1 -p PORT -js -sd DIR -n NAME
// Cluster node: a config file per node (server_name, listen, jetstream
// { store_dir }, cluster { name, listen, routes: all three nodes including
// itself }); herald derives the JetStream cluster size from the routes list.
//
// Env: SERVER_KIND=herald|nats-server, SERVER_BIN=/path/to/binary
const path = require('node:path');
const assert = require('node:assert/strict');
const { connect, StringCodec, headers, JSONCodec } = require('nats');
const { Server, freePort, waitFor, within, sleep, withLog, SERVER_KIND, SERVER_BIN } = require('../../../js/lib/server');

const sc = StringCodec();
const IS_NATS = SERVER_KIND === 'nats-server';

async function freePorts(n) {
  const out = new Set();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

// Bounded retry of an async function until it resolves; returns its value.
async function retry(fn, timeoutMs, what) {
  const deadline = performance.now() + timeoutMs;
  let last;
  for (let i = 0; performance.now() < deadline && i < 10000; i++) {
    try { return await fn(); } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}: ${last && last.message}`);
}

// Raw JetStream API request: JSON in (object, string or null), parsed JSON out.
async function api(nc, subject, body, timeout = 5000) {
  let data;
  if (body === null || body === undefined) data = new Uint8Array();
  else if (typeof body === 'string') data = sc.encode(body);
  else if (body instanceof Uint8Array) data = body;
  else data = sc.encode(JSON.stringify(body));
  const m = await nc.request(subject, data, { timeout });
  return JSON.parse(sc.decode(m.data));
}

// Assert an API (or PubAck) error response: code, err_code and, when given,
// the exact description (string) or a pattern (RegExp).
function assertApiError(resp, code, errCode, description) {
  assert.ok(resp && resp.error, `expected an error ${errCode}, got ${JSON.stringify(resp).slice(0, 400)}`);
  assert.equal(resp.error.err_code, errCode, `err_code in ${JSON.stringify(resp.error)}`);
  assert.equal(resp.error.code, code, `code in ${JSON.stringify(resp.error)}`);
  if (description instanceof RegExp) assert.match(resp.error.description, description);
  else if (description !== undefined) assert.equal(resp.error.description, description);
}

// nats.js JetStreamApiError / NatsError from jsm.* or js.publish: check the api error.
async function assertRejectsApi(p, errCode, description) {
  let err;
  try { await p; } catch (e) { err = e; }
  assert.ok(err, `expected a rejection with err_code ${errCode}`);
  const ae = err.api_error || (err.jsError && err.jsError()) || null;
  assert.ok(ae, `expected a JetStream API error ${errCode}, got ${err.code} ${err.message}`);
  assert.equal(ae.err_code, errCode, `err_code of ${JSON.stringify(ae)}`);
  if (description instanceof RegExp) assert.match(ae.description, description);
  else if (description !== undefined) assert.equal(ae.description, description);
  return ae;
}

function hdrs(obj) {
  const h = headers();
  for (const [k, v] of Object.entries(obj)) h.set(k, String(v));
  return h;
}

// Publish with a reply and return the parsed PubAck JSON (success or error).
async function rawPub(nc, subject, payload, headerObj, timeout = 5000) {
  const opts = { timeout };
  if (headerObj) opts.headers = hdrs(headerObj);
  const m = await nc.request(subject, typeof payload === 'string' ? sc.encode(payload) : payload, opts);
  return JSON.parse(sc.decode(m.data));
}

// ---------------------------------------------------------------- single node
class JsNode {
  constructor(name, opts = {}) {
    this.name = name;
    this.srv = new Server({ port: opts.port || 0 });
    this.storeDir = path.join(this.srv.dir, 'js');
    this.srv.args = ['-js', '-sd', this.storeDir, '-n', name];
  }
  get url() { return this.srv.url; }
  get pid() { return this.srv.pid; }
  async start() { await this.srv.start(); return this; }
  async stop() { await this.srv.stop(); }
  async kill() {
    const p = this.srv.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    process.kill(this.srv.pid, 'SIGKILL');
    await within(this.srv.exited, 5000, `exit of ${this.name} after SIGKILL`);
  }
}

// Wait (bounded) until $JS.API.INFO answers without error through nc.
async function waitJsReady(nc, timeoutMs = 20000) {
  await retry(async () => {
    const r = await api(nc, '$JS.API.INFO', null, 2000);
    if (r.error) throw new Error(JSON.stringify(r.error));
    return r;
  }, timeoutMs, 'JetStream account info');
}

async function startSingle(name = 's1') {
  const node = await new JsNode(name).start();
  return node;
}

// ---------------------------------------------------------------- 3-node cluster
class ClusterNode {
  constructor(idx, name, clientPort, routePort, allRoutePorts, clusterName) {
    this.idx = idx;
    this.name = name;
    this.routePort = routePort;
    this.srv = new Server({ port: clientPort });
    this.storeDir = path.join(this.srv.dir, 'js');
    this.srv.config = [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${clientPort}`,
      `jetstream { store_dir: "${this.storeDir}" }`,
      `cluster { name: ${clusterName}, listen: 127.0.0.1:${routePort}, routes: [${allRoutePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}] }`,
      '',
    ].join('\n');
  }
  get url() { return this.srv.url; }
  get pid() { return this.srv.pid; }
  async start() { await this.srv.start(); return this; }
  async stop() { await this.srv.stop(); }
  async kill() {
    const p = this.srv.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    process.kill(this.srv.pid, 'SIGKILL');
    await within(this.srv.exited, 5000, `exit of ${this.name} after SIGKILL`);
  }
}

async function startCluster3(clusterName = 'JSC') {
  const ports = await freePorts(6);
  const routePorts = [ports[3], ports[4], ports[5]];
  const nodes = [0, 1, 2].map((i) => new ClusterNode(i, `n${i + 1}`, ports[i], routePorts[i], routePorts, clusterName));
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (e) {
    await stopAll(nodes);
    throw e;
  }
  return nodes;
}

// The cluster is ready when, through every node, an R3 stream can be created
// (meta leader elected, all three peers known) and deleted again.
async function waitClusterReady(nodes, ncs, timeoutMs = 30000) {
  for (const nc of ncs) await waitJsReady(nc, timeoutMs);
  const name = `READY_${Date.now()}`;
  await retry(async () => {
    const r = await api(ncs[0], `$JS.API.STREAM.CREATE.${name}`, { name, subjects: [`ready.${name}`], num_replicas: 3 }, 3000);
    if (r.error) throw new Error(JSON.stringify(r.error));
  }, timeoutMs, 'an R3 stream create to succeed');
  await retry(async () => {
    const r = await api(ncs[0], `$JS.API.STREAM.DELETE.${name}`, null, 3000);
    if (r.error) throw new Error(JSON.stringify(r.error));
  }, timeoutMs, 'the readiness stream delete');
}

async function stopAll(nodes) {
  for (const n of nodes) await n.stop().catch(() => {});
}

// Connections a test file opens, closed together.
class Clients {
  constructor() { this.open = []; }
  async conn(node, opts = {}) {
    const nc = await connect({ servers: node.url, timeout: 5000, ...opts });
    this.open.push(nc);
    return nc;
  }
  async closeAll() {
    const ncs = this.open;
    this.open = [];
    for (const nc of ncs) if (!nc.isClosed()) await nc.close().catch(() => {});
  }
}

// test(name, [opts,] fn) with the server logs printed on failure; opts are
// node:test options (skip, timeout; default timeout 60 s).
const T = (test, getServers) => (name, a, b) => {
  const opts = typeof a === 'function' ? {} : a;
  const fn = typeof a === 'function' ? a : b;
  return test(name, { timeout: 60000, ...opts }, withLog(() => getServers().filter(Boolean).map((n) => n.srv), fn));
};

module.exports = {
  IS_NATS, SERVER_KIND, SERVER_BIN, sc, JSONCodec, api, assertApiError, assertRejectsApi, hdrs, rawPub,
  JsNode, startSingle, waitJsReady, startCluster3, waitClusterReady, stopAll, Clients, T, retry, waitFor, within, sleep, freePorts,
};
