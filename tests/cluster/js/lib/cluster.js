'use strict';
// Cluster helper: N server processes (herald or nats-server) on free loopback
// ports, each given exactly ONE seed route (node i seeds node i-1, node 0 none),
// so gossip must complete the full mesh. Reuses the single-node process helper
// of tests/js (start/stop by PID, log in a temp file, printed on failure).
//
// Env: SERVER_KIND=herald|nats-server, SERVER_BIN=/path/to/binary
const { connect } = require('nats');
const { Server, freePort, waitFor, within, sleep, withLog, SERVER_KIND, SERVER_BIN } = require('../../../js/lib/server');

class Node {
  constructor(idx, opts) {
    this.idx = idx;
    this.name = opts.name;
    this.clusterName = opts.clusterName;
    this.httpPort = opts.httpPort;
    this.routePort = opts.routePort;
    this.seed = opts.seed; // route port of the seed, or null
    if (opts.useConfig) {
      // the same settings through a config file (nats-server syntax)
      const config = [
        `server_name: ${this.name}`,
        `http_port: ${this.httpPort}`,
        'cluster {',
        `  name: ${this.clusterName}`,
        `  listen: 127.0.0.1:${this.routePort}`,
        this.seed ? `  routes [\n    nats-route://127.0.0.1:${this.seed}\n  ]` : '  routes []',
        '}',
        opts.extraConfig || '',
        '',
      ].join('\n');
      this.srv = new Server({ config, port: opts.clientPort });
    } else {
      const args = ['-m', String(this.httpPort), '-n', this.name,
        '--cluster', `nats://127.0.0.1:${this.routePort}`, '--cluster_name', this.clusterName];
      if (this.seed) args.push('--routes', `nats://127.0.0.1:${this.seed}`);
      this.srv = new Server({ args, port: opts.clientPort });
    }
    this.serverId = null;
  }

  get url() { return this.srv.url; }
  get port() { return this.srv.port; }
  get clientAddr() { return `127.0.0.1:${this.srv.port}`; }
  get pid() { return this.srv.pid; }

  async start() {
    await this.srv.start();
    await waitFor(async () => { try { return (await this.mon('varz')).server_id; } catch (_) { return false; } },
      10000, `monitoring port of ${this.name}`);
    this.serverId = (await this.mon('varz')).server_id;
    return this;
  }

  async stop() { await this.srv.stop(); }

  // SIGKILL and wait (bounded) for the exit.
  async kill() {
    const p = this.srv.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    process.kill(this.srv.pid, 'SIGKILL');
    await within(this.srv.exited, 5000, `exit of ${this.name} after SIGKILL`);
  }

  async mon(path) {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/${path}`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`GET /${path} on ${this.name}: HTTP ${res.status}`);
    return res.json();
  }

  async routez() { return this.mon('routez'); }

  // The route entry on this node whose remote is `other` (a Node), or undefined.
  async routeTo(other) {
    const r = await this.routez();
    return (r.routes || []).find((x) => x.remote_id === other.serverId);
  }
}

async function freePorts(n) {
  const out = new Set();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

// Start n nodes; node i seeds node i-1 (a chain), unless opts.seeds gives a
// function i -> seed index (or null).
async function startCluster(n, opts = {}) {
  const clusterName = opts.clusterName || 'C1';
  const prefix = opts.prefix || 'n';
  const ports = await freePorts(3 * n);
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const seedIdx = opts.seeds ? opts.seeds(i) : (i === 0 ? null : i - 1);
    nodes.push(new Node(i, {
      name: `${prefix}${i + 1}`, clusterName,
      clientPort: ports[3 * i], httpPort: ports[3 * i + 1], routePort: ports[3 * i + 2],
      seed: seedIdx === null ? null : ports[3 * seedIdx + 2],
      useConfig: !!opts.useConfig,
      extraConfig: opts.extraConfig,
    }));
  }
  try {
    for (const node of nodes) await node.start();
  } catch (e) {
    await stopAll(nodes);
    throw e;
  }
  return nodes;
}

async function stopAll(nodes) {
  for (const node of nodes) await node.stop().catch(() => {});
}

// Every node in `nodes` has exactly one route to every other node in `nodes`
// (num_routes == N-1, remote ids == the others' server ids).
async function meshState(nodes) {
  const problems = [];
  for (const node of nodes) {
    let r;
    try { r = await node.routez(); } catch (e) { problems.push(`${node.name}: ${e.message}`); continue; }
    const want = nodes.filter((x) => x !== node).map((x) => x.serverId).sort();
    const have = (r.routes || []).map((x) => x.remote_id).sort();
    if (r.num_routes !== nodes.length - 1 || JSON.stringify(want) !== JSON.stringify(have)) {
      problems.push(`${node.name}: num_routes=${r.num_routes} remotes=[${have.map((s) => s.slice(0, 6))}] want [${want.map((s) => s.slice(0, 6))}]`);
    }
  }
  return problems;
}

async function waitMesh(nodes, timeoutMs = 20000) {
  let last = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    last = await meshState(nodes);
    if (last.length === 0) return;
    await sleep(50);
  }
  throw new Error(`mesh not complete after ${timeoutMs}ms: ${last.join('; ')}`);
}

// Interest barrier: snapshot the route-subscription counts that every node in
// `observers` has for the route from `subNode`, run fn() (which creates
// subscriptions on subNode's clients and flushes), then wait until every
// observer shows at least `added` more (RS+ processed there).
async function withInterest(subNode, observers, added, fn, timeoutMs = 10000) {
  const base = new Map();
  for (const o of observers) base.set(o, ((await o.routeTo(subNode)) || {}).subscriptions || 0);
  const r = await fn();
  for (const o of observers) {
    await waitFor(async () => (((await o.routeTo(subNode)) || {}).subscriptions || 0) >= base.get(o) + added,
      timeoutMs, `${o.name} to see ${added} new subscription(s) from ${subNode.name}`);
  }
  return r;
}

// Wait until the route count on `observer` for subNode drops to <= target.
async function waitRouteSubs(observer, subNode, pred, what, timeoutMs = 10000) {
  await waitFor(async () => pred(((await observer.routeTo(subNode)) || {}).subscriptions || 0), timeoutMs, what);
}

const T = (test, getNodes) => (name, fn, timeout = 60000) =>
  test(name, { timeout }, withLog(() => getNodes().map((n) => n.srv), fn));

// Client connections a test file opens, closed together after a test or the file.
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

// A callback subscription that keeps every message it gets, in order.
function collect(nc, subject, opts = {}) {
  const msgs = [];
  const sub = nc.subscribe(subject, { ...opts, callback: (err, m) => { if (!err) msgs.push(m); } });
  return { sub, msgs, nc };
}

module.exports = { Node, Clients, collect, startCluster, stopAll, waitMesh, meshState, withInterest, waitRouteSubs, freePorts, T, waitFor, within, sleep, SERVER_KIND, SERVER_BIN };
