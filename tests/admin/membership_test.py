#!/usr/bin/env python3
"""heraldctl's membership commands (node remove, node drain, stream move,
op status) against a real 4-node JetStream cluster with the admin listener on
every node:

* node remove of a node holding R3 replicas (and leading a stream and the
  metadata group) while publishers run: every stream back at 3 current
  replicas without it, the node out of the metadata group, every
  acknowledged message readable at its sequence, new streams never placed
  on it;
* refusals: unknown node (NOT_FOUND), a stream that could not be re-placed
  and a metadata group left without a quorum (FAILED_PRECONDITION), unknown
  operation (NOT_FOUND), stream move to a node already holding a replica
  (INVALID_ARGUMENT) or to an unknown node (NOT_FOUND);
* stream move --from A --to B;
* node add of a fifth node started against the cluster: a voter of the
  metadata group, and the next stream placed on it;
* node drain: the node leads no group, its clients are disconnected and can
  reconnect elsewhere, nothing new is placed on it, its process exits at the
  end of its lame duck, and the cluster keeps serving.

Usage: SERVER_BIN=/path/to/herald HERALDCTL=/path/to/heraldctl \\
       python3 tests/admin/membership_test.py [-k pattern]
Prints "RESULT passed=N failed=M" at the end. Every process listens on
127.0.0.1 only; every wait is bounded in time.
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from admin_test import (HERALDCTL, RUNNING, SERVER_BIN, TOKEN, Node, Result, Run,  # noqa: E402
                        all_logs, free_ports, wait_for)

# A drained node's lame duck: it closes its clients after the grace period
# and exits right after its last client is closed (30s is the configuration's
# minimum duration, which only spreads the closing of many clients; the
# grace period leaves the test time to check placement while it is up).
LAME_DUCK = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "6s"\n'


class Nats:
    """A raw NATS protocol client on 127.0.0.1 for JetStream requests:
    one request in flight at a time, replies on a private inbox."""

    def __init__(self, port, name="adm-membership", timeout=5):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False
        line = self._line(time.monotonic() + timeout)
        if not line.startswith(b"INFO "):
            raise AssertionError("no INFO: %r" % line)
        self.info = json.loads(line[5:])
        connect = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1,
                   "name": name}
        self.inbox = "_INBOX.%s.%d" % (name, id(self))
        self.next = 0
        self.s.sendall(b"CONNECT " + json.dumps(connect).encode() +
                       b"\r\nSUB " + self.inbox.encode() + b".* 1\r\nPING\r\n")
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            if m == "PONG":
                break
            if m is None:
                raise AssertionError("no PONG from 127.0.0.1:%d" % port)

    def _fill(self, deadline):
        """False when the connection is closed; True otherwise (data or not)."""
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        self.s.settimeout(min(left, 0.5))
        try:
            d = self.s.recv(1 << 16)
        except socket.timeout:
            return True
        except OSError:
            self.closed = True
            return False
        if not d:
            self.closed = True
            return False
        self.buf += d
        return True

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline or not self._fill(deadline):
                return None
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out

    def _next(self, deadline):
        """The next protocol item: "PONG", ("MSG", subject, headers, data),
        or None at the deadline or when closed. Answers PINGs."""
        while True:
            line = self._line(deadline)
            if line is None:
                return None
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
                continue
            if line == b"PONG":
                return "PONG"
            if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                parts = line.split()
                hlen = int(parts[-2]) if parts[0] == b"HMSG" else 0
                total = int(parts[-1])
                while len(self.buf) < total + 2:
                    if time.monotonic() > deadline or not self._fill(deadline):
                        return None
                payload, self.buf = self.buf[:total], self.buf[total + 2:]
                return ("MSG", parts[1].decode(), payload[:hlen], payload[hlen:])
            if line.startswith(b"-ERR"):
                raise AssertionError("server error: %r" % line)
            # +OK, INFO (lame duck announcements): ignored here.

    def request(self, subject, payload, timeout=5, headers=None):
        """The reply's (headers, data), or None after timeout."""
        self.next += 1
        reply = "%s.%d" % (self.inbox, self.next)
        if isinstance(payload, str):
            payload = payload.encode()
        if headers:
            h = b"NATS/1.0\r\n" + b"".join(
                b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items()) + b"\r\n"
            self.s.sendall(b"HPUB %s %s %d %d\r\n%s%s\r\n" % (
                subject.encode(), reply.encode(), len(h), len(h) + len(payload), h, payload))
        else:
            self.s.sendall(b"PUB %s %s %d\r\n%s\r\n" % (
                subject.encode(), reply.encode(), len(payload), payload))
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            if m is None:
                return None
            if m != "PONG" and m[1] == reply:
                return m[2], m[3]
            # A late reply to an earlier, timed-out request: dropped.

    def api(self, subject, body, timeout=5):
        r = self.request(subject, json.dumps(body), timeout)
        return json.loads(r[1]) if r else None

    def ping(self, timeout=3):
        self.s.sendall(b"PING\r\n")
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            if m is None:
                return False
            if m == "PONG":
                return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def pub_ack(r):
    """A publish request's answer as a PubAck dict: the no-responders status
    (503, no body: the stream's leadership is moving, as nats-server answers
    then; clients retry it) as an error; None for no answer."""
    if r is None:
        return None
    headers, data = r
    if headers.startswith(b"NATS/1.0 503"):
        return {"error": {"code": 503, "description": "no responders"}}
    return json.loads(data)


class Publisher(threading.Thread):
    """Publishes to some streams, round-robin, each message with a
    Nats-Msg-Id, retrying a message (same id) whose PubAck did not come;
    records every acknowledged (stream, id, seq) with its time. Stops when
    told, or after max_seconds."""

    def __init__(self, port, streams, tag, max_seconds=150, max_msgs=20000):
        super().__init__(daemon=True)
        self.port, self.streams, self.tag = port, streams, tag
        self.max_seconds, self.max_msgs = max_seconds, max_msgs
        self.stop_event = threading.Event()
        self.acked = {s: {} for s in streams}  # stream -> {msg id: seq}
        self.attempted = {s: set() for s in streams}  # every id sent, acked or not
        self.ack_times = []
        self.errors = []      # PubAck errors and timeouts, for the report
        self.failure = None   # a reason the publisher could not go on
        self.lock = threading.Lock()

    def count(self, stream=None):
        with self.lock:
            if stream:
                return len(self.acked[stream])
            return sum(len(v) for v in self.acked.values())

    def acks_between(self, t0, t1):
        with self.lock:
            return sum(1 for t in self.ack_times if t0 <= t <= t1)

    def longest_gap(self):
        with self.lock:
            ts = sorted(self.ack_times)
        return max((b - a for a, b in zip(ts, ts[1:])), default=0.0)

    def run(self):
        end = time.monotonic() + self.max_seconds
        conn = None
        i = 0
        try:
            while not self.stop_event.is_set() and time.monotonic() < end and i < self.max_msgs:
                stream = self.streams[i % len(self.streams)]
                msg_id = "%s-%s-%d" % (self.tag, stream, i)
                for attempt in range(40):
                    if self.stop_event.is_set() and attempt > 0:
                        break  # not acknowledged: not counted
                    if conn is None or conn.closed:
                        if conn:
                            conn.close()
                        conn = Nats(self.port, "pub-" + self.tag)
                    with self.lock:
                        self.attempted[stream].add(msg_id)
                    r = conn.request("%s.x" % stream.lower(), msg_id, timeout=2,
                                     headers={"Nats-Msg-Id": msg_id})
                    if r is None:
                        self.errors.append((time.monotonic(), msg_id, "timeout"))
                        continue
                    ack = pub_ack(r)
                    if "error" in ack or "seq" not in ack:
                        self.errors.append((time.monotonic(), msg_id, ack))
                        time.sleep(0.1)
                        continue
                    with self.lock:
                        self.acked[stream][msg_id] = ack["seq"]
                        self.ack_times.append(time.monotonic())
                    if attempt > 0:  # for the report: was the first try stored?
                        self.errors.append((time.monotonic(), msg_id, "retry acked: %r" % ack))
                    break
                else:
                    self.failure = "message %s never acknowledged: %r" % (msg_id, self.errors[-3:])
                    return
                i += 1
        except Exception as e:  # reported by the test
            self.failure = "publisher %s: %r" % (self.tag, e)
        finally:
            if conn:
                conn.close()


class Ctl:
    """heraldctl against the class's nodes."""

    @staticmethod
    def ctl_on(node, *args, token=TOKEN, timeout=None, wait=60):
        argv = [HERALDCTL, "--server", node.admin]
        if timeout:
            argv += ["--timeout", timeout]
        if token is not None:
            argv += ["--token", token]
        argv += list(args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_ADMIN")}
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=wait, env=env)
        return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


class MembershipCase(unittest.TestCase, Ctl):
    """A 4-node JetStream cluster (n1..n4) for the class's tests, which run in
    name order and may leave it changed for the next."""
    nodes = []
    root = None
    extra = ""

    @classmethod
    def setUpClass(cls):
        cls.nodes = []
        cls.root = tempfile.mkdtemp(prefix="herald-member-")
        ports = free_ports(12)
        routes = ["nats-route://127.0.0.1:%d" % p for p in ports[4:8]]
        try:
            for i in range(4):
                cls.nodes.append(Node(cls.root, "n%d" % (i + 1), ports[i], ports[4 + i],
                                      ports[8 + i], routes, cls.extra))
            RUNNING[:] = cls.nodes
            for n in cls.nodes:
                ok = wait_for(lambda: cls.ctl_on(n, "health", timeout="5s").rc == 0, 40, 0.2)
                if not ok:
                    raise RuntimeError("%s not ready: %r\n%s" % (
                        n.name, cls.ctl_on(n, "health"), all_logs(cls.nodes)))
            # Every node sees four nodes in the metadata group.
            for n in cls.nodes:
                def four():
                    r = cls.ctl_on(n, "cluster", "status", "--json", timeout="5s")
                    if r.rc != 0:
                        return False
                    roles = [x["meta_role"] for x in r.json()["nodes"] if x["up"]]
                    return len(roles) == 4 and all(roles)
                if not wait_for(four, 30, 0.2):
                    raise RuntimeError("%s does not see 4 meta members: %r\n%s" % (
                        n.name, cls.ctl_on(n, "cluster", "status"), all_logs(cls.nodes)))
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()
        cls.nodes.clear()
        if cls.root:
            shutil.rmtree(cls.root, ignore_errors=True)

    def node(self, name):
        return [n for n in self.nodes if n.name == name][0]

    def ctl(self, *args, on="n1", **kw):
        return self.ctl_on(self.node(on), *args, **kw)

    def ok_json(self, *args, on="n1"):
        r = self.ctl(*(list(args) + ["--json"]), on=on, timeout="10s")
        self.assertEqual(r.rc, 0, r)
        return r.json()

    def add_stream(self, name, replicas=3, on="n1"):
        return self.ok_json("stream", "add", name, "--subjects", "%s.>" % name.lower(),
                            "--replicas", str(replicas), on=on)

    def peers(self, stream, on="n1"):
        return sorted(p["node"] for p in self.ok_json("stream", "info", stream, on=on)["peers"])

    def groups(self, on="n1"):
        return {g["name"]: g for g in self.ok_json("raft", "ls", on=on)["groups"]}

    def settled(self, stream, on="n1"):
        """The stream's group when it has a leader and 3 current voters."""
        g = self.groups(on).get(stream)
        if g and g["leader"] and len(g["replicas"]) == 3 and all(
                r["current"] and r["state"] in ("leader", "voter") for r in g["replicas"]):
            return g
        return None

    def transfer(self, group, to, on="n1"):
        if self.groups(on)[group]["leader"] == to:
            return
        r = self.ctl("raft", "transfer", group, to, on=on, timeout="10s")
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(wait_for(lambda: self.groups(on)[group]["leader"] == to, 15, 0.2),
                        self.groups(on)[group])

    def run_op(self, *args, on="n1", timeout="90s"):
        """A waiting operation command; returns its Run and progress lines.
        (A healthy operation here takes seconds; the bound keeps a stuck one
        within the file's time limit, with heraldctl's report.)"""
        r = self.ctl(*args, on=on, timeout=timeout, wait=120)
        progress = [l for l in r.err.splitlines() if l.startswith("[")]
        return r, progress

    def assert_refused(self, r, code, *needles):
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.startswith("heraldctl: %s: " % code), r)
        for n in needles:
            self.assertIn(n, r.err, r)
        self.assertEqual(r.out, "", r)  # no operation was started


class MembershipTest(MembershipCase):

    def test_1_refusals_and_unknown_names(self):
        self.add_stream("REF")
        peers = self.peers("REF")
        other = [n.name for n in self.nodes if n.name not in peers][0]
        ops = []
        for args, code, needles in [
                (["node", "remove", "n9"], "NOT_FOUND", ["n9"]),
                (["node", "drain", "n9"], "NOT_FOUND", ["n9"]),
                (["stream", "move", "REF", "--from", peers[0], "--to", peers[1]],
                 "INVALID_ARGUMENT", ["already holds a replica", peers[1]]),
                (["stream", "move", "REF", "--from", peers[0], "--to", "n9"], "NOT_FOUND",
                 ["n9"]),
                (["stream", "move", "REF", "--from", "n9"], "NOT_FOUND", ["n9"]),
                (["stream", "move", "REF", "--from", other], "INVALID_ARGUMENT",
                 ["holds no replica"]),
                (["stream", "move", "NOPE", "--from", peers[0]], "NOT_FOUND", []),
                (["op", "status", "remove_node-000000-99"], "NOT_FOUND",
                 ["remove_node-000000-99"]),
                (["op", "status", "remove_node-000000-99", "--wait"], "NOT_FOUND", []),
        ]:
            r = self.ctl(*args, timeout="20s")
            self.assert_refused(r, code, *needles)
            ops.append((args, round(r.seconds, 2)))
        # Nothing moved.
        self.assertEqual(self.peers("REF"), peers)
        self.assertTrue(wait_for(lambda: self.settled("REF"), 15, 0.2), self.groups()["REF"])

    def test_2_stream_move_from_to(self):
        self.add_stream("MOV")
        self.assertTrue(wait_for(lambda: self.settled("MOV"), 15, 0.2), self.groups()["MOV"])
        c = Nats(self.node("n1").client_port)
        try:
            for i in range(50):
                ack = json.loads(c.request("mov.x", "m%d" % i)[1])
                self.assertEqual(ack.get("seq"), i + 1, ack)
        finally:
            c.close()
        before = self.peers("MOV")
        to = [n.name for n in self.nodes if n.name not in before][0]
        # Move the leader's replica: the leadership has to move too.
        frm = self.groups()["MOV"]["leader"]
        t0 = time.monotonic()
        r, progress = self.run_op("stream", "move", "MOV", "--from", frm, "--to", to, "--json")
        self.assertEqual(r.rc, 0, r)
        op = r.json()
        self.assertEqual(op["state"], "done", op)
        self.assertEqual(op["kind"], "move_stream")
        self.assertEqual(op["target"], "MOV")
        self.assertEqual(op["node"], "n1")
        self.assertTrue(progress and progress[-1].endswith("done"), r.err)
        print("  stream move %s -> %s: %.1fs" % (frm, to, time.monotonic() - t0))
        after = self.peers("MOV")
        self.assertIn(to, after)
        self.assertNotIn(frm, after)
        self.assertEqual(len(after), 3)
        g = self.groups()["MOV"]
        self.assertEqual(sorted(x["node"] for x in g["replicas"]), after)
        self.assertTrue(all(x["current"] for x in g["replicas"]), g)
        si = self.ok_json("stream", "info", "MOV")
        self.assertEqual(si["messages"], "50")
        # The operation stays readable, from any node.
        for on in ("n1", "n2"):
            st = self.ok_json("op", "status", op["id"], on=on)
            self.assertEqual(st["state"], "done", st)
        # Without --to, and without waiting: then op status --wait.
        frm2 = [n for n in after if n != to][0]
        r = self.ctl("stream", "move", "MOV", "--from", frm2, "--no-wait", "--json",
                     timeout="20s")
        self.assertEqual(r.rc, 0, r)
        started = r.json()
        self.assertEqual(started["state"], "running", started)
        r, progress = self.run_op("op", "status", started["id"], "--wait", "--json")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()["state"], "done", r)
        after2 = self.peers("MOV")
        self.assertEqual(len(after2), 3, after2)
        self.assertNotIn(frm2, after2)
        self.assertIn(frm, after2)  # the only node left to take it
        self.assertTrue(wait_for(lambda: self.settled("MOV"), 10, 0.2), self.groups()["MOV"])
        # Every message on each new replica: read through it as the leader.
        c = Nats(self.node("n1").client_port)
        try:
            for leader in (to, frm):
                self.transfer("MOV", leader)
                for seq in range(1, 51):
                    m = c.api("$JS.API.STREAM.MSG.GET.MOV", {"seq": seq})
                    self.assertEqual(base64.b64decode(m["message"]["data"]),
                                     b"m%d" % (seq - 1), (leader, m))
        finally:
            c.close()

    def test_3_remove_node_while_publishing(self):
        streams = ["RA", "RB", "RC", "RD"]
        for s in streams:
            self.add_stream(s)
        for s in streams:
            self.assertTrue(wait_for(lambda: self.settled(s), 15, 0.2), self.groups()[s])
        # The victim: the node (not n1, which runs the operation) holding
        # the most replicas; it also leads one of them and the metadata group.
        placed = {s: self.peers(s) for s in streams + ["REF", "MOV"]}
        held = {n.name: [s for s in placed if n.name in placed[s]] for n in self.nodes[1:]}
        victim = max(held, key=lambda n: len(held[n]))
        self.assertTrue(held[victim])
        self.transfer([s for s in held[victim] if s in streams][0], victim)
        self.transfer("_meta_", victim)
        others = [n for n in self.nodes if n.name != victim]

        pubs = [Publisher(n.client_port, streams, n.name) for n in others]
        for p in pubs:
            p.start()
        try:
            ok = wait_for(lambda: all(p.count() >= 20 or p.failure for p in pubs), 30, 0.1)
            self.assertTrue(ok, [(p.count(), p.failure) for p in pubs])
            t0 = time.monotonic()
            r, progress = self.run_op("node", "remove", victim, "--json")
            t1 = time.monotonic()
            during = sum(p.acks_between(t0, t1) for p in pubs)
            # Go on publishing after it for a moment.
            wait_for(lambda: sum(p.acks_between(t1, time.monotonic()) for p in pubs) >= 30,
                     10, 0.1)
        finally:
            for p in pubs:
                p.stop_event.set()
            for p in pubs:
                p.join(20)
        print("  node remove %s (%s): %.1fs, %d acks during it, longest ack gap %.2fs, "
              "%d publish errors/timeouts/retries" % (
                  victim, ",".join(held[victim]), t1 - t0, during,
                  max(p.longest_gap() for p in pubs), sum(len(p.errors) for p in pubs)))
        print("    " + "\n    ".join(r.err.splitlines()))
        for p in pubs:
            for t, msg_id, what in p.errors[:6]:
                print("    publisher %s: %s at +%.2fs: %r" % (p.tag, msg_id, t - t0, what))
        self.assertEqual(r.rc, 0, r)
        op = r.json()
        self.assertEqual(op["state"], "done", op)
        self.assertEqual(op["kind"], "remove_node")
        self.assertEqual(op["target"], victim)
        for s in held[victim]:
            self.assertTrue([l for l in progress if ("stream %s off" % s) in l], r.err)
        for p in pubs:
            self.assertIsNone(p.failure, p.failure)
            self.assertFalse(p.is_alive())
        self.assertGreater(during, 0, "no message was acknowledged during the removal")

        # Out of the metadata group, at once.
        cs = self.ok_json("cluster", "status")
        v = [n for n in cs["nodes"] if n["name"] == victim]
        self.assertTrue(v and v[0]["meta_role"] == "", cs)
        meta = self.groups()["_meta_"]
        self.assertNotIn(victim, [x["node"] for x in meta["replicas"]], meta)
        self.assertNotEqual(meta["leader"], victim)
        # Every stream at 3 replicas, none on the victim, all current (the
        # publishers have just stopped: allow the last appends to land).
        for s in streams + ["REF", "MOV"]:
            self.assertNotIn(victim, self.peers(s), s)
            g = self.groups()[s]
            self.assertNotIn(victim, [x["node"] for x in g["replicas"]], g)
            self.assertTrue(wait_for(lambda: self.settled(s), 10, 0.2), self.groups()[s])
            si = self.ok_json("stream", "info", s)
            self.assertEqual(si["replicas"], 3)
            self.assertEqual(len(si["peers"]), 3, si)
            self.assertTrue(all(p["current"] for p in si["peers"]), si)

        # Every acknowledged message, at its sequence, through a remaining node.
        c = Nats(others[0].client_port, "verify")
        total = 0
        try:
            for s in streams:
                acked = {}
                for p in pubs:
                    acked.update(p.acked[s])
                seqs = sorted(acked.values())
                self.assertEqual(len(seqs), len(set(seqs)), "two ids acked with one seq in " + s)
                si = self.ok_json("stream", "info", s)
                self.assertGreaterEqual(int(si["messages"]), len(acked), si)
                # No message stored twice (a retried id is deduplicated,
                # across the leader's move too).
                attempted = set().union(*(p.attempted[s] for p in pubs))
                self.assertLessEqual(int(si["messages"]), len(attempted), si)
                for msg_id, seq in acked.items():
                    m = c.api("$JS.API.STREAM.MSG.GET." + s, {"seq": seq}, timeout=5)
                    self.assertIsNotNone(m, "no answer for %s seq %d" % (s, seq))
                    self.assertNotIn("error", m, "%s seq %d (%s): %r" % (s, seq, msg_id, m))
                    self.assertEqual(base64.b64decode(m["message"]["data"]).decode(), msg_id,
                                     (s, seq, m))
                    self.assertIn(msg_id, base64.b64decode(m["message"].get("hdrs", "")).decode())
                total += len(acked)
        finally:
            c.close()
        print("  checked %d acknowledged messages" % total)

        # New streams are never placed on the removed node (still running).
        self.assertIsNone(self.node(victim).proc.poll(), "the removed node's process exited")
        for i in range(4):
            self.add_stream("NEW%d" % i)
            self.add_stream("NEWONE%d" % i, replicas=1)
        for i in range(4):
            self.assertNotIn(victim, self.peers("NEW%d" % i))
            self.assertNotIn(victim, self.peers("NEWONE%d" % i))
        type(self).removed = victim
        type(self).meta_after_removal = self.groups()["_meta_"]
        # The removed node knows it too.
        cs = self.ok_json("cluster", "status", on=victim)
        self.assertEqual([n["meta_role"] for n in cs["nodes"] if n["name"] == victim], [""], cs)

    def test_4_refusals_with_three_nodes_left(self):
        victim = getattr(type(self), "removed", None)
        if victim is None:
            self.skipTest("needs test_3's removal")
        left = [n.name for n in self.nodes if n.name != victim]
        # The removed node, still running, does not disturb the metadata
        # group (no elections of its own).
        before = type(self).meta_after_removal
        # Nor does it answer the JetStream API from its frozen view (10008):
        # its clients' requests are answered by the other nodes.
        c = Nats(self.node(victim).client_port)
        try:
            answers = []

            def answered():
                a = c.api("$JS.API.STREAM.INFO.RA", {}, timeout=3)
                answers.append(a)
                return a is not None and "error" not in a and a["config"]["name"] == "RA"
            self.assertTrue(wait_for(answered, 15, 0.2), answers[-3:])
            a = c.api("$JS.API.STREAM.NAMES", {})
            self.assertIn("RA", a["streams"], a)
        finally:
            c.close()
        # Every R3 stream is on all three: none could be re-placed.
        target = left[1]
        r = self.ctl("node", "remove", target, timeout="20s")
        self.assert_refused(r, "FAILED_PRECONDITION", "stream ", target)
        streams = [s["name"] for s in self.ok_json("stream", "ls")["streams"]
                   if s["replicas"] == 3]
        self.assertTrue(any(("stream %s " % s) in r.err for s in streams), r)
        # Nothing changed: still in the metadata group, still holding replicas.
        cs = self.ok_json("cluster", "status")
        self.assertEqual([n["meta_role"] != "" for n in cs["nodes"] if n["name"] == target],
                         [True])
        self.assertIn(target, self.peers("RA"))
        # And a stream can still be placed on it (not left cordoned).
        self.add_stream("AFTERREF")
        self.assertEqual(self.peers("AFTERREF"), sorted(left))

        meta = self.groups()["_meta_"]
        self.assertEqual((meta["leader"], meta["term"]), (before["leader"], before["term"]),
                         (before, meta))

        # The metadata group's quorum: with one of the three voters down,
        # removing another would leave one of two online.
        down = self.node(left[2])
        down.stop()
        self.assertTrue(wait_for(lambda: [n for n in self.ok_json("cluster", "status")["nodes"]
                                          if n["name"] == down.name and not n["up"]], 20, 0.2))
        r = self.ctl("node", "remove", left[1], timeout="20s")
        self.assert_refused(r, "FAILED_PRECONDITION", "quorum")
        r = self.ctl("node", "remove", left[0], on=left[1], timeout="20s")
        self.assert_refused(r, "FAILED_PRECONDITION", "quorum")
        # The node that is down: its R3 replicas have nowhere to go.
        r = self.ctl("node", "remove", down.name, timeout="20s")
        self.assert_refused(r, "FAILED_PRECONDITION", "stream ", down.name)


class AddNodeTest(MembershipCase):
    """A fifth node started against the running 4-node cluster: node add makes
    it a voter of the metadata group, and new streams are placed on it."""

    def test_add_node_then_placements_use_it(self):
        streams = ["PA", "PB", "PC", "PD"]
        for s in streams:  # 12 replicas: 3 on each of the four nodes
            self.add_stream(s)
        r = self.ctl("node", "add", "n5", timeout="10s")
        self.assert_refused(r, "NOT_FOUND", "n5", "start it first")

        routes = re.search(r"routes: \[([^\]]*)\]", self.nodes[0].base_conf).group(1).split(", ")
        client, route, admin = free_ports(3)
        n5 = Node(self.root, "n5", client, route, admin,
                  routes + ["nats-route://127.0.0.1:%d" % route], self.extra)
        type(self).nodes.append(n5)
        RUNNING[:] = type(self).nodes
        self.assertTrue(wait_for(lambda: self.ctl_on(n5, "health", timeout="5s").rc == 0, 40, 0.2),
                        n5.logtext())

        t0 = time.monotonic()
        r = self.ctl("node", "add", "n5", "--json", timeout="90s")
        self.assertEqual(r.rc, 0, r)
        op = r.json()
        self.assertEqual((op["kind"], op["target"], op["state"]), ("add_node", "n5", "done"), op)
        print("node add n5: %.2fs" % (time.monotonic() - t0))
        for on in ("n1", "n5"):
            roles = {n["name"]: n["meta_role"] for n in self.ok_json("cluster", "status", on=on)["nodes"]}
            self.assertIn(roles.get("n5"), ("follower", "leader"), roles)
        # Again: nothing to do, done at once.
        r = self.ctl("node", "add", "n5", timeout="30s")
        self.assertEqual(r.rc, 0, r)

        # The least-loaded nodes take a new stream: n5 (no replica) is one.
        self.add_stream("PE")
        self.assertIn("n5", self.peers("PE"))
        self.assertTrue(wait_for(lambda: self.settled("PE"), 20, 0.2), self.groups().get("PE"))
        c = Nats(self.node("n1").client_port)
        try:
            ack = c.request("pe.x", b"hello")
            self.assertIsNotNone(ack)
            self.assertIn(b'"stream":"PE"', ack[1])
        finally:
            c.close()


class RemoveDownNodeTest(MembershipCase):
    """Replacing a failed machine: the node is down while it is removed,
    through a node (n1) that holds no replica of one of its streams."""

    def test_remove_a_node_that_is_down(self):
        streams = ["XA", "XB", "XC", "XD"]
        for s in streams:
            self.add_stream(s)
        for s in streams:
            self.assertTrue(wait_for(lambda: self.settled(s), 15, 0.2), self.groups()[s])
        c = Nats(self.node("n1").client_port)
        try:
            for s in streams:
                for i in range(30):
                    ack = json.loads(c.request("%s.x" % s.lower(), "%s-%d" % (s, i))[1])
                    self.assertEqual(ack.get("seq"), i + 1, ack)
        finally:
            c.close()
        # A stream n1 holds no replica of (4 R3 streams on 4 nodes: one
        # avoids each node); the node that dies is its first leader (the
        # replica that campaigned at its creation).
        placed = {s: self.peers(s) for s in streams}
        elsewhere = [s for s in streams if "n1" not in placed[s]]
        if not elsewhere:
            r, _ = self.run_op("stream", "move", "XA", "--from", "n1")
            self.assertEqual(r.rc, 0, r)
            elsewhere = ["XA"]
        far = elsewhere[0]
        dead = self.groups()[far]["leader"]
        held = [s for s in streams if dead in self.peers(s)]
        self.node(dead).stop()
        self.assertTrue(wait_for(lambda: [n for n in self.ok_json("cluster", "status")["nodes"]
                                          if n["name"] == dead and not n["up"]], 20, 0.2))
        # JetStream first: with 2 of 3 replicas up the stream has a leader and
        # answers through every node, n1 included.
        c = Nats(self.node("n1").client_port)
        try:
            def info():
                r = c.api("$JS.API.STREAM.INFO." + far, {}, timeout=2)
                return r if r and "error" not in r else None
            answered = wait_for(info, 15, 0.2)
        finally:
            c.close()
        with self.subTest("STREAM.INFO through a node holding no replica"):
            self.assertIsNotNone(
                answered, "$JS.API.STREAM.INFO.%s through n1 (not a replica) got no answer for "
                "15 s while %s (its first peer) is down; its group: %r" % (
                    far, dead, self.groups().get(far)))

        t0 = time.monotonic()
        r, progress = self.run_op("node", "remove", dead, "--json")
        print("  node remove %s (down; %s): %.1fs" % (dead, ",".join(held), time.monotonic() - t0))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()["state"], "done", r)
        cs = self.ok_json("cluster", "status")
        self.assertEqual([n["meta_role"] for n in cs["nodes"] if n["name"] == dead], [""], cs)
        c = Nats(self.node("n1").client_port)
        try:
            for s in streams:
                self.assertNotIn(dead, self.peers(s))
                self.assertTrue(wait_for(lambda: self.settled(s), 10, 0.2), self.groups()[s])
                self.assertEqual(self.ok_json("stream", "info", s)["messages"], "30")
                for seq in (1, 30):
                    m = c.api("$JS.API.STREAM.MSG.GET." + s, {"seq": seq})
                    self.assertEqual(base64.b64decode(m["message"]["data"]).decode(),
                                     "%s-%d" % (s, seq - 1), m)
        finally:
            c.close()
        # The three left still make a metadata group that places streams.
        self.add_stream("XAFTER")
        self.assertEqual(len(self.peers("XAFTER")), 3)


class LastNodeTest(unittest.TestCase, Ctl):
    """A cluster of one node: removing it is refused."""

    def test_removing_the_last_node_is_refused(self):
        root = tempfile.mkdtemp(prefix="herald-member-solo-")
        client, route, admin = free_ports(3)
        node = Node(root, "solo", client, route, admin, ["nats-route://127.0.0.1:%d" % route])
        RUNNING[:] = [node]
        try:
            self.assertTrue(wait_for(lambda: self.ctl_on(node, "health", timeout="5s").rc == 0,
                                     30, 0.2), node.logtext())
            r = self.ctl_on(node, "node", "remove", "solo", timeout="10s")
            self.assertEqual(r.rc, 1, r)
            self.assertTrue(r.err.startswith("heraldctl: FAILED_PRECONDITION: "), r)
            self.assertIn("last node", r.err)
            self.assertEqual(self.ctl_on(node, "health", timeout="5s").rc, 0)
        finally:
            node.stop()
            shutil.rmtree(root, ignore_errors=True)


class DrainTest(MembershipCase):
    extra = LAME_DUCK

    def test_1_drain_node(self):
        streams = ["DA", "DB", "DC"]
        for s in streams:
            self.add_stream(s)
        for s in streams:
            self.assertTrue(wait_for(lambda: self.settled(s), 15, 0.2), self.groups()[s])
        target = "n2"
        led = [s for s in streams if target in self.peers(s)]
        self.assertTrue(led)
        for s in led:
            self.transfer(s, target)
        self.transfer("_meta_", target)
        self.assertTrue(self.groups()[led[0]]["leader"] == target)

        client = Nats(self.node(target).client_port, "drained-client")
        t0 = time.monotonic()
        r, progress = self.run_op("node", "drain", target, "--json")
        t1 = time.monotonic()
        print("  node drain %s: %.1fs" % (target, t1 - t0))
        self.assertEqual(r.rc, 0, r)
        op = r.json()
        self.assertEqual(op["state"], "done", op)
        self.assertEqual(op["kind"], "drain_node")
        self.assertEqual(op["target"], target)
        self.assertTrue(progress and progress[-1].endswith("done"), r.err)

        proc = self.node(target).proc
        self.assertIsNone(proc.poll(), "the drained node exited before its grace period ended")
        # It leads no group.
        groups = self.groups()
        self.assertEqual([g["name"] for g in groups.values() if g["leader"] == target], [], groups)
        # Nothing new is placed on it (while it is still up).
        for i in range(3):
            self.add_stream("DNEW%d" % i)
            self.add_stream("DNEWONE%d" % i, replicas=1)
        up = [n for n in self.ok_json("cluster", "status")["nodes"] if n["name"] == target]
        self.assertTrue(up and up[0]["up"], "too slow: the drained node is already gone")
        for i in range(3):
            self.assertNotIn(target, self.peers("DNEW%d" % i))
            self.assertNotIn(target, self.peers("DNEWONE%d" % i))
        # Nor moved onto it.
        one = self.peers("DNEWONE0")[0]
        r = self.ctl("stream", "move", "DNEWONE0", "--from", one, "--to", target, timeout="10s")
        self.assert_refused(r, "FAILED_PRECONDITION", target, "drained")

        # Its client is told (lame duck INFO), then disconnected, and can
        # connect to another node.
        deadline = time.monotonic() + 15
        while not client.closed and time.monotonic() < deadline:
            client._fill(deadline)
        self.assertTrue(client.closed, "the drained node's client was not disconnected")
        self.assertIn(b'"ldm":true', client.buf)
        client.close()
        again = Nats(self.nodes[0].client_port, "reconnected")
        try:
            self.assertTrue(again.ping())
            for url in again.info.get("connect_urls", []):
                self.assertNotEqual(url, "127.0.0.1:%d" % self.node(target).client_port)
        finally:
            again.close()
        # The process exits on its own at the end of its lame duck.
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            self.fail("the drained node did not exit within 40 s of its drain")
        self.assertEqual(proc.returncode, 0, self.node(target).logtext())

        # The cluster keeps serving: every stream takes and acknowledges.
        self.assertTrue(wait_for(lambda: self.ctl("health", timeout="5s").rc == 0, 20, 0.2))
        c = Nats(self.nodes[0].client_port, "after-drain")
        try:
            for s in streams + ["DNEW0"]:
                def acked():
                    r = c.request("%s.x" % s.lower(), "after", timeout=3)
                    return r and "seq" in pub_ack(r)
                self.assertTrue(wait_for(acked, 20, 0.2), s)
        finally:
            c.close()
        self.add_stream("DLATE")
        self.assertNotIn(target, self.peers("DLATE"))
        st = self.ok_json("op", "status", op["id"])
        self.assertEqual(st["state"], "done")
        type(self).drained = True

    def test_2_drain_through_itself(self):
        """The operation runs on the node drained, which shuts itself down:
        heraldctl says so, and its state is gone with it."""
        if not getattr(type(self), "drained", False):
            self.skipTest("needs test_1's drain")
        target = "n3"
        r, progress = self.run_op("node", "drain", target, "--json", on=target)
        print("  node drain %s through itself: rc=%d, %.1fs" % (target, r.rc, r.seconds))
        self.assertIn("heraldctl: note: %s runs this operation" % target, r.err)
        if r.rc == 0:
            op = r.json()
            self.assertEqual(op["state"], "done", op)
            self.assertEqual(op["node"], target)
            op_id = op["id"]
        else:
            # Gone before the drain was seen to end: said as such.
            self.assertIn("lost the admin server", r.err, r)
            self.assertIn("shuts itself down when its lame duck ends", r.err, r)
            op_id = r.err.split("Operation ")[1].split()[0]
        proc = self.node(target).proc
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            self.fail("%s did not exit within 40 s of its drain" % target)
        self.assertEqual(proc.returncode, 0)
        # Its operation's state went with it.
        r = self.ctl("op", "status", op_id, timeout="10s")
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.startswith("heraldctl: NOT_FOUND: "), r)
        r = self.ctl("op", "status", op_id, "--wait", on=target, timeout="5s")
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.startswith("heraldctl: UNAVAILABLE: "), r)


if __name__ == "__main__":
    if not SERVER_BIN or not HERALDCTL:
        print("SERVER_BIN and HERALDCTL are required")
        sys.exit(2)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result)
    prog = unittest.main(exit=False, testRunner=runner)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("RESULT passed=%d failed=%d" % (Result.passed, failed))
    sys.exit(1 if failed else 0)
