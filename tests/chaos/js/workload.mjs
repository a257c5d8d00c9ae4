// nats.js (v2) clients in the chaos workload (tests/chaos, issue 12), started
// and stopped by the Go harness (workload_js.go):
//   * N publishers, each on its own connection (preferring a different node):
//     payload-<id> to <prefix>js<P> with msgID <id> = js<P>-<k>, retried with
//     the same id on error or timeout until acknowledged;
//   * durable pull consumers (created by the harness, explicit ack): fetch in
//     batches, ackAck every delivery.
// Every record is one line appended with a synchronous write to --out (so a
// record exists before the publish it describes is sent):
//   att <id> <start_us>                          publish attempt
//   ok <id> <start_us> <stream> <seq> <dup 0|1>  acknowledged
//   err <id> <start_us> <json message>           attempt failed (will retry)
//   dlv <consumer> <stream_seq> <consumer_seq> <redelivered 0|1> <delivery_count> <json payload>
//   acked <consumer> <stream_seq> <consumer_seq>  ackAck confirmed
//   ackerr <consumer> <stream_seq> <json message>
//   cerr <consumer> <json message>               get/fetch error
//   info <json message> | ready | pubs-stopped | cons-stopped
// Commands on stdin (one per line): stop-publishers, stop-consumers, exit.
// stdin closed (the harness is gone): exit.
//
//   node workload.mjs --urls nats://127.0.0.1:4222,... --out FILE
//        [--publishers 2] [--consumers JS1,JS2] [--stream CHAOS]
//        [--prefix chaos.] [--interval-ms 5]
import { createRequire } from "node:module";
import fs from "node:fs";
import readline from "node:readline";

// require (not import) so that NODE_PATH can point at another node_modules
// (the harness falls back to tests/jetstream/js's, the same pinned version).
const require = createRequire(import.meta.url);
const { connect, StringCodec } = require("nats");

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
}
const urls = (args.urls || "").split(",").filter((u) => u);
const nPub = parseInt(args.publishers || "2", 10);
const consumers = (args.consumers || "").split(",").filter((c) => c);
const stream = args.stream || "CHAOS";
const prefix = args.prefix || "chaos.";
const intervalMs = parseInt(args["interval-ms"] || "5", 10);
if (!urls.length || !args.out) {
  console.error("usage: node workload.mjs --urls URL,... --out FILE [--publishers N] [--consumers A,B]");
  process.exit(2);
}
const out = fs.openSync(args.out, "a");
const rec = (...f) => fs.writeSync(out, f.join(" ") + "\n");
const q = (s) => JSON.stringify(String(s));
const errText = (e) => (e && (e.code ? `${e.code}: ${e.message}` : e.message)) || String(e);
const nowUs = () => Date.now() * 1000; // floored: never after the real start
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sc = StringCodec();

let pubStop = false;
let consStop = false;
const conns = [];

// each client prefers a different node; reconnect for ever
function opts(first, name) {
  const servers = urls.slice(first % urls.length).concat(urls.slice(0, first % urls.length));
  return {
    servers, name, noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 100,
    reconnectJitter: 0, timeout: 2000, pingInterval: 2000, maxPingOut: 2, waitOnFirstConnect: true,
  };
}

async function open(first, name) {
  const nc = await connect(opts(first, name));
  conns.push(nc);
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect") rec("info", q(`${name}: ${s.type} ${s.data}`));
    }
  })().catch(() => {});
  return nc;
}

async function publisher(p, nc) {
  const js = nc.jetstream({ timeout: 2000 });
  const subj = `${prefix}js${p}`;
  for (let k = 0; !pubStop; k++) {
    const id = `js${p}-${String(k).padStart(7, "0")}`;
    const data = sc.encode(`payload-${id}`);
    while (!pubStop) {
      const t0 = nowUs();
      rec("att", id, t0);
      try {
        const a = await js.publish(subj, data, { msgID: id, timeout: 2000 });
        rec("ok", id, t0, a.stream, a.seq, a.duplicate ? 1 : 0);
        break;
      } catch (e) {
        rec("err", id, t0, q(errText(e)));
        await sleep(50);
      }
    }
    if (intervalMs > 0) await sleep(intervalMs);
  }
}

async function consumer(name, nc) {
  const js = nc.jetstream({ timeout: 2000 });
  let c = null;
  while (!consStop) {
    try {
      if (!c) c = await js.consumers.get(stream, name);
      const iter = await c.fetch({ max_messages: 100, expires: 1000 });
      // ackAck every message of the batch as it arrives (concurrently), wait
      // for all before the next fetch
      const acks = [];
      for await (const m of iter) {
        const inf = m.info;
        const seq = inf.streamSequence;
        const cseq = inf.deliverySequence;
        rec("dlv", name, seq, cseq, m.redelivered ? 1 : 0, inf.deliveryCount, q(sc.decode(m.data)));
        acks.push(
          m.ackAck({ timeout: 2000 }).then(
            (ok) => rec(ok ? "acked" : "ackerr", name, seq, ok ? cseq : q("ack not sent")),
            (e) => rec("ackerr", name, seq, q(errText(e))),
          ),
        );
      }
      await Promise.allSettled(acks);
    } catch (e) {
      rec("cerr", name, q(errText(e)));
      c = null;
      await sleep(200);
    }
  }
}

async function main() {
  // connect everything first, then say ready
  const pubConns = await Promise.all([...Array(nPub).keys()].map((p) => open(p, `js-pub${p}`)));
  const consConns = await Promise.all(consumers.map((name, i) => open(i + 1, `js-consumer-${name}`)));
  const pubs = pubConns.map((nc, p) =>
    publisher(p, nc).catch((e) => rec("info", q(`publisher ${p} ended: ${errText(e)}`))));
  const cons = consConns.map((nc, i) =>
    consumer(consumers[i], nc).catch((e) => rec("info", q(`consumer ${consumers[i]} ended: ${errText(e)}`))));
  rec("ready");
  const rl = readline.createInterface({ input: process.stdin });
  let exiting = false;
  const finish = async (code) => {
    if (exiting) return;
    exiting = true;
    pubStop = true;
    consStop = true;
    await Promise.race([Promise.allSettled(pubs.concat(cons)), sleep(5000)]);
    await Promise.race([Promise.allSettled(conns.map((nc) => nc.close())), sleep(2000)]);
    fs.closeSync(out);
    process.exit(code);
  };
  rl.on("line", async (line) => {
    const cmd = line.trim();
    if (cmd === "stop-publishers") {
      pubStop = true;
      await Promise.race([Promise.allSettled(pubs), sleep(20000)]);
      rec("pubs-stopped");
    } else if (cmd === "stop-consumers") {
      consStop = true;
      await Promise.race([Promise.allSettled(cons), sleep(8000)]);
      rec("cons-stopped");
    } else if (cmd === "exit") {
      finish(0);
    }
  });
  rl.on("close", () => finish(0));
}

main().catch((e) => {
  rec("info", q(`fatal: ${errText(e)}`));
  console.error(e);
  process.exit(1);
});
