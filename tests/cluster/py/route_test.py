#!/usr/bin/env python3
"""Raw NATS route protocol tests: a hand-written fake route peer attached to
the cluster port of one server under test (herald or nats-server 2.9.10).

  SERVER_KIND=nats-server python3 tests/cluster/py/route_test.py [-k pattern]
  SERVER_KIND=herald SERVER_BIN=/path/to/herald python3 tests/cluster/py/route_test.py

The fake peer reads the node's INFO, sends CONNECT + INFO with a fake
server_id and the cluster name, then speaks RS+/RS-/RMSG/HMSG. Frames of the
$SYS account (nats-server's internal subscriptions), INFO, PING/PONG are
handled out of band. Last line printed: "RESULT passed=N failed=M".
"""
import json
import os
import socket
import sys
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))
import harness  # noqa: E402  (shared single-node helpers)
from harness import Closed, RawClient, Server, free_port, server_bin, SERVER_KIND  # noqa: E402

FAKE_CLIENT_URL = "127.0.0.1:4999"


class FakeRoute(RawClient):
    """A fake cluster peer on a raw socket."""

    def __init__(self, port, server_id, cluster="C1", name="fake", timeout=5.0):
        super().__init__(port, timeout=timeout)
        self.server_id = server_id
        self.cluster = cluster
        self.name = name
        self.infos = []

    def handshake(self):
        info = self.read_info()
        connect = {"echo": True, "verbose": False, "pedantic": False, "tls_required": False, "headers": True,
                   "name": self.server_id, "cluster": self.cluster, "lnoc": True}
        myinfo = {"server_id": self.server_id, "server_name": self.name, "version": "2.9.10", "proto": 2,
                  "host": "127.0.0.1", "port": 1, "headers": True, "max_payload": 1048576,
                  "cluster": self.cluster, "connect_urls": [FAKE_CLIENT_URL], "lnoc": True}
        self.send("CONNECT %s\r\nINFO %s\r\n" % (json.dumps(connect), json.dumps(myinfo)))
        return info

    def read_route_frame(self, timeout=None):
        """One route op: ('RS+', acct, subj, queue|None, weight|None), ('RS-', acct, subj, queue|None),
        ('RMSG', acct, subj, reply|None, queues[], payload), ('HMSG', acct, subj, reply|None, queues[], hdr, payload),
        ('PING',), ('PONG',), ('INFO', dict), ('-ERR', text), ('OTHER', line)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        rest = lambda: max(0.01, deadline - time.monotonic())  # noqa: E731
        line = self.read_line(rest())
        body = line[:-2]
        parts = body.split()
        op = parts[0].upper() if parts else b""
        s = [p.decode() for p in parts[1:]]
        if op == b"RS+":
            return ("RS+", s[0], s[1], s[2] if len(s) > 2 else None, int(s[3]) if len(s) > 3 else None)
        if op == b"RS-":
            return ("RS-", s[0], s[1], s[2] if len(s) > 2 else None)
        if op in (b"RMSG", b"HMSG"):
            hdr = op == b"HMSG"
            nsizes = 2 if hdr else 1
            acct, subj = s[0], s[1]
            mid = s[2:len(s) - nsizes]
            sizes = [int(x) for x in s[len(s) - nsizes:]]
            reply, queues = None, []
            if len(mid) == 1:
                reply = mid[0]
            elif len(mid) > 1:
                if mid[0] == "+":
                    reply, queues = mid[1], mid[2:]
                elif mid[0] == "|":
                    queues = mid[1:]
                else:
                    raise AssertionError("bad reply indicator in %r" % line)
            data = self.read_exact(sizes[-1] + 2, rest())
            assert data.endswith(b"\r\n"), "payload not followed by CRLF: %r" % data[-10:]
            if hdr:
                return ("HMSG", acct, subj, reply, queues, data[:sizes[0]], data[sizes[0]:-2])
            return ("RMSG", acct, subj, reply, queues, data[:-2])
        if op in (b"PING", b"PONG"):
            return (op.decode(),)
        if op == b"INFO":
            return ("INFO", json.loads(body[4:].strip()))
        if op == b"-ERR":
            return ("-ERR", body[4:].strip().decode())
        return ("OTHER", body.decode(errors="replace"))

    def next(self, timeout=5.0):
        """Next frame of a user account ($G): answers PING, records INFO, skips
        PONG, $SYS traffic and leafnode-interest ops."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_route_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PING":
                self.send(b"PONG\r\n")
                continue
            if f[0] == "PONG":
                continue
            if f[0] == "INFO":
                self.infos.append(f[1])
                continue
            if f[0] in ("RS+", "RS-", "RMSG", "HMSG") and f[1] == "$SYS":
                continue
            if f[0] == "OTHER" and f[1].split()[0].upper() in ("LS+", "LS-"):
                continue
            return f

    def no_frame_before(self, sentinel_pred, timeout=5.0):
        """Read frames until one satisfies sentinel_pred; returns the frames before it."""
        before = []
        deadline = time.monotonic() + timeout
        while True:
            f = self.next(max(0.01, deadline - time.monotonic()))
            if sentinel_pred(f):
                return before
            before.append(f)


def mon(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, path), timeout=3) as r:
        return json.load(r)


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


def listener():
    """A listening socket playing another cluster member."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    lst.settimeout(10)
    return lst


def accept_route_connect(test, lst, info):
    """Accepts the node's dial on `lst`, sends `info` as an accepting server
    does, and returns the node's CONNECT JSON (and the socket)."""
    try:
        conn, _ = lst.accept()
    except socket.timeout:
        test.fail("node did not dial")
    conn.sendall(("INFO %s\r\n" % json.dumps(info)).encode())
    conn.settimeout(5)
    data = b""
    deadline = time.monotonic() + 5
    while b"CONNECT " not in data or not data.split(b"CONNECT ", 1)[1].count(b"\r\n"):
        if time.monotonic() > deadline:
            test.fail("no CONNECT from the dialling node: %r" % data[:300])
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data.split(b"CONNECT ", 1)[1].split(b"\r\n", 1)[0]), conn


class RouteProtocolTest(unittest.TestCase):
    def setUp(self):
        self.http = free_port()
        self.rport = free_port()
        self.srv = Server(args=["-m", str(self.http), "-n", "rt1", "--cluster", "nats://127.0.0.1:%d" % self.rport,
                                "--cluster_name", "C1"])
        self.srv.start()
        wait_for(lambda: mon(self.http, "varz").get("server_id"), 10, "monitoring")
        self.sid = mon(self.http, "varz")["server_id"]
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.srv.stop()
        reports = self.srv.sanitizer_reports()
        if reports:
            sys.stderr.write(self.srv.log() + "\n")
            raise AssertionError("sanitizer report in server log: %s" % " | ".join(reports))

    # helpers
    def route(self, server_id="NFAKEROUTE0000000000000000000000000000000000000000000001", cluster="C1", register=True):
        r = FakeRoute(self.rport, server_id, cluster=cluster)
        self.socks.append(r)
        info = r.handshake()
        if register:
            wait_for(lambda: self.route_entry(server_id) is not None, 10, "fake route in /routez")
        return r, info

    def route_entry(self, server_id):
        for x in mon(self.http, "routez").get("routes") or []:
            if x.get("remote_id") == server_id:
                return x
        return None

    def client(self, **kw):
        c = RawClient(self.srv.port)
        self.socks.append(c)
        c.handshake(**kw)
        return c

    def wait_route_subs(self, server_id, n):
        wait_for(lambda: (self.route_entry(server_id) or {}).get("subscriptions", 0) >= n, 10,
                 "%d subscriptions learned from the fake route" % n)

    # tests
    def test_handshake_info_registration_and_connect_urls(self):
        c = self.client()
        r, info = self.route()
        self.assertEqual(info.get("server_id"), self.sid)
        self.assertEqual(info.get("cluster"), "C1")
        self.assertIs(info.get("headers"), True)
        self.assertGreaterEqual(info.get("proto", 0), 1)
        self.assertIn("127.0.0.1:%d" % self.srv.port, info.get("connect_urls") or [])
        rz = mon(self.http, "routez")
        self.assertEqual(rz.get("num_routes"), 1)
        self.assertEqual(mon(self.http, "varz").get("routes"), 1)
        # the client gets an async INFO that adds the fake peer's client URL
        deadline = time.monotonic() + 5
        urls = []
        while FAKE_CLIENT_URL not in urls:
            f = c.read_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PING":
                c.send("PONG\r\n")
            elif f[0] == "INFO":
                urls = f[1].get("connect_urls") or []
        self.assertIn("127.0.0.1:%d" % self.srv.port, urls)
        # the fake peer leaves: the URL is withdrawn again
        r.close()
        wait_for(lambda: mon(self.http, "routez").get("num_routes") == 0, 10, "route gone")
        deadline = time.monotonic() + 5
        while FAKE_CLIENT_URL in urls:
            f = c.read_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PING":
                c.send("PONG\r\n")
            elif f[0] == "INFO":
                urls = f[1].get("connect_urls") or []

    def test_async_info_waits_for_the_first_pong(self):
        # As nats-server: no async INFO before the client's first PONG (nats.go
        # fails its connect on an INFO where it expects the PONG); a change of
        # connect_urls since the connection opened is sent right after it.
        early = RawClient(self.srv.port)  # CONNECT before the change, PING after
        late = RawClient(self.srv.port)   # CONNECT and PING after the change
        self.socks += [early, late]
        early.read_info()
        late.read_info()
        early.send('CONNECT {"verbose":false,"protocol":1,"headers":true}\r\n')
        self.route()
        for c in (early, late):
            if c is late:
                c.send('CONNECT {"verbose":false,"protocol":1,"headers":true}\r\n')
            c.send("PING\r\n")
            first = c.read_frame(5)
            self.assertEqual(first[0], "PONG", first)
            f = c.read_frame(5)
            self.assertEqual(f[0], "INFO", f)
            self.assertIn(FAKE_CLIENT_URL, f[1].get("connect_urls") or [])

    def test_interest_propagation_rs_plus_minus(self):
        r, _ = self.route()
        c = self.client()
        c.send("SUB foo.bar 1\r\nSUB work q1 2\r\nSUB work q1 3\r\nSUB wild.* 4\r\n")
        c.ping()
        got = []
        while not (("RS+", "$G", "wild.*", None, None) in got):
            got.append(r.next())
        self.assertIn(("RS+", "$G", "foo.bar", None, None), got)
        qs = [f for f in got if f[0] == "RS+" and f[2] == "work"]
        self.assertTrue(qs, got)
        self.assertEqual(qs[-1], ("RS+", "$G", "work", "q1", 2), got)
        for f in qs:
            self.assertEqual(f[3], "q1")
        # reference counting: a 2nd plain sub on foo.bar sends nothing; a sentinel follows
        c2 = self.client()
        c2.send("SUB foo.bar 1\r\nSUB sentinel.one 2\r\n")
        c2.ping()
        self.assertEqual(r.no_frame_before(lambda f: f[:3] == ("RS+", "$G", "sentinel.one")), [])
        c2.send("UNSUB 1\r\n")  # foo.bar still has c's sub: no RS-
        c2.ping()
        c.send("UNSUB 3\r\n")
        c.ping()
        self.assertEqual(r.next(), ("RS+", "$G", "work", "q1", 1))
        c.send("UNSUB 1\r\n")
        c.ping()
        self.assertEqual(r.next(), ("RS-", "$G", "foo.bar", None))
        c.send("UNSUB 2\r\n")
        c.ping()
        self.assertEqual(r.next(), ("RS-", "$G", "work", "q1"))
        # a client disconnecting removes its interest
        c.close()
        self.assertEqual(r.next(), ("RS-", "$G", "wild.*", None))

    def test_existing_interest_sent_on_connect(self):
        c = self.client()
        c.send("SUB pre.a 1\r\nSUB pre.q grp 2\r\nSUB pre.q grp 3\r\n")
        c.ping()
        r, _ = self.route()
        got = set()
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            got.add(r.next(max(0.01, deadline - time.monotonic())))
        self.assertEqual(got, {("RS+", "$G", "pre.a", None, None), ("RS+", "$G", "pre.q", "grp", 2)})

    def test_messages_out_rmsg_hmsg_reply_and_queue_syntax(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000002"
        r, _ = self.route(fid)
        r.send("RS+ $G route.test\r\nRS+ $G rq grp 2\r\nPING\r\n")
        self.wait_route_subs(fid, 2)
        c = self.client(headers=True)
        c.send("PUB no.interest 1\r\nx\r\n")
        c.send("PUB route.test 5\r\nhello\r\n")
        c.send("PUB route.test _INBOX.r 2\r\nhi\r\n")
        c.send("HPUB route.test 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
        c.send("HPUB route.test _INBOX.h 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nabc\r\n")
        c.send("PUB rq 3\r\nabc\r\n")
        c.send("PUB rq _INBOX.q 3\r\nxyz\r\n")
        c.send("HPUB rq _INBOX.q 12 13\r\nNATS/1.0\r\n\r\nh\r\n")
        c.ping()
        self.assertEqual(r.next(), ("RMSG", "$G", "route.test", None, [], b"hello"))
        self.assertEqual(r.next(), ("RMSG", "$G", "route.test", "_INBOX.r", [], b"hi"))
        self.assertEqual(r.next(), ("HMSG", "$G", "route.test", None, [], b"NATS/1.0\r\n\r\n", b"hi"))
        self.assertEqual(r.next(), ("HMSG", "$G", "route.test", "_INBOX.h", [], b"NATS/1.0\r\nA: b\r\n\r\n", b"abc"))
        self.assertEqual(r.next(), ("RMSG", "$G", "rq", None, ["grp"], b"abc"))
        self.assertEqual(r.next(), ("RMSG", "$G", "rq", "_INBOX.q", ["grp"], b"xyz"))
        self.assertEqual(r.next(), ("HMSG", "$G", "rq", "_INBOX.q", ["grp"], b"NATS/1.0\r\n\r\n", b"h"))
        # raw line syntax of the queue form: "+ <reply> <q>" / "| <q>"
        c.send("PUB rq 1\r\nz\r\nPUB rq _INBOX.w 1\r\nw\r\n")
        c.ping()
        line = r.read_line()
        while line.startswith((b"PING", b"PONG", b"INFO", b"RS+ $SYS", b"RMSG $SYS", b"RS- $SYS")):
            if line.startswith(b"RMSG $SYS"):
                r.read_exact(int(line.split()[-1]) + 2)
            if line.startswith(b"PING"):
                r.send("PONG\r\n")
            line = r.read_line()
        self.assertEqual(line.split(), [b"RMSG", b"$G", b"rq", b"|", b"grp", b"1"])
        r.read_exact(3)
        line = r.read_line()
        self.assertEqual(line.split(), [b"RMSG", b"$G", b"rq", b"+", b"_INBOX.w", b"grp", b"1"])
        r.read_exact(3)
        # RS- from the peer: no more traffic for that subject (sentinel: rq still has interest)
        r.send("RS- $G route.test\r\nPING\r\n")
        wait_for(lambda: (self.route_entry(fid) or {}).get("subscriptions", 99) <= 1, 10, "RS- applied")
        c.send("PUB route.test 1\r\nx\r\nPUB rq 1\r\ns\r\n")
        c.ping()
        self.assertEqual(r.no_frame_before(lambda f: f[0] == "RMSG" and f[2] == "rq"), [])

    def test_messages_in_local_delivery(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000003"
        c = self.client(headers=True)
        c.send("SUB wild.* 4\r\nSUB work q1 3\r\nSUB work q1 5\r\n")
        c.ping()
        r, _ = self.route(fid)
        r.send("RMSG $G wild.x 3\r\nabc\r\n")
        r.send("RMSG $G wild.y _INBOX.z 2\r\nhi\r\n")
        r.send("HMSG $G wild.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
        r.send("HMSG $G wild.r _INBOX.hr 18 21\r\nNATS/1.0\r\nK: v\r\n\r\nabc\r\n")
        r.send("RMSG $G nobody.here 1\r\nq\r\n")
        r.send("RMSG $G work + _INBOX.rr q1 3\r\nxyz\r\n")
        r.send("RMSG $G work | q1 3\r\nabc\r\n")
        r.send("HMSG $G work | q1 12 13\r\nNATS/1.0\r\n\r\nq\r\n")
        r.send("RMSG $G work 5\r\nplain\r\n")  # no queue listed: queue members get nothing
        r.send("RMSG $G wild.end 3\r\nend\r\n")
        frames = []
        deadline = time.monotonic() + 5
        while not frames or frames[-1][1] != "wild.end":
            f = c.read_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PING":
                c.send("PONG\r\n")
            elif f[0] != "INFO":
                frames.append(f)
        self.assertEqual(frames[0], ("MSG", "wild.x", "4", None, b"abc"))
        self.assertEqual(frames[1], ("MSG", "wild.y", "4", "_INBOX.z", b"hi"))
        self.assertEqual(frames[2], ("HMSG", "wild.h", "4", None, b"NATS/1.0\r\n\r\n", b"hi"))
        self.assertEqual(frames[3], ("HMSG", "wild.r", "4", "_INBOX.hr", b"NATS/1.0\r\nK: v\r\n\r\n", b"abc"))
        q = frames[4:7]
        self.assertEqual(len(frames), 8, frames)
        self.assertEqual([f[0] for f in q], ["MSG", "MSG", "HMSG"], q)
        for f in q:
            self.assertIn(f[2], ("3", "5"))  # exactly one q1 member per message
        self.assertEqual((q[0][1], q[0][3], q[0][4]), ("work", "_INBOX.rr", b"xyz"))
        self.assertEqual((q[1][1], q[1][3], q[1][4]), ("work", None, b"abc"))
        self.assertEqual(frames[7], ("MSG", "wild.end", "4", None, b"end"))
        rz = self.route_entry(fid)
        self.assertGreaterEqual(rz.get("in_msgs", 0), 10)

    def test_one_hop_route_messages_not_forwarded_to_other_routes(self):
        id1 = "NFAKEROUTE0000000000000000000000000000000000000000000004"
        id2 = "NFAKEROUTE0000000000000000000000000000000000000000000005"
        r1, _ = self.route(id1)
        r2, _ = self.route(id2)
        r2.send("RS+ $G hop.x\r\nPING\r\n")
        self.wait_route_subs(id2, 1)
        c = self.client()
        c.send("SUB hop.x 1\r\n")
        c.ping()
        r1.send("RMSG $G hop.x 4\r\nfrom\r\n")
        f = c.read_frame()
        while f[0] in ("PING", "INFO"):
            if f[0] == "PING":
                c.send("PONG\r\n")
            f = c.read_frame()
        self.assertEqual(f, ("MSG", "hop.x", "1", None, b"from"))
        # sentinel from a local client: r2 must see it and nothing before it
        c.send("PUB hop.x 8\r\nsentinel\r\n")
        c.ping()
        before = r2.no_frame_before(lambda f: f[0] == "RMSG" and f[-1] == b"sentinel")
        self.assertEqual([f for f in before if f[0] in ("RMSG", "HMSG")], [])

    def _assert_node_still_serves(self):
        c = self.client()
        c.send("SUB alive 1\r\nPUB alive 2\r\nok\r\n")
        self.assertEqual(c.ping(), [("MSG", "alive", "1", None, b"ok")])

    def _assert_closed(self, r, fid):
        try:
            r.read_until_closed(5.0)
        except socket.timeout:
            self.fail("route was not closed")
        wait_for(lambda: self.route_entry(fid) is None, 10, "route removed from /routez")

    def test_malformed_reply_indicator_closes_route_only(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000006"
        c = self.client()
        c.send("SUB bad.x 1\r\n")
        c.ping()
        r, _ = self.route(fid)
        r.send("RS+ $G learned.x\r\nPING\r\n")
        self.wait_route_subs(fid, 1)
        r.send("RMSG $G bad.x foo bar 3\r\nabc\r\n")
        self._assert_closed(r, fid)
        self._assert_node_still_serves()
        self.assertEqual([f for f in c.ping() if f[0] != "INFO"], [], "nothing delivered from the malformed frame")
        # interest learned on the closed route is gone: a new route can attach again
        r2, _ = self.route("NFAKEROUTE0000000000000000000000000000000000000000000007")
        self.assertEqual(mon(self.http, "routez").get("num_routes"), 1)

    def test_garbage_op_closes_route_only(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000008"
        r, _ = self.route(fid)
        r.send("BOGUS_OP something\r\n")
        self._assert_closed(r, fid)
        self._assert_node_still_serves()

    def test_payload_size_mismatch_closes_route_only(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000009"
        r, _ = self.route(fid)
        r.send("RMSG $G some.subj 3\r\nabcdefgh\r\n")
        self._assert_closed(r, fid)
        self._assert_node_still_serves()

    def test_cluster_name_mismatch_refused(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000010"
        r, _ = self.route(fid, cluster="OTHER", register=False)
        try:
            r.read_until_closed(5.0)
        except socket.timeout:
            self.fail("route with a foreign cluster name was not closed")
        self.assertIsNone(self.route_entry(fid))
        self.assertEqual(mon(self.http, "routez").get("num_routes"), 0)
        self._assert_node_still_serves()

    def test_routez_subs_lists_the_peers_interest(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000030"
        r, _ = self.route(fid)
        r.send("RS+ $G rz.a\r\nRS+ $G rz.q grp 1\r\nPING\r\n")
        self.wait_route_subs(fid, 2)
        e = self.route_entry(fid)
        self.assertNotIn("subscriptions_list", e)  # only when asked for
        def entry(q):
            for x in mon(self.http, "routez?" + q).get("routes") or []:
                if x.get("remote_id") == fid:
                    return x
            return None
        lst = entry("subs=1").get("subscriptions_list") or []
        self.assertIn("rz.a", lst)
        self.assertIn("rz.q", lst)
        det = entry("subs=detail").get("subscriptions_list_detail") or []
        q = [d for d in det if d.get("subject") == "rz.q"]
        self.assertEqual(len(q), 1, det)
        self.assertEqual(q[0].get("qgroup"), "grp")
        self.assertEqual(q[0].get("sid"), "$G rz.q grp")
        self.assertNotIn("account", q[0])

    def test_plain_and_queue_interest_on_one_peer_one_rmsg(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000011"
        r, _ = self.route(fid)
        r.send("RS+ $G mix\r\nRS+ $G mix g 3\r\nRS+ $G mix.*\r\nPING\r\n")
        self.wait_route_subs(fid, 3)
        c = self.client()
        c.send("PUB mix 2\r\nm1\r\nPUB mix _INBOX.m 2\r\nm2\r\nPUB mix.a 2\r\nm3\r\nPUB mix 3\r\nend\r\n")
        c.ping()
        frames = r.no_frame_before(lambda f: f[0] == "RMSG" and f[-1] == b"end")
        self.assertEqual(frames, [("RMSG", "$G", "mix", None, ["g"], b"m1"),
                                  ("RMSG", "$G", "mix", "_INBOX.m", ["g"], b"m2"),
                                  ("RMSG", "$G", "mix.a", None, [], b"m3")])

    def test_peer_interest_removed_when_route_closes(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000012"
        r, _ = self.route(fid)
        r.send("RS+ $G svc.remote\r\nPING\r\n")
        self.wait_route_subs(fid, 1)
        c = self.client(headers=True, no_responders=True)
        c.send("SUB _INBOX.me 1\r\nPUB svc.remote _INBOX.me 1\r\nx\r\n")
        self.assertEqual([f for f in c.ping() if f[0] != "INFO"], [], "no 503 while the peer has interest")
        before = r.no_frame_before(lambda f: f[0] == "RMSG")
        self.assertEqual([f for f in before if f[0] != "RS+"], [])
        r.close()
        wait_for(lambda: self.route_entry(fid) is None, 10, "route removed")
        c.send("PUB svc.remote _INBOX.me 1\r\nx\r\n")
        frames = [f for f in c.ping() if f[0] != "INFO"]
        self.assertEqual(len(frames), 1, frames)
        self.assertEqual(frames[0][0], "HMSG")
        self.assertIn(b"503", frames[0][4])

    def test_rmsg_for_unknown_queue_or_account_is_dropped(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000013"
        c = self.client()
        c.send("SUB drop.x 1\r\nSUB drop.q other 2\r\n")
        c.ping()
        r, _ = self.route(fid)
        r.send("RMSG $G drop.q | nosuchgroup 1\r\na\r\n")
        r.send("RMSG OTHERACC drop.x 1\r\nb\r\n")
        r.send("RMSG $G drop.x 3\r\nend\r\nPING\r\n")
        frames = []
        deadline = time.monotonic() + 5
        while not frames or frames[-1][-1] != b"end":
            f = c.read_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PING":
                c.send("PONG\r\n")
            elif f[0] != "INFO":
                frames.append(f)
        self.assertEqual(frames, [("MSG", "drop.x", "1", None, b"end")])
        self._assert_node_still_serves()

    def test_ping_on_route_answered(self):
        r, _ = self.route("NFAKEROUTE0000000000000000000000000000000000000000000014")
        r.send("PING\r\n")
        deadline = time.monotonic() + 5
        while True:
            f = r.read_route_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PONG":
                break
            if f[0] == "PING":
                r.send("PONG\r\n")

    def test_gossip_info_makes_node_dial_the_announced_server(self):
        # a listener playing "another cluster member" that only our fake peer knows
        lst = listener()
        self.socks.append(lst)
        lport = lst.getsockname()[1]
        r, _ = self.route("NFAKEROUTE0000000000000000000000000000000000000000000015")
        other = {"server_id": "NFAKEOTHER0000000000000000000000000000000000000000000016", "server_name": "other",
                 "version": "2.9.10", "proto": 2, "host": "127.0.0.1", "port": lport, "headers": True,
                 "max_payload": 1048576, "ip": "nats-route://127.0.0.1:%d/" % lport, "cluster": "C1",
                 "connect_urls": ["127.0.0.1:4998"], "lnoc": True}
        r.send("INFO %s\r\n" % json.dumps(other))
        # behave like a real accepting server: our INFO goes out first; the
        # dialling node answers with CONNECT (+ INFO)
        cj, conn = accept_route_connect(self, lst, other)
        self.socks.append(conn)
        self.assertEqual(cj.get("cluster"), "C1")
        self.assertEqual(cj.get("name"), self.sid, "route CONNECT name is the server_id")
        self.assertIs(cj.get("headers"), True)

    def test_solicited_route_to_configured_seed(self):
        # restart the node with a seed that is our listener: it must dial and send CONNECT + INFO
        self.srv.stop()
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(4)
        lst.settimeout(10)
        self.socks.append(lst)
        self.srv = Server(args=["-m", str(self.http), "-n", "rt1", "--cluster", "nats://127.0.0.1:%d" % self.rport,
                                "--cluster_name", "C1", "--routes", "nats://127.0.0.1:%d" % lst.getsockname()[1]])
        self.srv.start()
        try:
            conn, _ = lst.accept()
        except socket.timeout:
            self.fail("node did not dial its seed")
        self.socks.append(conn)
        peer = RawClient.__new__(FakeRoute)
        peer.sock, peer.buf, peer.eof, peer.timeout, peer.infos = conn, b"", False, 5.0, []
        # like a real accepting server, send our INFO first
        fid = "NFAKESEED00000000000000000000000000000000000000000000017"
        peer.send("INFO %s\r\n" % json.dumps({"server_id": fid, "server_name": "seed", "version": "2.9.10", "proto": 2,
                                               "host": "127.0.0.1", "port": lst.getsockname()[1], "headers": True,
                                               "max_payload": 1048576, "cluster": "C1", "connect_urls": [], "lnoc": True}))
        line = peer.read_line()
        self.assertTrue(line.startswith(b"CONNECT "), line)
        cj = json.loads(line[8:])
        self.assertEqual(cj.get("cluster"), "C1")
        self.assertIs(cj.get("headers"), True)
        info = peer.read_line()
        self.assertTrue(info.startswith(b"INFO "), info)
        ij = json.loads(info[5:])
        self.assertEqual(ij.get("cluster"), "C1")
        self.assertEqual(ij.get("port"), self.rport)
        self.assertEqual(ij.get("server_id"), cj.get("name"))
        # the route registers and carries traffic
        wait_for(lambda: self.route_entry(fid) is not None, 10, "solicited route registered")
        peer.send("RS+ $G seed.x\r\nPING\r\n")
        self.wait_route_subs(fid, 1)
        c = self.client()
        c.send("PUB seed.x 2\r\nhi\r\n")
        c.ping()
        self.assertEqual(peer.next(), ("RMSG", "$G", "seed.x", None, [], b"hi"))

    def _client_urls_until(self, c, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            f = c.read_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PING":
                c.send("PONG\r\n")
            elif f[0] == "INFO" and pred(f[1].get("connect_urls") or []):
                return f[1].get("connect_urls") or []

    def test_peer_lame_duck_info_withdraws_its_client_url(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000018"
        c = self.client()
        r, _ = self.route(fid)
        self._client_urls_until(c, lambda u: FAKE_CLIENT_URL in u)
        upd = {"server_id": fid, "server_name": "fake", "version": "2.9.10", "proto": 2, "host": "127.0.0.1", "port": 1,
               "headers": True, "max_payload": 1048576, "cluster": "C1", "connect_urls": [FAKE_CLIENT_URL], "ldm": True}
        r.send("INFO %s\r\n" % json.dumps(upd))
        urls = self._client_urls_until(c, lambda u: FAKE_CLIENT_URL not in u)
        self.assertIn("127.0.0.1:%d" % self.srv.port, urls)
        # the route itself stays up
        self.assertIsNotNone(self.route_entry(fid))

    def test_large_interest_burst_from_peer(self):
        fid = "NFAKEROUTE0000000000000000000000000000000000000000000019"
        r, _ = self.route(fid)
        r.send("".join("RS+ $G burst.%d\r\n" % i for i in range(10000)) + "RS+ $G burst.q grp 5\r\nPING\r\n")
        self.wait_route_subs(fid, 10001)
        c = self.client(headers=True)
        c.send("PUB burst.9999 1\r\na\r\nHPUB burst.q _INBOX.b 12 13\r\nNATS/1.0\r\n\r\nb\r\n")
        c.ping()
        self.assertEqual(r.next(), ("RMSG", "$G", "burst.9999", None, [], b"a"))
        self.assertEqual(r.next(), ("HMSG", "$G", "burst.q", "_INBOX.b", ["grp"], b"NATS/1.0\r\n\r\n", b"b"))
        r.send("".join("RS- $G burst.%d\r\n" % i for i in range(10000)) + "PING\r\n")
        wait_for(lambda: (self.route_entry(fid) or {}).get("subscriptions", 0) == 1, 10, "10000 RS- applied")


class CountingResult(harness.CountingResult):
    """Also prints the server's log when a test fails."""

    def _log(self, test):
        srv = getattr(test, "srv", None)
        if srv is not None:
            sys.stderr.write(srv.log() + "\n")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._log(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._log(test)


def bcrypt_hash(password):
    """A $2a$ bcrypt hash (as `nats server passwd` makes), or None if this
    Python has no crypt module. libxcrypt makes $2b$, the same algorithm for
    short passwords."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
    except Exception:  # noqa: BLE001
        return None
    if not h or not h.startswith("$2b$"):
        return None
    return "$2a$" + h[4:]


class RouteAuthTest(unittest.TestCase):
    """cluster { authorization { user, password } }: routes must authenticate
    with CONNECT user/pass; solicited routes send the credentials of their URL,
    or, for routes learned by gossip, the cluster's own."""

    USER, PASS = "ruser", "s3cr3t-route"

    def start(self, password=None, routes=()):
        self.http = free_port()
        self.rport = free_port()
        route_list = "".join('    "%s"\n' % r for r in routes)
        conf = ('cluster {\n  name: C1\n  listen: "127.0.0.1:%d"\n'
                '  authorization {\n    user: %s\n    password: "%s"\n    timeout: 2\n  }\n'
                '  routes: [\n%s  ]\n}\n') % (self.rport, self.USER, password or self.PASS, route_list)
        self.srv = Server(config=conf, args=["-m", str(self.http), "-n", "ra1"])
        self.srv.start()
        wait_for(lambda: mon(self.http, "varz").get("server_id"), 10, "monitoring")
        self.sid = mon(self.http, "varz")["server_id"]

    def setUp(self):
        self.srv = None
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        if self.srv:
            self.srv.stop()

    def route_entry(self, server_id):
        for x in mon(self.http, "routez").get("routes") or []:
            if x.get("remote_id") == server_id:
                return x
        return None

    def fake(self, server_id, user=None, password=None):
        r = FakeRoute(self.rport, server_id)
        self.socks.append(r)
        info = r.read_info()
        connect = {"echo": True, "verbose": False, "pedantic": False, "tls_required": False, "headers": True,
                   "name": server_id, "cluster": "C1", "lnoc": True}
        if user is not None:
            connect["user"] = user
        if password is not None:
            connect["pass"] = password
        myinfo = {"server_id": server_id, "server_name": "fake", "version": "2.9.10", "proto": 2,
                  "host": "127.0.0.1", "port": 1, "headers": True, "max_payload": 1048576,
                  "cluster": "C1", "connect_urls": [FAKE_CLIENT_URL], "lnoc": True}
        r.send("CONNECT %s\r\nINFO %s\r\n" % (json.dumps(connect), json.dumps(myinfo)))
        return r, info

    def assert_refused(self, r, server_id):
        errs = []
        try:
            while True:
                f = r.read_route_frame(5.0)
                if f[0] == "-ERR":
                    errs.append(f[1])
        except Closed:
            pass
        except socket.timeout:
            self.fail("route with bad credentials was not closed")
        self.assertIn("'Authorization Violation'", errs)
        self.assertIsNone(self.route_entry(server_id))
        self.assertEqual(mon(self.http, "routez").get("num_routes"), 0)

    def test_info_says_auth_required(self):
        self.start()
        r = FakeRoute(self.rport, "NFAKEAUTH00000000000000000000000000000000000000000000001")
        self.socks.append(r)
        self.assertIs(r.read_info().get("auth_required"), True)

    def test_route_without_credentials_is_refused(self):
        self.start()
        fid = "NFAKEAUTH00000000000000000000000000000000000000000000002"
        r, _ = self.fake(fid)
        self.assert_refused(r, fid)

    def test_route_with_wrong_password_is_refused(self):
        self.start()
        fid = "NFAKEAUTH00000000000000000000000000000000000000000000003"
        r, _ = self.fake(fid, self.USER, "wrong")
        self.assert_refused(r, fid)
        fid2 = "NFAKEAUTH00000000000000000000000000000000000000000000004"
        r2, _ = self.fake(fid2, "someone", self.PASS)
        self.assert_refused(r2, fid2)

    def test_route_with_credentials_registers_and_carries_traffic(self):
        self.start()
        fid = "NFAKEAUTH00000000000000000000000000000000000000000000005"
        r, _ = self.fake(fid, self.USER, self.PASS)
        wait_for(lambda: self.route_entry(fid) is not None, 10, "authenticated route registered")
        r.send("RS+ $G auth.x\r\nPING\r\n")
        wait_for(lambda: (self.route_entry(fid) or {}).get("subscriptions", 0) >= 1, 10, "interest")
        c = RawClient(self.srv.port)
        self.socks.append(c)
        c.handshake()
        c.send("PUB auth.x 2\r\nok\r\n")
        c.ping()
        self.assertEqual(r.next(), ("RMSG", "$G", "auth.x", None, [], b"ok"))

    def test_bcrypt_route_password(self):
        h = bcrypt_hash(self.PASS)
        if h is None:
            self.skipTest("no bcrypt in this Python")
        self.start(password=h)
        fid = "NFAKEAUTH00000000000000000000000000000000000000000000006"
        r, _ = self.fake(fid, self.USER, self.PASS)
        wait_for(lambda: self.route_entry(fid) is not None, 10, "route with bcrypt password registered")
        fid2 = "NFAKEAUTH00000000000000000000000000000000000000000000007"
        r2, _ = self.fake(fid2, self.USER, h)  # the hash itself is not the password
        self.assert_refused_keep(r2, fid2)

    def assert_refused_keep(self, r, server_id):
        try:
            while True:
                f = r.read_route_frame(5.0)
                if f[0] == "-ERR":
                    self.assertEqual(f[1], "'Authorization Violation'")
        except Closed:
            pass
        self.assertIsNone(self.route_entry(server_id))

    def _accept_connect(self, lst, info):
        cj, conn = accept_route_connect(self, lst, info)
        self.socks.append(conn)
        return cj

    def _listener(self):
        lst = listener()
        self.socks.append(lst)
        return lst

    def test_solicited_route_sends_the_credentials_of_its_url(self):
        lst = self._listener()
        lport = lst.getsockname()[1]
        self.start(routes=["nats-route://seeduser:seed%%40pw@127.0.0.1:%d" % lport])
        seed = {"server_id": "NFAKESEEDAUTH000000000000000000000000000000000000000008", "server_name": "seed",
                "version": "2.9.10", "proto": 2, "host": "127.0.0.1", "port": lport, "headers": True,
                "max_payload": 1048576, "cluster": "C1", "connect_urls": [], "auth_required": True, "lnoc": True}
        cj = self._accept_connect(lst, seed)
        self.assertEqual(cj.get("user"), "seeduser")
        self.assertEqual(cj.get("pass"), "seed@pw")  # percent-decoded

    def test_gossiped_route_uses_the_cluster_credentials(self):
        self.start()
        fid = "NFAKEAUTH00000000000000000000000000000000000000000000009"
        r, _ = self.fake(fid, self.USER, self.PASS)
        wait_for(lambda: self.route_entry(fid) is not None, 10, "route registered")
        lst = self._listener()
        lport = lst.getsockname()[1]
        other = {"server_id": "NFAKEOTHERAUTH00000000000000000000000000000000000000010", "server_name": "other",
                 "version": "2.9.10", "proto": 2, "host": "127.0.0.1", "port": lport, "headers": True,
                 "max_payload": 1048576, "ip": "nats-route://127.0.0.1:%d/" % lport, "cluster": "C1",
                 "connect_urls": ["127.0.0.1:4998"], "auth_required": True, "lnoc": True}
        r.send("INFO %s\r\n" % json.dumps(other))
        cj = self._accept_connect(lst, other)
        self.assertEqual(cj.get("user"), self.USER)
        self.assertEqual(cj.get("pass"), self.PASS)


class RouteAuthMeshTest(unittest.TestCase):
    """Real servers with cluster authorization: a mesh forms from one seed
    whose URL carries the credentials (the other routes come from gossip and
    use the cluster's own), messages cross it, and a node with the wrong
    credentials stays out. With SERVER_KIND=herald, also a mixed mesh with
    nats-server 2.9.10."""

    USER, PASS = "meshuser", "mesh-pw"

    def setUp(self):
        self.servers = []
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        for s in self.servers:
            s.stop()

    def node(self, name, seed_rport=None, url_pass=None, bin=None):
        http, rport = free_port(), free_port()
        routes = ""
        if seed_rport:
            routes = '  routes: ["nats-route://%s:%s@127.0.0.1:%d"]\n' % (
                self.USER, url_pass or self.PASS, seed_rport)
        conf = ('cluster {\n  name: M1\n  listen: "127.0.0.1:%d"\n'
                '  authorization { user: %s, password: "%s", timeout: 2 }\n%s}\n') % (
                    rport, self.USER, self.PASS, routes)
        srv = Server(config=conf, args=["-m", str(http), "-n", name], bin=bin)
        srv.start()
        srv.http, srv.rport = http, rport
        self.servers.append(srv)
        wait_for(lambda: mon(http, "varz").get("server_id"), 10, "monitoring of " + name)
        return srv

    def num_routes(self, srv):
        return mon(srv.http, "routez").get("num_routes", 0)

    def check_mesh(self, nodes):
        for srv in nodes:
            wait_for(lambda srv=srv: self.num_routes(srv) == len(nodes) - 1, 15,
                     "full mesh of %d nodes" % len(nodes))
        sub = RawClient(nodes[-1].port)
        self.socks.append(sub)
        sub.handshake()
        sub.send("SUB mesh.x 1\r\n")
        sub.ping()
        pub = RawClient(nodes[1].port)
        self.socks.append(pub)
        pub.handshake()
        # interest propagates asynchronously: publish until one arrives
        deadline = time.monotonic() + 10
        while True:
            pub.send("PUB mesh.x 3\r\nhey\r\n")
            pub.ping()
            try:
                f = sub.read_frame(0.2)
            except socket.timeout:
                self.assertLess(time.monotonic(), deadline, "no message across the authenticated mesh")
                continue
            if f[0] == "PING":
                sub.send("PONG\r\n")
                continue
            self.assertEqual(f[0], "MSG")
            break

    def test_mesh_forms_with_credentials_and_refuses_a_bad_node(self):
        n1 = self.node("m1")
        n2 = self.node("m2", seed_rport=n1.rport)
        n3 = self.node("m3", seed_rport=n1.rport)
        self.check_mesh([n1, n2, n3])
        # A node whose seed URL carries a wrong password is refused: it never
        # joins, and the mesh is untouched.
        bad = self.node("bad", seed_rport=n1.rport, url_pass="wrong-pw")
        wait_for(lambda: any(w in n1.log().lower() for w in ("authorization", "authentication")), 10,
                 "the seed to log the refused route")
        self.assertEqual(self.num_routes(bad), 0)
        for srv in (n1, n2, n3):
            self.assertEqual(self.num_routes(srv), 2)

    def test_mixed_mesh_with_nats_server(self):
        if SERVER_KIND != "herald" or not os.path.exists("/usr/sbin/nats-server"):
            self.skipTest("needs SERVER_KIND=herald and nats-server")
        n1 = self.node("h1")
        n2 = self.node("g2", seed_rport=n1.rport, bin="/usr/sbin/nats-server")
        n3 = self.node("h3", seed_rport=n2.rport)
        self.check_mesh([n1, n2, n3])


if __name__ == "__main__":
    harness.unittest_main("route protocol tests", CountingResult)
