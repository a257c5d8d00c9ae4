#!/usr/bin/env python3
"""heraldctl against a real 3-node JetStream cluster with the admin gRPC
listener on every node: each command and its --json output (health, cluster
status, streams, consumers, Raft groups with step-down and transfer,
connections with kick, reload), authentication (no token, wrong token),
gRPC errors (NOT_FOUND, UNAVAILABLE) and usage errors (exit 2).

Usage: SERVER_BIN=/path/to/herald HERALDCTL=/path/to/heraldctl \
       python3 tests/admin/admin_test.py [-k pattern]
Prints "RESULT passed=N failed=M" at the end. Every process listens on
127.0.0.1 only; every wait is bounded in time.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SERVER_BIN = os.environ.get("SERVER_BIN", "")
HERALDCTL = os.environ.get("HERALDCTL", "")
TOKEN = "adm-test-token"


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_for(cond, timeout=10.0, step=0.1):
    """cond()'s first truthy value within timeout seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


class Node:
    def __init__(self, root, name, client_port, route_port, admin_port, routes, extra=""):
        self.name = name
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.client_port = client_port
        self.admin_port = admin_port
        self.conf = os.path.join(self.dir, "server.conf")
        self.base_conf = (
            "server_name: %s\nlisten: 127.0.0.1:%d\n"
            'jetstream { store_dir: "%s" }\n'
            "cluster { name: ADM, listen: 127.0.0.1:%d, routes: [%s] }\n"
            'admin { listen: "127.0.0.1:%d", token: "%s" }\n'
            % (name, client_port, os.path.join(self.dir, "js"), route_port,
               ", ".join(routes), admin_port, TOKEN)) + extra
        self.write_conf("")
        self.logpath = os.path.join(self.dir, "server.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "-a", "127.0.0.1", "-p", str(client_port), "-c", self.conf],
            stdout=self.log, stderr=subprocess.STDOUT)

    def write_conf(self, extra):
        with open(self.conf, "w") as f:
            f.write(self.base_conf + extra)

    @property
    def admin(self):
        return "127.0.0.1:%d" % self.admin_port

    def logtext(self):
        try:
            with open(self.logpath) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


class Client:
    """A raw NATS protocol client (CONNECT, PING) on 127.0.0.1."""

    def __init__(self, port, connect=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.buf = b""
        self.info = json.loads(self.line()[5:])
        c = {"verbose": False, "headers": True, "protocol": 1}
        c.update(connect or {})
        self.s.sendall(b"CONNECT " + json.dumps(c).encode() + b"\r\nPING\r\n")

    def fill(self, timeout):
        self.s.settimeout(timeout)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            return False
        if not d:
            return False
        self.buf += d
        return True

    def line(self, timeout=3):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline or not self.fill(0.1):
                raise AssertionError("no line; have %r" % self.buf)
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode()

    def expect(self, needle, timeout=3):
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            if time.monotonic() > deadline or not self.fill(0.1):
                return False
        return True

    def closed(self, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.fill(0.1):
                return True
        return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Run:
    def __init__(self, rc, out, err, seconds):
        self.rc, self.out, self.err, self.seconds = rc, out, err, seconds

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "rc=%d\nstdout: %s\nstderr: %s" % (self.rc, self.out[-2000:], self.err[-2000:])


def all_logs(nodes):
    """Every node's log tail and exit status, for a cluster that did not form."""
    return "\n".join("--- %s (%s)\n%s" % (
        n.name, "running" if n.proc.poll() is None else "exited %s" % n.proc.returncode,
        n.logtext()) for n in nodes)


# The nodes of the cluster running now, for the failure report's log tails.
RUNNING = []


class ClusterCase(unittest.TestCase):
    """Starts a 3-node JetStream cluster (n1..n3) with the admin listener on
    each node for the class's tests; helpers run heraldctl against it."""
    nodes = []
    root = None

    @classmethod
    def setUpClass(cls):
        cls.nodes = []
        cls.root = tempfile.mkdtemp(prefix="herald-admin-")
        ports = free_ports(9)
        routes = ["nats-route://127.0.0.1:%d" % p for p in ports[3:6]]
        try:
            for i in range(3):
                cls.nodes.append(Node(cls.root, "n%d" % (i + 1), ports[i], ports[3 + i],
                                      ports[6 + i], routes))
            RUNNING[:] = cls.nodes
            # Ready: every node's Health says so (JetStream has a meta leader).
            for n in cls.nodes:
                ok = wait_for(lambda: cls.ctl_on(n, "health").rc == 0, 40, 0.2)
                if not ok:
                    raise RuntimeError("%s not ready: %r\n%s" % (
                        n.name, cls.ctl_on(n, "health"), all_logs(cls.nodes)))
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

    @staticmethod
    def ctl_on(node, *args, token=TOKEN, timeout="10s"):
        argv = [HERALDCTL, "--server", node.admin, "--timeout", timeout]
        if token is not None:
            argv += ["--token", token]
        argv += list(args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_ADMIN")}
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)

    def ctl(self, *args, node=0, **kw):
        return self.ctl_on(self.nodes[node], *args, **kw)

    def ok_json(self, *args, node=0):
        r = self.ctl(*(list(args) + ["--json"]), node=node)
        self.assertEqual(r.rc, 0, r)
        return r.json()

    def publish(self, subject, count, node=0):
        """Publishes count messages with a reply subject; waits for every PubAck."""
        c = Client(self.nodes[node].client_port)
        try:
            c.s.sendall(b"SUB _INBOX.adm 1\r\n")
            for i in range(count):
                body = b"m%d" % i
                c.s.sendall(b"PUB %s _INBOX.adm %d\r\n%s\r\n" % (subject.encode(), len(body), body))
            deadline = time.monotonic() + 10
            while c.buf.count(b"MSG _INBOX.adm") < count and time.monotonic() < deadline:
                if not c.fill(0.1):
                    break
            self.assertEqual(c.buf.count(b"MSG _INBOX.adm"), count, c.buf[-500:])
            self.assertNotIn(b'"error"', c.buf)
        finally:
            c.close()

    def add_stream(self, name, subjects, replicas=3):
        info = self.ok_json("stream", "add", name, "--subjects", subjects,
                            "--replicas", str(replicas))
        self.addCleanup(lambda: self.ctl("stream", "rm", name))
        return info

    def raft_group(self, name):
        groups = self.ok_json("raft", "ls", name)["groups"]
        self.assertEqual(len(groups), 1, groups)
        return groups[0]

    def leader_of(self, group):
        return self.raft_group(group)["leader"]



class AdminTest(ClusterCase):
    """Every command against a healthy cluster (which the tests leave healthy)."""

    # ------------------------------------------------------------ health

    def test_health_on_every_node_needs_no_token(self):
        for i, n in enumerate(self.nodes):
            r = self.ctl("health", "--json", node=i, token=None)
            self.assertEqual(r.rc, 0, r)
            h = r.json()
            self.assertEqual(h["live"], True)
            self.assertEqual(h["ready"], True)
            self.assertEqual(h["reason"], "")
            self.assertEqual(h["node"], n.name)
        r = self.ctl("health")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("Ready:", r.out)

    # ------------------------------------------------------------ cluster

    def test_cluster_status_three_nodes_one_meta_leader(self):
        for i in range(3):
            cs = self.ok_json("cluster", "status", node=i)
            self.assertEqual(cs["cluster_name"], "ADM")
            self.assertEqual(cs["answered_by"], self.nodes[i].name)
            names = sorted(n["name"] for n in cs["nodes"])
            self.assertEqual(names, ["n1", "n2", "n3"])
            self.assertTrue(all(n["up"] for n in cs["nodes"]), cs)
            leaders = [n["name"] for n in cs["nodes"] if n["meta_role"] == "leader"]
            self.assertEqual(len(leaders), 1, cs)
            self.assertEqual(cs["meta_leader"], leaders[0])
            followers = [n for n in cs["nodes"] if n["meta_role"] == "follower"]
            self.assertEqual(len(followers), 2, cs)
            for n in cs["nodes"]:
                self.assertNotEqual(n["id"], "0")  # uint64: a JSON string
                self.assertTrue(n["version"])
                self.assertRegex(n["client_address"], r"^127\.0\.0\.1:\d+$")
                # The route mesh: a full mesh, each node routed to the other two.
                self.assertEqual(sorted(n["routes"]), sorted(set(names) - {n["name"]}), cs)
        r = self.ctl("cluster", "status")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("NAME", r.out.splitlines()[2])
        self.assertIn("ROUTES", r.out.splitlines()[2])
        for line in r.out.splitlines()[3:6]:
            self.assertEqual(line.split()[-1], "all", r.out)

    # ------------------------------------------------------------ auth and errors

    def test_no_token_and_wrong_token_are_unauthenticated(self):
        for token in (None, "wrong-token"):
            r = self.ctl("cluster", "status", token=token)
            self.assertEqual(r.rc, 1, r)
            self.assertTrue(r.err.startswith("heraldctl: UNAUTHENTICATED: "), r)
            self.assertEqual(r.out, "")
            r = self.ctl("stream", "add", "NOAUTH", "--subjects", "noauth", token=token)
            self.assertEqual(r.rc, 1, r)
            self.assertIn("UNAUTHENTICATED", r.err)
        # Nothing was created.
        self.assertNotIn("NOAUTH", [s["name"] for s in self.ok_json("stream", "ls")["streams"]])

    def test_unknown_stream_and_consumer_are_not_found(self):
        for args in (["stream", "info", "NOPE"], ["stream", "rm", "NOPE"],
                     ["stream", "purge", "NOPE"], ["consumer", "ls", "NOPE"],
                     ["stream", "edit", "NOPE", "--replicas", "1"]):
            r = self.ctl(*args)
            self.assertEqual(r.rc, 1, (args, r))
            self.assertTrue(r.err.startswith("heraldctl: NOT_FOUND: "), (args, r))
        self.add_stream("NF", "nf.x", 1)
        r = self.ctl("consumer", "info", "NF", "NOPE")
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.startswith("heraldctl: NOT_FOUND: "), r)

    def test_usage_errors_exit_two_before_any_rpc(self):
        cases = [
            ["stream", "add", "BAD", "--subjects", "bad", "--replicas", "-1"],
            ["stream", "add", "BAD", "--subjects", "bad", "--replicas", "x"],
            ["stream", "add", "BAD", "--subjects", "bad", "--bogus", "1"],
            ["stream", "add", "BAD"],
            ["stream", "info"],
            ["stream"],
            ["frobnicate"],
            ["consumer", "add", "BAD", "C", "--ack", "maybe"],
            ["conn", "kick", "abc"],
            ["stream", "purge", "BAD", "--seq", "1", "--keep", "1"],
        ]
        for args in cases:
            r = self.ctl(*args)
            self.assertEqual(r.rc, 2, (args, r))
            self.assertTrue(r.err.startswith("heraldctl: "), (args, r))
            self.assertIn("--help", r.err, (args, r))
            self.assertEqual(r.out, "")
        self.assertNotIn("BAD", [s["name"] for s in self.ok_json("stream", "ls")["streams"]])
        # Usage errors come first, even with no server at all.
        (port,) = free_ports(1)
        p = subprocess.run([HERALDCTL, "--server", "127.0.0.1:%d" % port, "stream", "add", "BAD",
                            "--replicas", "-1", "--subjects", "bad"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn("--replicas", p.stderr)
        r = self.ctl("--help")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("stream add", r.out)
        r = self.ctl("stream", "add", "--help")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("--max-age", r.out)

    def test_server_down_is_unavailable_within_the_timeout(self):
        (port,) = free_ports(1)
        argv = [HERALDCTL, "--server", "127.0.0.1:%d" % port, "--timeout", "3s", "health"]
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        elapsed = time.monotonic() - t0
        self.assertEqual(p.returncode, 1, p)
        self.assertTrue(p.stderr.startswith("heraldctl: UNAVAILABLE: "), p.stderr)
        self.assertIn("127.0.0.1:%d" % port, p.stderr)
        self.assertLess(elapsed, 6)

    # ------------------------------------------------------------ streams

    def test_stream_add_info_ls_edit_purge_rm(self):
        info = self.add_stream("ORDERS", "orders.a,orders.b", 3)
        self.assertEqual(info["name"], "ORDERS")
        self.assertEqual(info["subjects"], ["orders.a", "orders.b"])
        self.assertEqual(info["replicas"], 3)
        self.assertEqual(info["storage"], "file")
        self.assertEqual(info["retention"], "limits")
        cfg = json.loads(info["config_json"])
        self.assertEqual(cfg["name"], "ORDERS")
        self.assertEqual(cfg["num_replicas"], 3)

        # Info from every node: same stream, three replicas, one leader. The
        # create is answered by the new leader; a follower may not have heard
        # from it yet (it then cannot forward the request), so wait for each
        # node to answer with the leader (bounded).
        for i in range(3):
            def answered(i=i):
                r = self.ctl("stream", "info", "ORDERS", "--json", node=i)
                return r.json() if r.rc == 0 and r.json().get("leader") else None
            si = wait_for(answered, 15, 0.2)
            self.assertTrue(si, self.ctl("stream", "info", "ORDERS", "--json", node=i))
            self.assertEqual(si["name"], "ORDERS")
            self.assertEqual(sorted(p["node"] for p in si["peers"]), ["n1", "n2", "n3"])
            self.assertIn(si["leader"], ["n1", "n2", "n3"])
            self.assertEqual(si["peers"][0]["node"], si["leader"])  # leader first
            self.assertTrue(json.loads(si["info_json"]))

        names = [s["name"] for s in self.ok_json("stream", "ls")["streams"]]
        self.assertIn("ORDERS", names)
        names = [s["name"] for s in self.ok_json("stream", "ls", "--subject", "orders.a")["streams"]]
        self.assertEqual(names, ["ORDERS"])
        self.assertEqual(self.ok_json("stream", "ls", "--subject", "nothing.here")["streams"], [])
        r = self.ctl("stream", "ls")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.split("\n")[0].split(),
                         ["NAME", "SUBJECTS", "REPLICAS", "MESSAGES", "BYTES", "CONSUMERS", "LEADER"])

        self.publish("orders.a", 6)
        self.publish("orders.b", 4)
        si = self.ok_json("stream", "info", "ORDERS")
        self.assertEqual(si["messages"], "10")  # uint64: a JSON string
        self.assertEqual(si["last_seq"], "10")

        # edit: only the given fields change.
        ed = self.ok_json("stream", "edit", "ORDERS", "--max-msgs", "8", "--max-age", "1h")
        cfg = json.loads(ed["config_json"])
        self.assertEqual(cfg["max_msgs"], 8)
        self.assertEqual(cfg["max_age"], 3600 * 10**9)
        self.assertEqual(cfg["subjects"], ["orders.a", "orders.b"])
        self.assertEqual(cfg["num_replicas"], 3)
        cfg = json.loads(self.ok_json("stream", "info", "ORDERS")["config_json"])
        self.assertEqual(cfg["max_msgs"], 8)
        self.assertEqual(self.ok_json("stream", "info", "ORDERS")["messages"], "8")

        # purge: below a sequence, keeping the newest, one subject, everything.
        # Sequences 3..10 are left (max_msgs 8 dropped 1 and 2); orders.b is 7..10.
        p = self.ok_json("stream", "purge", "ORDERS", "--seq", "5")
        self.assertEqual(p["purged"], "2")
        self.assertEqual(self.ok_json("stream", "info", "ORDERS")["first_seq"], "5")
        p = self.ok_json("stream", "purge", "ORDERS", "--keep", "5")
        self.assertEqual(p["purged"], "1")
        self.assertEqual(self.ok_json("stream", "info", "ORDERS")["messages"], "5")
        p = self.ok_json("stream", "purge", "ORDERS", "--subject", "orders.b")
        self.assertEqual(p["purged"], "4")
        self.assertEqual(self.ok_json("stream", "info", "ORDERS")["messages"], "1")
        p = self.ok_json("stream", "purge", "ORDERS")
        self.assertEqual(p["purged"], "1")
        self.assertEqual(self.ok_json("stream", "info", "ORDERS")["messages"], "0")

        self.assertEqual(self.ok_json("stream", "rm", "ORDERS"), {})
        r = self.ctl("stream", "info", "ORDERS")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("NOT_FOUND", r.err)

    def test_stream_add_invalid_config_is_invalid_argument(self):
        # Two streams cannot share a subject: the JetStream API's own check.
        self.add_stream("OVL1", "ovl.x", 1)
        r = self.ctl("stream", "add", "OVL2", "--subjects", "ovl.x")
        if r.rc == 0:
            self.ctl("stream", "rm", "OVL2")
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.startswith("heraldctl: "), r)

    def test_stream_add_from_config_file(self):
        path = os.path.join(self.root, "cfg.json")
        with open(path, "w") as f:
            json.dump({"name": "IGNORED", "subjects": ["file.x"], "storage": "memory",
                       "max_msgs_per_subject": 2}, f)
        info = self.ok_json("stream", "add", "FROMFILE", "--config", path, "--replicas", "1")
        self.addCleanup(lambda: self.ctl("stream", "rm", "FROMFILE"))
        self.assertEqual(info["name"], "FROMFILE")
        self.assertEqual(info["storage"], "memory")
        cfg = json.loads(info["config_json"])
        self.assertEqual(cfg["max_msgs_per_subject"], 2)
        self.assertEqual(cfg["subjects"], ["file.x"])

    # ------------------------------------------------------------ consumers

    def test_consumer_add_info_ls_rm(self):
        self.add_stream("CONS", "cons.>", 3)
        self.publish("cons.a", 3)
        ci = self.ok_json("consumer", "add", "CONS", "PULL1", "--filter", "cons.a",
                          "--ack", "explicit", "--deliver", "all", "--max-deliver", "5",
                          "--ack-wait", "30s")
        self.assertEqual(ci["stream"], "CONS")
        self.assertEqual(ci["name"], "PULL1")
        self.assertEqual(ci["durable"], True)
        self.assertEqual(ci["ack_policy"], "explicit")
        self.assertEqual(ci["deliver_policy"], "all")
        self.assertEqual(ci["filter_subject"], "cons.a")
        self.assertEqual(ci["deliver_subject"], "")
        cfg = json.loads(ci["config_json"])
        self.assertEqual(cfg["max_deliver"], 5)
        self.assertEqual(cfg["ack_wait"], 30 * 10**9)

        push = self.ok_json("consumer", "add", "CONS", "PUSH1", "--push", "deliver.push1",
                            "--ack", "none", "--deliver", "new")
        self.assertEqual(push["deliver_subject"], "deliver.push1")
        self.assertEqual(push["ack_policy"], "none")

        info = self.ok_json("consumer", "info", "CONS", "PULL1")
        self.assertEqual(info["num_pending"], "3")
        self.assertIn(info["leader"], ["n1", "n2", "n3"])
        names = sorted(c["name"] for c in self.ok_json("consumer", "ls", "CONS")["consumers"])
        self.assertEqual(names, ["PULL1", "PUSH1"])
        self.assertEqual(self.ok_json("stream", "info", "CONS")["consumers"], "2")

        self.assertEqual(self.ok_json("consumer", "rm", "CONS", "PUSH1"), {})
        names = [c["name"] for c in self.ok_json("consumer", "ls", "CONS")["consumers"]]
        self.assertEqual(names, ["PULL1"])
        r = self.ctl("consumer", "info", "CONS", "PUSH1")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("NOT_FOUND", r.err)

    # ------------------------------------------------------------ raft

    def test_raft_ls_meta_and_stream_groups_with_lag(self):
        groups = self.ok_json("raft", "ls")["groups"]
        meta = [g for g in groups if g["name"] == "_meta_"]
        self.assertEqual(len(meta), 1, groups)
        self.assertEqual(meta[0]["kind"], "meta")
        self.assertEqual(sorted(r["node"] for r in meta[0]["replicas"]), ["n1", "n2", "n3"])
        self.assertIn(meta[0]["leader"], ["n1", "n2", "n3"])

        self.add_stream("RAFTLS", "raftls.x", 3)
        self.publish("raftls.x", 20)

        # Once committed everywhere, every replica has lag 0 and is current.
        def caught_up():
            g = self.raft_group("RAFTLS")
            if g["leader"] and all(r["lag"] == "0" and r["current"] for r in g["replicas"]):
                return g
            return None
        g = wait_for(caught_up, 15, 0.2)
        self.assertIsNotNone(g, self.raft_group("RAFTLS"))
        self.assertEqual(g["kind"], "stream")
        self.assertEqual(len(g["replicas"]), 3)
        states = sorted(r["state"] for r in g["replicas"])
        self.assertEqual(states, ["leader", "voter", "voter"])
        # The 20 publishes went out back to back: the leader proposes those
        # that arrive together as one entry, so they take 1 to 20 entries
        # after the create's. Everything committed is applied.
        self.assertGreaterEqual(int(g["commit_index"]), 2)
        self.assertEqual(int(g["applied_index"]), int(g["commit_index"]))
        info = json.loads(self.ok_json("stream", "info", "RAFTLS")["info_json"])
        self.assertEqual(info["state"]["messages"], 20, info)
        self.assertGreaterEqual(int(g["term"]), 1)
        self.assertEqual(g["reported_by"], g["leader"])
        r = self.ctl("raft", "ls")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.split("\n")[0].split()[:3], ["GROUP", "KIND", "LEADER"])
        self.assertIn("*", r.out)  # the leader's mark in REPLICAS

    def test_raft_stepdown_and_transfer_move_the_leader(self):
        self.add_stream("MOVE", "move.x", 3)
        old = wait_for(lambda: self.leader_of("MOVE"), 10, 0.1)
        self.assertTrue(old)
        sd = self.ok_json("raft", "stepdown", "MOVE")
        self.assertEqual(sd["previous_leader"], old)
        moved = wait_for(lambda: (lambda l: l if l and l != old else None)(self.leader_of("MOVE")),
                         15, 0.2)
        self.assertIsNotNone(moved, self.raft_group("MOVE"))
        if sd["new_leader"]:
            self.assertEqual(sd["new_leader"], moved)

        target = [n for n in ("n1", "n2", "n3") if n != moved][0]
        tr = self.ok_json("raft", "transfer", "MOVE", target)
        self.assertEqual(tr["previous_leader"], moved)
        self.assertIsNotNone(wait_for(lambda: self.leader_of("MOVE") == target, 15, 0.2),
                             self.raft_group("MOVE"))
        # The stream still works under its new leader.
        self.publish("move.x", 2)
        self.assertEqual(self.ok_json("stream", "info", "MOVE")["messages"], "2")

        # The metadata group too.
        meta_old = self.leader_of("_meta_")
        meta_target = [n for n in ("n1", "n2", "n3") if n != meta_old][0]
        self.ok_json("raft", "transfer", "_meta_", meta_target)
        self.assertIsNotNone(wait_for(lambda: self.leader_of("_meta_") == meta_target, 15, 0.2))
        cs = wait_for(lambda: (lambda c: c if c["meta_leader"] == meta_target else None)(
            self.ok_json("cluster", "status")), 10, 0.2)
        self.assertIsNotNone(cs)

        r = self.ctl("raft", "transfer", "MOVE", "n9")
        self.assertEqual(r.rc, 1, r)
        r = self.ctl("raft", "stepdown", "NOPE")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("NOT_FOUND", r.err)

    # ------------------------------------------------------------ connections

    def test_conn_ls_and_kick(self):
        c = Client(self.nodes[1].client_port, {"name": "adm-victim"})
        self.addCleanup(c.close)
        self.assertTrue(c.expect(b"PONG\r\n"))
        c.s.sendall(b"SUB adm.victim.x 1\r\nPING\r\n")

        def find(*args, node=0):
            conns = self.ok_json("conn", "ls", *args, node=node)["connections"]
            return [x for x in conns if x["name"] == "adm-victim"]
        # Every node lists every node's connections.
        for i in range(3):
            found = wait_for(lambda: find(node=i), 10, 0.2)
            self.assertTrue(found, self.ok_json("conn", "ls", node=i))
        conn = found[0]
        self.assertEqual(conn["node"], "n2")
        self.assertEqual(conn["ip"], "127.0.0.1")
        self.assertEqual(conn["port"], c.s.getsockname()[1])
        self.assertTrue(find("--node", "n2"))
        self.assertFalse(find("--node", "n1"))
        self.assertTrue(wait_for(lambda: find("--subject", "adm.victim.x"), 10, 0.2))
        self.assertFalse(find("--subject", "other.subject"))
        self.assertFalse(find("--idle", "1h"))
        ls = self.ok_json("conn", "ls")
        self.assertEqual(ls["unreachable_nodes"], [])

        # Kick it from a node it is not connected to.
        r = self.ctl("conn", "kick", conn["cid"], "--node", "n2", node=0)
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(c.closed(5), c.buf)
        self.assertTrue(wait_for(lambda: not find(), 10, 0.2))
        r = self.ctl("conn", "kick", conn["cid"], "--node", "n2")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("NOT_FOUND", r.err)

    # ------------------------------------------------------------ reload

    def test_reload_rereads_the_config_file(self):
        n = self.nodes[2]
        self.assertEqual(Client(n.client_port).info["max_payload"], 1048576)
        n.write_conf("max_payload: 2000\n")
        try:
            rl = self.ok_json("reload", node=2)
            self.assertEqual(rl["node"], "n3")
            self.assertTrue(wait_for(lambda: Client(n.client_port).info["max_payload"] == 2000,
                                     10, 0.2))
        finally:
            n.write_conf("")
            self.assertEqual(self.ctl("reload", node=2).rc, 0)
        self.assertTrue(wait_for(lambda: Client(n.client_port).info["max_payload"] == 1048576,
                                 10, 0.2))


class AdminOutageTest(ClusterCase):
    """What heraldctl shows while nodes are down: offline replicas, nodes not
    up, and health failing (exit 1) once JetStream has lost its quorum."""

    def test_nodes_going_down(self):
        self.ok_json("stream", "add", "OUT", "--subjects", "out.x", "--replicas", "3")
        self.publish("out.x", 3)
        n3 = self.nodes[2]
        n3.stop()

        def n3_down():
            cs = self.ok_json("cluster", "status")
            return [n for n in cs["nodes"] if n["name"] == "n3" and not n["up"]]
        self.assertTrue(wait_for(n3_down, 15, 0.2), self.ok_json("cluster", "status"))

        def n3_offline():
            g = self.raft_group("OUT")
            return [r for r in g["replicas"]
                    if r["node"] == "n3" and r["state"] == "offline" and not r["current"]]
        self.assertTrue(wait_for(n3_offline, 15, 0.2), self.raft_group("OUT"))
        r = self.ctl("raft", "ls", "OUT")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("n3(offline", r.out)
        # Two of three: still a quorum, ready again once OUT has a leader.
        self.assertTrue(wait_for(lambda: self.ctl("health").rc == 0, 15, 0.2),
                        self.ctl("health"))
        r = self.ctl_on(n3, "health", timeout="3s")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("UNAVAILABLE", r.err)

        self.nodes[1].stop()

        def not_ready():
            r = self.ctl("health", "--json")
            return r if r.rc == 1 else None
        r = wait_for(not_ready, 30, 0.3)
        self.assertIsNotNone(r, self.ctl("health"))
        h = r.json()
        self.assertEqual(h["live"], True)
        self.assertEqual(h["ready"], False)
        self.assertNotEqual(h["reason"], "")
        self.assertEqual(h["node"], "n1")
        r = self.ctl("health")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("Ready:   no", r.out)


def make_certs(dir):
    """A CA, a server certificate for 127.0.0.1, a client certificate, and a
    client certificate of another CA (openssl CLI)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=dir, check=True, capture_output=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "otherca"):
        run("req", "-x509", *key, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "3",
            "-subj", "/CN=" + ca)
    for name, signer in (("node", "ca"), ("client", "ca"), ("rogue", "otherca")):
        run("req", *key, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        with open(os.path.join(dir, name + ".ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("x509", "-req", "-in", name + ".csr", "-CA", signer + ".pem", "-CAkey", signer + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "3", "-extfile", name + ".ext")


class AdminTlsTest(unittest.TestCase):
    """heraldctl over TLS with client certificates (admin { tls { verify } }),
    configured through the environment (HERALD_ADMIN, HERALD_ADMIN_TOKEN,
    HERALD_ADMIN_CA) and the --tls-* flags."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl CLI not available")
        cls.dir = tempfile.mkdtemp(prefix="herald-admin-tls-")
        make_certs(cls.dir)
        client_port, admin_port = free_ports(2)
        cls.admin = "127.0.0.1:%d" % admin_port
        conf = os.path.join(cls.dir, "server.conf")
        with open(conf, "w") as f:
            f.write('server_name: t1\nadmin {\n  listen: "%s"\n  token: "%s"\n'
                    '  tls {\n    cert_file: "%s/node.pem"\n    key_file: "%s/node.key"\n'
                    '    ca_file: "%s/ca.pem"\n    verify: true\n  }\n}\n'
                    % (cls.admin, TOKEN, cls.dir, cls.dir, cls.dir))
        cls.log = open(os.path.join(cls.dir, "server.log"), "w")
        cls.proc = subprocess.Popen(
            [SERVER_BIN, "-a", "127.0.0.1", "-p", str(client_port), "-c", conf],
            stdout=cls.log, stderr=subprocess.STDOUT)

        def listening():
            try:
                socket.create_connection(("127.0.0.1", admin_port), timeout=0.2).close()
                return True
            except OSError:
                return False
        if not wait_for(listening, 15, 0.1):
            cls.tearDownClass()
            raise RuntimeError("the TLS admin listener did not start")

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.terminate()
            try:
                cls.proc.wait(5)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait(5)
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_ctl(self, args, ca="ca", cert=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_ADMIN")}
        env["HERALD_ADMIN"] = self.admin
        env["HERALD_ADMIN_TOKEN"] = TOKEN
        if ca:
            env["HERALD_ADMIN_CA"] = os.path.join(self.dir, ca + ".pem")
        argv = [HERALDCTL, "--timeout", "5s"]
        if cert:
            argv += ["--tls-cert", os.path.join(self.dir, cert + ".pem"),
                     "--tls-key", os.path.join(self.dir, cert + ".key")]
        p = subprocess.run(argv + args, capture_output=True, text=True, timeout=30, env=env)
        return Run(p.returncode, p.stdout, p.stderr, 0)

    def test_client_certificate_and_token(self):
        r = self.run_ctl(["cluster", "status", "--json"], cert="client")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()["answered_by"], "t1")
        r = self.run_ctl(["health"], cert="client")
        self.assertEqual(r.rc, 0, r)

    def test_refused_without_trusted_tls(self):
        for kw in ({"cert": None},                   # no client certificate
                   {"cert": "rogue"},                # one the server's CA did not sign
                   {"ca": None, "cert": None},       # plaintext
                   {"ca": "otherca", "cert": "client"}):  # server certificate not trusted
            r = self.run_ctl(["cluster", "status"], **kw)
            self.assertEqual(r.rc, 1, (kw, r))
            self.assertTrue(r.err.startswith("heraldctl: UNAVAILABLE: "), (kw, r))

    def test_unreadable_tls_file_is_a_usage_error(self):
        r = self.run_ctl(["health"], ca="missing")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("--tls-ca", r.err)


class Result(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        Result.passed += 1

    # A failure shows the servers' log tails (the cluster is still running).
    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.print_logs()

    def addError(self, test, err):
        super().addError(test, err)
        self.print_logs()

    def print_logs(self):
        for n in RUNNING:
            self.stream.write("--- %s log tail\n%s\n" % (n.name, n.logtext()))


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
