'use strict';
// Shared helper: start the server under test (herald or nats-server) on a free
// loopback port, wait until it accepts, stop it by PID (SIGTERM, then SIGKILL
// after a bound), and keep its log in a temp file that is printed on failure.
//
// Env: SERVER_KIND=herald|nats-server (default nats-server)
//      SERVER_BIN=/path/to/binary     (default per kind)
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const SERVER_KIND = process.env.SERVER_KIND || 'nats-server';
const DEFAULT_BINS = {
  'nats-server': ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => fs.existsSync(p)) || 'nats-server',
  herald: path.resolve(__dirname, '../../../bazel-bin/server/herald'),
};
const SERVER_BIN = process.env.SERVER_BIN || DEFAULT_BINS[SERVER_KIND];
if (!SERVER_BIN) throw new Error(`unknown SERVER_KIND ${SERVER_KIND} and no SERVER_BIN`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => { sock.destroy(); resolve(false); }, timeoutMs);
    sock.once('connect', () => { clearTimeout(t); sock.destroy(); resolve(true); });
    sock.once('error', () => { clearTimeout(t); sock.destroy(); resolve(false); });
  });
}

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|WARNING: ThreadSanitizer|runtime error: /;

const liveServers = new Set();
// Last-resort cleanup if the test process exits with servers still running.
function killAll() {
  for (const s of liveServers) {
    try { process.kill(s.pid, 'SIGKILL'); } catch (_) { /* already gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => { killAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15)); });
}

class Server {
  constructor(opts = {}) {
    this.args = opts.args || [];
    this.config = opts.config || null; // nats-server conf syntax text
    this.port = opts.port || 0;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-jstest-'));
    this.logFile = path.join(this.dir, 'server.log');
    this.proc = null;
    this.pid = null;
    this.exited = null;
  }

  get url() { return `nats://127.0.0.1:${this.port}`; }

  async start(timeoutMs = 10000) {
    if (!this.port) this.port = await freePort();
    const args = ['-a', '127.0.0.1', '-p', String(this.port)];
    if (this.config !== null) {
      const conf = path.join(this.dir, 'server.conf');
      fs.writeFileSync(conf, this.config);
      args.push('-c', conf);
    }
    args.push(...this.args);
    const fd = fs.openSync(this.logFile, 'a');
    fs.writeSync(fd, `### ${SERVER_BIN} ${args.join(' ')}\n`);
    this.proc = spawn(SERVER_BIN, args, { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.pid = this.proc.pid;
    liveServers.add(this);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, sig) => resolve({ code, sig }));
      this.proc.once('error', (err) => {
        fs.appendFileSync(this.logFile, `### spawn error: ${err.message}\n`);
        resolve({ code: -1, sig: null, err });
      });
    });
    let dead = false;
    this.exited.then(() => { dead = true; liveServers.delete(this); });
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (dead) throw new Error(`server exited during startup\n${this.log()}`);
      if (await canConnect(this.port)) return this;
      await sleep(50);
    }
    await this.stop();
    throw new Error(`server did not accept on port ${this.port} within ${timeoutMs}ms\n${this.log()}`);
  }

  async stop(graceMs = 5000) {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) {
      liveServers.delete(this);
      return;
    }
    try { process.kill(this.pid, 'SIGTERM'); } catch (_) { /* gone */ }
    const t = sleep(graceMs).then(() => 'timeout');
    if ((await Promise.race([this.exited, t])) === 'timeout') {
      try { process.kill(this.pid, 'SIGKILL'); } catch (_) { /* gone */ }
      await Promise.race([this.exited, sleep(graceMs)]);
    }
    liveServers.delete(this);
  }

  async restart() {
    await this.stop();
    // Same port: wait (bounded) until the old listener is really gone.
    await this.start();
  }

  // Sanitizer reports (ASan/LSan/TSan/UBSan builds) in the log, from byte offset `from`.
  sanitizerReports(from = 0) {
    let text = '';
    try { text = fs.readFileSync(this.logFile, 'utf8').slice(from); } catch (_) { return []; }
    return text.split('\n').filter((l) => SANITIZER_RE.test(l));
  }

  logSize() {
    try { return fs.statSync(this.logFile).size; } catch (_) { return 0; }
  }

  log() {
    try {
      let text = fs.readFileSync(this.logFile, 'utf8');
      const max = 20000; // keep failure output readable: the tail is what matters
      if (text.length > max) text = `[... ${text.length - max} bytes cut ...]\n${text.slice(-max)}`;
      return `----- server log (${this.logFile}) -----\n${text}\n----- end of log -----`;
    } catch (e) { return `(no log: ${e.message})`; }
  }
}

async function startServer(opts) {
  const s = new Server(opts);
  await s.start();
  return s;
}

// Wrap a test body so the server log is printed when it fails, and so the
// test fails if the server logged a sanitizer report while it ran.
function withLog(getServers, fn) {
  return async (t) => {
    const servers = () => [].concat(getServers() || []).filter(Boolean);
    const start = new Map(servers().map((s) => [s, s.logSize()]));
    try {
      await fn(t);
      for (const s of servers()) {
        const reports = s.sanitizerReports(start.get(s) || 0);
        if (reports.length) throw new Error(`sanitizer report in server log: ${reports.slice(0, 3).join(' | ')}`);
      }
    } catch (e) {
      for (const s of servers()) console.error(s.log());
      throw e;
    }
  };
}

// Stop a server and fail if its log has sanitizer reports (e.g. leaks at exit).
async function stopAndCheck(srv) {
  await srv.stop();
  const reports = srv.sanitizerReports();
  if (reports.length) {
    console.error(srv.log());
    throw new Error(`sanitizer report in server log: ${reports.slice(0, 3).join(' | ')}`);
  }
}

// Bounded wait on a condition (on the monotonic clock: a step of the wall
// clock must not end or stretch a wait).
async function waitFor(cond, timeoutMs = 5000, what = 'condition') {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

// Reject if a promise does not settle in time.
function within(p, ms, what = 'operation') {
  let timer;
  return Promise.race([
    p,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} did not complete within ${ms}ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

module.exports = { stopAndCheck, SERVER_KIND, SERVER_BIN, Server, startServer, freePort, canConnect, withLog, waitFor, within, sleep };
