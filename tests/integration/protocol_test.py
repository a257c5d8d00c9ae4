#!/usr/bin/env python3
"""Raw-socket client-protocol tests (Python 3 stdlib only).

Checks the wire behaviour described in docs/protocol.md.
Fields are parsed (runs of whitespace, INFO's trailing space are tolerated);
op names, -ERR texts, payload bytes and header blocks are checked exactly.

Run:  SERVER_KIND=nats-server python3 tests/integration/protocol_test.py [-k pattern]
      SERVER_KIND=herald SERVER_BIN=bazel-bin/server/herald python3 tests/integration/protocol_test.py
Last line printed: "RESULT passed=N failed=M".
"""
import json
import os
import re
import socket
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Closed, free_port, running_server, SERVER_KIND, server_bin  # noqa: E402

SEMVER = re.compile(r"^\d+\.\d+\.\d+")


class ProtocolTest(unittest.TestCase):
    """Tests sharing one default-config server."""

    @classmethod
    def setUpClass(cls):
        cls._cm = running_server()
        cls.srv = cls._cm.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls._cm.__exit__(None, None, None)

    def test_zz_server_shutdown_clean(self):
        # runs last in this class (alphabetical): stop the shared server and
        # fail on sanitizer reports (sanitizer builds only)
        srv = type(self).srv
        srv.stop()
        self.assertEqual(srv.sanitizer_reports(), [])

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        reports = self.srv.sanitizer_reports()
        if reports and not getattr(type(self), "_reported", False):
            type(self)._reported = True
            sys.stderr.write(self.srv.log() + "\n")
            self.fail("sanitizer report in server log: %s" % " | ".join(reports))
        # print the server log on failure/error
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True):
            sys.stderr.write(self.srv.log() + "\n")

    def client(self, port=None, **kw):
        c = RawClient(port or self.srv.port, **kw)
        self.clients.append(c)
        return c

    def connected(self, **fields):
        c = self.client()
        c.handshake(**fields)
        return c

    def assertErrAndClose(self, c, text, timeout=5.0):
        data = c.read_until_closed(timeout)
        self.assertIn(("-ERR '%s'\r\n" % text).encode(), data, "expected -ERR '%s' then close; got %r" % (text, data))

    # ---- connection lifecycle ----

    def test_info_first_line(self):
        c = self.client()
        line = c.read_line(timeout=2.0)  # sent without any client input
        self.assertTrue(line.startswith(b"INFO "), line)
        self.assertTrue(line.endswith(b"\r\n"))
        self.assertEqual(line.count(b"\r\n"), 1)
        info = json.loads(line[5:].strip())
        self.assertIsInstance(info["server_id"], str)
        self.assertTrue(info["server_id"])
        self.assertRegex(info["version"], SEMVER)
        self.assertIsInstance(info["proto"], int)
        self.assertGreaterEqual(info["proto"], 1)
        self.assertIs(info["headers"], True)
        self.assertEqual(info["max_payload"], 1048576)
        self.assertFalse(info.get("auth_required", False))
        self.assertFalse(info.get("tls_required", False))
        if "client_id" in info:
            self.assertIsInstance(info["client_id"], int)
        # nothing else is sent before CONNECT
        c.sock.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            c.sock.recv(100)

    def test_server_ids_unique_per_connection_ids(self):
        a, b = self.client(), self.client()
        ia, ib = a.read_info(), b.read_info()
        self.assertEqual(ia["server_id"], ib["server_id"])
        if "client_id" in ia and "client_id" in ib:
            self.assertNotEqual(ia["client_id"], ib["client_id"])

    def test_connect_ping_pong(self):
        c = self.client()
        c.read_info()
        c.send(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
        self.assertEqual(c.read_line(), b"PONG\r\n")
        c.send(b"PING\r\nPING\r\n")
        self.assertEqual(c.read_line(), b"PONG\r\n")
        self.assertEqual(c.read_line(), b"PONG\r\n")

    def test_verbose_ok(self):
        c = self.client()
        c.read_info()
        c.send(b'CONNECT {"verbose":true,"pedantic":false,"protocol":1}\r\nPING\r\n')
        self.assertEqual(c.read_line(), b"+OK\r\n")  # for CONNECT
        self.assertEqual(c.read_line(), b"PONG\r\n")
        c.send(b"SUB foo 1\r\n")
        self.assertEqual(c.read_line(), b"+OK\r\n")
        c.send(b"PUB foo 5\r\nhello\r\n")
        self.assertEqual(c.read_line(), b"+OK\r\n")
        self.assertEqual(c.read_frame(), ("MSG", "foo", "1", None, b"hello"))
        c.send(b"UNSUB 1\r\n")
        self.assertEqual(c.read_line(), b"+OK\r\n")
        c.send(b"PUB foo 1\r\nx\r\nPING\r\n")
        self.assertEqual(c.read_line(), b"+OK\r\n")
        self.assertEqual(c.read_line(), b"PONG\r\n")  # no MSG after UNSUB

    def test_non_verbose_sends_no_ok(self):
        c = self.connected()
        c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\n")
        self.assertEqual(c.ping(), [("MSG", "foo", "1", None, b"hi")])

    def test_ops_case_insensitive(self):
        c = self.connected()
        c.send(b"sub lc.foo 7\r\npub lc.foo 2\r\nhi\r\nping\r\n")
        self.assertEqual(c.read_frame(), ("MSG", "lc.foo", "7", None, b"hi"))
        self.assertEqual(c.read_frame(), ("PONG",))

    def test_bare_newline_control_lines(self):
        c = self.connected()
        c.send(b"SUB nl.foo 1\nPUB nl.foo 2\r\nhi\r\nPING\n")
        self.assertEqual(c.read_frame(), ("MSG", "nl.foo", "1", None, b"hi"))
        self.assertEqual(c.read_frame(), ("PONG",))

    # ---- errors ----

    def test_unknown_protocol_operation(self):
        c = self.connected()
        c.send(b"FOO bar\r\n")
        self.assertErrAndClose(c, "Unknown Protocol Operation")

    def test_nul_bytes_after_connect_fail_at_once(self):
        # nats-server 2.9.10 answers at the first NUL, without waiting for a
        # line end, and closes
        c = self.connected()
        c.send(b"\0" * 1000)
        self.assertEqual(c.read_until_closed(5), b"-ERR 'Unknown Protocol Operation'\r\n")
        # ops before the bad byte are answered first
        c = self.connected()
        c.send(b"PING\r\n" + b"\0" * 1000)
        self.assertEqual(c.read_until_closed(5), b"PONG\r\n-ERR 'Unknown Protocol Operation'\r\n")

    def test_unknown_op_byte_fails_before_line_end(self):
        # a byte that can continue no op name fails at once, line end or not:
        # a NUL at the start of a line, "PX", "SUBX", "PIN" + CRLF
        for data in (b"\0PING\r\n", b"\0\r\n", b"PX", b"SUBX", b"PIN\r\n", b"SUB\r\n"):
            c = self.connected()
            c.send(data)
            self.assertEqual(c.read_until_closed(5), b"-ERR 'Unknown Protocol Operation'\r\n", data)

    def test_garbage_before_connect_fails_at_once(self):
        for data in (b"xyz", b"\0\0\0", b"CX"):
            c = self.client()
            c.read_info()
            c.send(data)
            self.assertEqual(c.read_until_closed(5), b"-ERR 'Unknown Protocol Operation'\r\n", data)

    def test_op_name_endings_as_nats_server(self):
        # anything may follow PING/PONG/+OK on their line; CONNECT needs no space
        c = self.client()
        c.read_info()
        c.send(b'CONNECT{"verbose":false}\r\nPINGX\r\n')
        self.assertEqual(c.read_line(), b"PONG\r\n")
        c.send(b"+OKX\r\nPONG foo\r\nping pong\r\n")
        self.assertEqual(c.read_line(), b"PONG\r\n")

    def test_unsub_unreadable_max_removes_subscription(self):
        # nats-server 2.9.10 reads UNSUB's max as 1 to 9 digits; anything else
        # ("-5", "x", "+5", ten digits) removes the subscription at once and
        # the connection stays open
        c = self.connected()
        for sid, bad in enumerate((b"-5", b"x", b"+5", b"1000000000"), start=1):
            c.send(b"SUB un.%d %d\r\nUNSUB %d %s\r\n" % (sid, sid, sid, bad))
            c.send(b"PUB un.%d 1\r\nx\r\n" % sid)
            self.assertEqual(c.ping(), [], bad)
        # a max that is read still limits deliveries
        c.send(b"SUB un.ok 9\r\nUNSUB 9 999999999\r\nPUB un.ok 1\r\ny\r\n")
        self.assertEqual(c.ping(), [("MSG", "un.ok", "9", None, b"y")])
        # verbose: +OK for each op, then PONG
        v = self.client()
        v.read_info()
        v.send(b'CONNECT {"verbose":true}\r\nSUB un.v 1\r\nUNSUB 1 -5\r\nPUB un.v 1\r\nx\r\nPING\r\n')
        self.assertEqual([v.read_line() for _ in range(5)], [b"+OK\r\n"] * 4 + [b"PONG\r\n"])
        self.assertEqual(v.ping(), [])

    def test_invalid_subject_keeps_connection(self):
        c = self.connected()
        for bad in (b"a..b", b"foo.>.bar", b".foo", b"foo."):
            c.send(b"SUB " + bad + b" 9\r\n")
            self.assertEqual(c.read_line(), b"-ERR 'Invalid Subject'\r\n", bad)
        # still open and working
        c.send(b"SUB good.subj 1\r\nPUB good.subj 2\r\nok\r\n")
        self.assertEqual(c.ping(), [("MSG", "good.subj", "1", None, b"ok")])

    def test_maximum_control_line_exceeded(self):
        c = self.connected()
        c.send(b"SUB " + b"a" * 5000 + b" 1\r\n")
        self.assertErrAndClose(c, "maximum control line exceeded")
        # also when the line has no terminator yet
        c2 = self.connected()
        c2.send(b"PUB " + b"b" * 5000)
        self.assertErrAndClose(c2, "maximum control line exceeded")

    def test_control_line_within_limit_ok(self):
        c = self.connected()
        subj = b"s." + b"x" * 3000
        c.send(b"SUB " + subj + b" 1\r\nPUB " + subj + b" 1\r\nz\r\n")
        self.assertEqual(c.ping(), [("MSG", subj.decode(), "1", None, b"z")])

    def test_payload_length_mismatch(self):
        c = self.connected()
        c.send(b"PUB foo 2\r\nhello\r\n")
        self.assertErrAndClose(c, "Unknown Protocol Operation")

    def test_no_responders_requires_headers(self):
        c = self.client()
        c.read_info()
        c.send(b'CONNECT {"verbose":false,"protocol":1,"headers":false,"no_responders":true}\r\nPING\r\n')
        data = c.read_until_closed(5)
        self.assertIn(b"-ERR 'no responders requires headers support'\r\n", data)
        self.assertNotIn(b"PONG", data)

    def test_malformed_connect_closes(self):
        c = self.client()
        c.read_info()
        c.send(b"CONNECT {not json\r\nPING\r\n")
        data = c.read_until_closed(5)
        self.assertNotIn(b"PONG", data)

    # ---- messages ----

    def test_msg_byte_exact(self):
        c = self.connected()
        c.send(b"SUB foo 1\r\nPUB foo 5\r\nhello\r\n")
        line = c.read_line()
        self.assertEqual(line.split(), [b"MSG", b"foo", b"1", b"5"])
        self.assertEqual(c.read_exact(7), b"hello\r\n")
        # with reply subject
        c.send(b"PUB foo bar.reply 3\r\nabc\r\n")
        line = c.read_line()
        self.assertEqual(line.split(), [b"MSG", b"foo", b"1", b"bar.reply", b"3"])
        self.assertEqual(c.read_exact(5), b"abc\r\n")
        # empty payload
        c.send(b"PUB foo 0\r\n\r\n")
        self.assertEqual(c.read_line().split(), [b"MSG", b"foo", b"1", b"0"])
        self.assertEqual(c.read_exact(2), b"\r\n")
        # binary payload containing CRLF and protocol-looking text
        payload = b"\r\nPING\r\n\x00\xff-ERR 'x'\r\n"
        c.send(b"PUB foo %d\r\n%s\r\n" % (len(payload), payload))
        self.assertEqual(c.read_frame(), ("MSG", "foo", "1", None, payload))
        self.assertEqual(c.ping(), [])

    def test_wildcard_delivery_uses_published_subject(self):
        c = self.connected()
        c.send(b"SUB w.* 1\r\nSUB w.> 2\r\nPUB w.a 1\r\n1\r\nPUB w.a.b 1\r\n2\r\nPUB w 1\r\n3\r\n")
        frames = c.ping()
        got = sorted((f[1], f[2], f[4]) for f in frames)
        self.assertEqual(got, [("w.a", "1", b"1"), ("w.a", "2", b"1"), ("w.a.b", "2", b"2")])

    def test_hpub_hmsg_exact_and_stripped_for_no_header_client(self):
        hdr = b"NATS/1.0\r\nX-Key: v1\r\nX-Key: v2\r\nMixed-Case:  spaced \r\n\r\n"
        body = b"payload"
        sub = self.connected(headers=True)
        plain = self.connected(headers=False)
        sub.send(b"SUB h.t 1\r\n")
        plain.send(b"SUB h.t 5\r\n")
        sub.ping()
        plain.ping()
        pub = self.connected(headers=True)
        pub.send(b"HPUB h.t rep.ly %d %d\r\n%s%s\r\n" % (len(hdr), len(hdr) + len(body), hdr, body))
        pub.ping()
        line = sub.read_line()
        self.assertEqual(line.split(), [b"HMSG", b"h.t", b"1", b"rep.ly", str(len(hdr)).encode(), str(len(hdr) + len(body)).encode()])
        self.assertEqual(sub.read_exact(len(hdr) + len(body) + 2), hdr + body + b"\r\n")
        # a client that did not announce headers gets a MSG with the payload only
        self.assertEqual(plain.read_frame(), ("MSG", "h.t", "5", "rep.ly", body))
        self.assertEqual(plain.ping(), [])
        # header-only message
        pub.send(b"HPUB h.t %d %d\r\n%s\r\n" % (len(hdr), len(hdr), hdr))
        self.assertEqual(sub.read_frame(), ("HMSG", "h.t", "1", None, hdr, b""))
        self.assertEqual(sub.ping(), [])

    def test_unsub_max(self):
        c = self.connected()
        c.send(b"SUB um 1\r\nUNSUB 1 2\r\n")
        c.send(b"".join(b"PUB um 1\r\n%d\r\n" % i for i in range(5)))
        self.assertEqual(c.ping(), [("MSG", "um", "1", None, b"0"), ("MSG", "um", "1", None, b"1")])
        c.send(b"PUB um 1\r\nx\r\n")
        self.assertEqual(c.ping(), [])
        # max counts deliveries made before the UNSUB
        c.send(b"SUB um2 2\r\nPUB um2 1\r\na\r\nPUB um2 1\r\nb\r\n")
        self.assertEqual(len(c.ping()), 2)
        c.send(b"UNSUB 2 3\r\n" + b"".join(b"PUB um2 1\r\n%d\r\n" % i for i in range(5)))
        self.assertEqual(c.ping(), [("MSG", "um2", "2", None, b"0")])
        # max already reached -> removed immediately
        c.send(b"SUB um3 3\r\nPUB um3 1\r\na\r\nPUB um3 1\r\nb\r\n")
        self.assertEqual(len(c.ping()), 2)
        c.send(b"UNSUB 3 1\r\nPUB um3 1\r\nc\r\n")
        self.assertEqual(c.ping(), [])
        # plain UNSUB and unknown sid
        c.send(b"SUB um4 4\r\nUNSUB 4\r\nUNSUB 999\r\nPUB um4 1\r\nx\r\n")
        self.assertEqual(c.ping(), [])

    def test_queue_group_raw(self):
        a = self.connected()
        b = self.connected()
        a.send(b"SUB qq.t grp 1\r\nSUB qq.t 3\r\n")
        b.send(b"SUB qq.t grp 2\r\n")
        a.ping()
        b.ping()
        p = self.connected()
        p.send(b"".join(b"PUB qq.t %d\r\n%d\r\n" % (len(str(i)), i) for i in range(100)))
        p.ping()
        fa, fb = a.ping(), b.ping()
        group = [f[4] for f in fa if f[2] == "1"] + [f[4] for f in fb if f[2] == "2"]
        plain = [f[4] for f in fa if f[2] == "3"]
        self.assertEqual(sorted(group, key=int), [str(i).encode() for i in range(100)])
        self.assertEqual(plain, [str(i).encode() for i in range(100)])

    def test_no_responders_hmsg(self):
        c = self.connected(headers=True, no_responders=True)
        c.send(b"SUB _INBOX.x 1\r\nPUB svc.none _INBOX.x 2\r\nhi\r\n")
        line = c.read_line()
        parts = line.split()
        self.assertEqual(parts[:3], [b"HMSG", b"_INBOX.x", b"1"], line)
        self.assertEqual(len(parts), 5, "no reply subject expected: %r" % line)
        hlen, total = int(parts[3]), int(parts[4])
        self.assertEqual(hlen, total, "no payload expected")
        block = c.read_exact(total + 2)
        hdr = block[:hlen]
        self.assertTrue(block.endswith(b"\r\n"))
        # 2.9 form NATS/1.0 503\r\n\r\n; 2.12+ adds Nats-Subject: <subject>
        self.assertRegex(hdr, rb"^NATS/1\.0 503( [^\r\n]*)?\r\n(Nats-Subject: svc\.none\r\n)?\r\n$")
        if hdr == b"NATS/1.0 503\r\n\r\n":
            self.assertEqual(line + block, b"HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
        self.assertEqual(c.ping(), [])

    def test_no_503_when_responder_or_not_requested(self):
        c = self.connected(headers=True, no_responders=True)
        r = self.connected()
        r.send(b"SUB svc.here 1\r\n")
        r.ping()
        c.send(b"SUB _INBOX.y 1\r\nPUB svc.here _INBOX.y 2\r\nhi\r\n")
        self.assertEqual(c.ping(), [])
        self.assertEqual(r.ping(), [("MSG", "svc.here", "1", "_INBOX.y", b"hi")])
        # client that did not ask for no_responders gets nothing
        d = self.connected(headers=True, no_responders=False)
        d.send(b"SUB _INBOX.z 1\r\nPUB svc.none _INBOX.z 2\r\nhi\r\n")
        self.assertEqual(d.ping(), [])
        # no subscription matching the reply: nothing is sent
        e = self.connected(headers=True, no_responders=True)
        e.send(b"PUB svc.none _INBOX.unsubscribed 2\r\nhi\r\n")
        self.assertEqual(e.ping(), [])

    def test_echo_false(self):
        c = self.connected(echo=False)
        c.send(b"SUB ec 1\r\nPUB ec 4\r\nself\r\n")
        self.assertEqual(c.ping(), [])
        o = self.connected()
        o.send(b"PUB ec 5\r\nother\r\n")
        o.ping()
        self.assertEqual(c.ping(), [("MSG", "ec", "1", None, b"other")])

    def test_ordering_and_large_payload(self):
        c = self.connected()
        big = bytes((i * 7 + 3) & 0xFF for i in range(1048576))
        c.send(b"SUB big 1\r\nPUB big %d\r\n%s\r\n" % (len(big), big))
        c.send(b"".join(b"PUB big %d\r\n%d\r\n" % (len(str(i)), i) for i in range(1000)))
        frames = c.ping(timeout=15)
        self.assertEqual(len(frames), 1001)
        self.assertEqual(frames[0][4], big)
        self.assertEqual([f[4] for f in frames[1:]], [str(i).encode() for i in range(1000)])

    def test_pub_while_pinging_pong_order(self):
        c = self.connected()
        c.send(b"SUB po 1\r\n" + b"".join(b"PUB po 1\r\n%d\r\nPING\r\n" % (i % 10) for i in range(50)))
        seq = [c.read_frame()[0] for _ in range(100)]
        self.assertEqual(seq, ["MSG", "PONG"] * 50)


    # ---- parser robustness and less common rules ----

    def test_split_writes_byte_by_byte(self):
        c = self.connected(headers=True)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hdr = b"NATS/1.0\r\nK: v\r\n\r\n"
        data = (b"SUB split.t 1\r\nPUB split.t reply.to 11\r\nhello world\r\n"
                b"HPUB split.t %d %d\r\n%sxyz\r\nPING\r\n" % (len(hdr), len(hdr) + 3, hdr))
        for i in range(len(data)):
            c.send(data[i:i + 1])
            if i % 7 == 0:
                time.sleep(0.002)
        self.assertEqual(c.read_frame(), ("MSG", "split.t", "1", "reply.to", b"hello world"))
        self.assertEqual(c.read_frame(), ("HMSG", "split.t", "1", None, hdr, b"xyz"))
        self.assertEqual(c.read_frame(), ("PONG",))

    def test_tabs_and_space_runs_as_separators(self):
        c = self.connected()
        c.send(b"SUB\ttab.t\t 3\r\nPUB  tab.t   2\r\nok\r\n")
        self.assertEqual(c.ping(), [("MSG", "tab.t", "3", None, b"ok")])

    def test_wildcard_chars_inside_token_are_literal(self):
        c = self.connected()
        c.send(b"SUB lit.*x 1\r\nSUB lit.x> 2\r\n")
        self.assertEqual(c.ping(), [])  # accepted, no -ERR
        c.send(b"PUB lit.ax 1\r\na\r\nPUB lit.*x 1\r\nb\r\nPUB lit.x> 1\r\nc\r\nPUB lit.xy 1\r\nd\r\n")
        self.assertEqual(c.ping(), [("MSG", "lit.*x", "1", None, b"b"), ("MSG", "lit.x>", "2", None, b"c")])

    def test_two_subscriptions_same_subject_each_get_copy(self):
        c = self.connected()
        c.send(b"SUB dup.t 1\r\nSUB dup.t 2\r\nSUB dup.* 3\r\nPUB dup.t 1\r\nx\r\n")
        self.assertEqual(sorted(f[2] for f in c.ping()), ["1", "2", "3"])

    def test_reused_sid_is_ignored(self):
        c = self.connected()
        c.send(b"SUB first.s 1\r\nSUB second.s 1\r\nPUB first.s 1\r\na\r\nPUB second.s 1\r\nb\r\n")
        self.assertEqual(c.ping(), [("MSG", "first.s", "1", None, b"a")])

    def test_queue_group_spans_subject_patterns(self):
        c = self.connected()
        c.send(b"SUB qp.* grp 1\r\nSUB qp.t grp 2\r\nSUB qp.> grp 3\r\n")
        c.send(b"".join(b"PUB qp.t 2\r\n%02d\r\n" % i for i in range(60)))
        frames = c.ping()
        self.assertEqual(sorted(f[4] for f in frames), [b"%02d" % i for i in range(60)])
        self.assertEqual(len({f[2] for f in frames}) >= 2, True, "only one member used")

    def test_bad_argument_count_closes(self):
        c = self.connected()
        c.send(b"SUB only\r\n")  # SUB needs subject and sid
        c.read_until_closed(5)

    def test_hpub_header_size_larger_than_total_closes(self):
        c = self.connected(headers=True)
        c.send(b"HPUB h.bad 20 10\r\n")
        c.read_until_closed(5)

    def test_pedantic_publish_subject(self):
        c = self.connected(pedantic=True)
        c.send(b"SUB ped.> 1\r\nPUB ped.* 1\r\nx\r\n")
        self.assertEqual(c.read_line(), b"-ERR 'Invalid Publish Subject'\r\n")
        c.send(b"PUB ped.ok 1\r\ny\r\n")
        # (2.9.10 still delivers the invalid publish after the -ERR; not required either way)
        self.assertEqual([f for f in c.ping() if f[1] != "ped.*"], [("MSG", "ped.ok", "1", None, b"y")])
        # without pedantic a wildcard publish subject is accepted silently
        d = self.connected()
        d.send(b"PUB ped.* 1\r\nx\r\n")
        self.assertEqual(d.ping(), [])

    def test_no_503_with_only_queue_subscriber(self):
        r = self.connected()
        r.send(b"SUB svc.q workers 1\r\n")
        r.ping()
        c = self.connected(headers=True, no_responders=True)
        c.send(b"SUB _INBOX.q 1\r\nPUB svc.q _INBOX.q 1\r\nx\r\n")
        self.assertEqual(c.ping(), [])
        self.assertEqual(r.ping(), [("MSG", "svc.q", "1", "_INBOX.q", b"x")])

    def test_abrupt_close_mid_payload_does_not_hurt_others(self):
        other = self.connected()
        other.send(b"SUB ab.t 1\r\n")
        other.ping()
        for _ in range(5):
            c = self.connected()
            c.send(b"PUB ab.t 100\r\npartial")
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()  # RST
        p = self.connected()
        p.send(b"PUB ab.t 2\r\nok\r\n")
        p.ping()
        self.assertEqual(other.ping(), [("MSG", "ab.t", "1", None, b"ok")])

    def test_unsub_all_then_no_delivery(self):
        c = self.connected()
        c.send(b"".join(b"SUB ua.%d %d\r\n" % (i, i) for i in range(200)))
        c.send(b"SUB ua.* 1000\r\n")
        c.send(b"".join(b"UNSUB %d\r\n" % i for i in range(200)))
        c.send(b"".join(b"PUB ua.%d 1\r\nx\r\n" % i for i in range(200)))
        frames = c.ping()
        self.assertEqual(len(frames), 200)
        self.assertTrue(all(f[2] == "1000" for f in frames))

    def test_subjects_case_sensitive_and_utf8(self):
        c = self.connected()
        subj = "caf\u00e9.\u00fcber".encode()
        c.send(b"SUB Case.T 1\r\nSUB " + subj + b" 2\r\nSUB caf\xc3\xa9.* 3\r\n")
        c.send(b"PUB case.t 1\r\na\r\nPUB Case.T 1\r\nb\r\nPUB " + subj + b" 1\r\nc\r\n")
        frames = sorted(c.ping(), key=lambda f: f[2])
        self.assertEqual(frames, [("MSG", "Case.T", "1", None, b"b"),
                                  ("MSG", subj.decode(), "2", None, b"c"),
                                  ("MSG", subj.decode(), "3", None, b"c")])

    def test_interest_removed_when_client_disconnects(self):
        r = self.connected()
        r.send(b"SUB gone.svc 1\r\nSUB gone.q grp 2\r\n")
        r.ping()
        keep = self.connected()
        keep.send(b"SUB gone.q grp 1\r\n")
        keep.ping()
        c = self.connected(headers=True, no_responders=True)
        c.send(b"SUB _INBOX.g 1\r\nPUB gone.svc _INBOX.g 1\r\nx\r\n")
        self.assertEqual(c.ping(), [])  # responder present: no 503
        r.close()
        # after the server notices the close, requests get a 503 (bounded wait)
        deadline = time.monotonic() + 5
        while True:
            c.send(b"PUB gone.svc _INBOX.g 1\r\nx\r\n")
            frames = c.ping()
            if frames:
                self.assertEqual(frames[0][:3], ("HMSG", "_INBOX.g", "1"))
                break
            self.assertLess(time.monotonic(), deadline, "interest of closed client never removed")
            time.sleep(0.05)
        # the remaining queue member gets every message
        c.send(b"".join(b"PUB gone.q 1\r\n%d\r\n" % (i % 10) for i in range(50)))
        c.ping()
        self.assertEqual(len(keep.ping()), 50)

    def test_fanout_to_many_connections(self):
        subs = [self.connected() for _ in range(50)]
        for i, c in enumerate(subs):
            c.send(b"SUB fan.t %d\r\n" % (i + 1))
            c.ping()
        p = self.connected()
        payload = b"z" * 20000
        p.send(b"".join(b"PUB fan.t %d\r\n%s\r\n" % (len(payload), payload) for _ in range(20)))
        p.ping()
        for i, c in enumerate(subs):
            frames = c.ping(timeout=10)
            self.assertEqual(len(frames), 20, "subscriber %d" % i)
            self.assertTrue(all(f[4] == payload and f[2] == str(i + 1) for f in frames))

    def test_concurrent_publishers_per_publisher_order(self):
        s = self.connected()
        s.send(b"SUB mp.* 1\r\n")
        s.ping()
        pubs = [self.connected() for _ in range(4)]
        N = 3000
        bodies = [b"".join(b"PUB mp.%d %d\r\n%d\r\n" % (k, len(str(i)), i) for i in range(N)) for k in range(4)]
        threads = [threading.Thread(target=p.send, args=(b,)) for p, b in zip(pubs, bodies)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        for p in pubs:
            p.ping(timeout=20)
        frames = s.ping(timeout=20)
        self.assertEqual(len(frames), 4 * N)
        per = {}
        for f in frames:
            per.setdefault(f[1], []).append(int(f[4]))
        for k in range(4):
            self.assertEqual(per["mp.%d" % k], list(range(N)), "publisher %d out of order" % k)

    def test_connect_json_unknown_and_nested_fields(self):
        c = self.client()
        c.read_info()
        c.send(b'CONNECT {"verbose":false,"name":"\\u00e9x \\"q\\"","foo":{"bar":[1,2,{"z":null}]},'
               b'"protocol":1,"echo":true,"lang":"raw","version":"9.9.9","future_field":true}\r\nPING\r\n')
        self.assertEqual(c.read_line(), b"PONG\r\n")
        c.send(b"SUB cj 1\r\nPUB cj 1\r\nx\r\n")
        self.assertEqual(c.ping(), [("MSG", "cj", "1", None, b"x")])

    def test_bad_payload_size_closes(self):
        for bad in (b"PUB foo -1\r\n", b"PUB foo abc\r\n"):
            c = self.connected()
            c.send(bad + b"PING\r\n")
            data = c.read_until_closed(5)
            self.assertNotIn(b"PONG", data, bad)

    def test_non_numeric_sid(self):
        c = self.connected()
        c.send(b"SUB sidtok abc\r\nPUB sidtok 1\r\nx\r\nUNSUB abc\r\nPUB sidtok 1\r\ny\r\n")
        self.assertEqual(c.ping(), [("MSG", "sidtok", "abc", None, b"x")])

    def test_unsub_max_zero_unsubscribes(self):
        c = self.connected()
        c.send(b"SUB u0 1\r\nUNSUB 1 0\r\nPUB u0 1\r\nx\r\n")
        self.assertEqual(c.ping(), [])

    def test_pipelined_pings(self):
        c = self.connected()
        c.send(b"PING\r\n" * 10000)
        for i in range(10000):
            self.assertEqual(c.read_line(timeout=10), b"PONG\r\n", i)
        self.assertEqual(c.ping(), [])

    def test_no_delivery_after_unsub_pong_under_load(self):
        # A publisher floods from another connection (another server thread);
        # once the PONG that follows an UNSUB arrives, nothing more may arrive
        # for that sid.
        pub = self.connected()
        stop = threading.Event()

        def flood():
            batch = b"PUB race.t 1\r\nx\r\n" * 200
            while not stop.is_set():
                try:
                    pub.send(batch)
                except OSError:
                    return

        th = threading.Thread(target=flood, daemon=True)
        th.start()
        try:
            sub = self.connected()
            for sid in range(1, 6):
                sub.send(b"SUB race.t %d\r\n" % sid)
                deadline = time.monotonic() + 5
                while True:  # wait until deliveries flow
                    f = sub.read_frame(timeout=5)
                    if f[0] == "MSG" and f[2] == str(sid):
                        break
                    self.assertLess(time.monotonic(), deadline)
                sub.send(b"UNSUB %d\r\nPING\r\n" % sid)
                sub.read_through_pong(timeout=10)
                sub.send(b"PING\r\n")
                after = sub.read_through_pong(timeout=10)
                self.assertEqual([f for f in after if f[0] == "MSG"], [], "delivery after UNSUB+PONG (sid %d)" % sid)
        finally:
            stop.set()
            th.join(5)

class ConfiguredServerTest(unittest.TestCase):
    """Tests that each need their own server config."""

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def client(self, srv, **kw):
        c = RawClient(srv.port, **kw)
        self.clients.append(c)
        return c

    def test_max_payload_violation(self):
        with running_server(config="max_payload: 1024\n") as srv:
            c = self.client(srv)
            info = c.handshake()
            self.assertEqual(info["max_payload"], 1024)
            c.send(b"SUB mp 1\r\nPUB mp 1024\r\n" + b"x" * 1024 + b"\r\n")
            f = c.ping()
            self.assertEqual(len(f), 1)
            self.assertEqual(len(f[0][4]), 1024)
            c.send(b"PUB mp 1025\r\n")
            data = c.read_until_closed(5)
            self.assertIn(b"-ERR 'Maximum Payload Violation'\r\n", data)
            # HPUB: the total size is what counts
            h = self.client(srv)
            h.handshake(headers=True)
            h.send(b"HPUB mp 12 1100\r\n")
            data = h.read_until_closed(5)
            self.assertIn(b"-ERR 'Maximum Payload Violation'\r\n", data)

    def test_config_file_port_and_comments(self):
        conf = ("# comment\n// another comment\nport: {port}\n"
                "max_payload = 4096\nping_interval: \"30s\"\n")
        with running_server(config=conf, cli_port=False) as srv:
            c = self.client(srv)
            info = c.handshake()
            self.assertEqual(info["max_payload"], 4096)
            c.send(b"SUB cf 1\r\nPUB cf 2\r\nok\r\n")
            self.assertEqual(c.ping(), [("MSG", "cf", "1", None, b"ok")])

    def test_monitoring_reflects_clients(self):
        mport = free_port()
        with running_server(args=["-m", str(mport)]) as srv:
            def get(path):
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (mport, path), timeout=5) as r:
                    self.assertEqual(r.status, 200)
                    return json.load(r)

            deadline = time.monotonic() + 5
            while True:  # the monitoring listener may come up just after the client port
                try:
                    self.assertEqual(get("/healthz").get("status"), "ok")
                    break
                except (OSError, urllib.error.URLError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            a = self.client(srv)
            info = a.handshake(name="mon-a", lang="python-raw", version="1.2.3")
            b = self.client(srv)
            b.handshake(name="mon-b")
            a.send(b"SUB mon.x 1\r\nSUB mon.y 2\r\n")
            a.ping()
            b.send(b"PUB mon.x 5\r\nhello\r\nPUB mon.y 3\r\nabc\r\n")
            b.ping()
            self.assertEqual(len(a.ping()), 2)
            varz = get("/varz")
            self.assertEqual(varz["server_id"], info["server_id"])
            self.assertEqual(varz["connections"], 2)
            self.assertGreaterEqual(varz["in_msgs"], 2)
            self.assertGreaterEqual(varz["out_msgs"], 2)
            self.assertGreaterEqual(varz["in_bytes"], 8)
            connz = get("/connz?subs=1")
            self.assertEqual(connz["num_connections"], 2)
            byname = {c.get("name"): c for c in connz["connections"]}
            self.assertEqual(set(byname), {"mon-a", "mon-b"})
            ca, cb = byname["mon-a"], byname["mon-b"]
            self.assertEqual(ca["lang"], "python-raw")
            self.assertEqual(ca["version"], "1.2.3")
            self.assertEqual(ca["subscriptions"], 2)
            self.assertEqual(sorted(ca["subscriptions_list"]), ["mon.x", "mon.y"])
            self.assertEqual((ca["out_msgs"], ca["out_bytes"]), (2, 8))
            self.assertEqual((cb["in_msgs"], cb["in_bytes"]), (2, 8))
            if "client_id" in info:
                self.assertEqual(ca["cid"], info["client_id"])
            self.assertGreaterEqual(get("/subsz")["num_subscriptions"], 2)
            # a closed client disappears from /connz (bounded wait)
            b.close()
            deadline = time.monotonic() + 5
            while get("/connz")["num_connections"] != 1:
                self.assertLess(time.monotonic(), deadline, "closed connection still listed")
                time.sleep(0.05)

    def test_max_control_line_config(self):
        with running_server(config="max_control_line: 256\n") as srv:
            c = self.client(srv)
            c.handshake()
            c.send(b"SUB " + b"a" * 200 + b" 1\r\n")
            self.assertEqual(c.ping(), [])
            c.send(b"SUB " + b"a" * 300 + b" 2\r\n")
            data = c.read_until_closed(5)
            self.assertIn(b"-ERR 'maximum control line exceeded'\r\n", data)

    def test_auth_token_violation(self):
        with running_server(args=["--auth", "tok3n"]) as srv:
            ok = self.client(srv)
            info = ok.handshake(auth_token="tok3n")
            self.assertIs(info.get("auth_required"), True)
            bad = self.client(srv)
            bad.read_info()
            bad.send(b'CONNECT {"verbose":false,"auth_token":"nope"}\r\nPING\r\n')
            data = bad.read_until_closed(5)
            self.assertIn(b"-ERR 'Authorization Violation'\r\n", data)
            self.assertNotIn(b"PONG", data)
            missing = self.client(srv)
            missing.read_info()
            missing.send(b'CONNECT {"verbose":false}\r\nPING\r\n')
            self.assertIn(b"-ERR 'Authorization Violation'\r\n", missing.read_until_closed(5))
            # an op other than CONNECT first
            first = self.client(srv)
            first.read_info()
            first.send(b"SUB foo 1\r\n")
            self.assertIn(b"-ERR 'Authorization Violation'\r\n", first.read_until_closed(5))

    def test_auth_non_connect_first_byte_fails_at_once(self):
        # while auth is required, nats-server answers the first byte of an op
        # that cannot be CONNECT, before any line end; a bad op starting
        # with 'C' is an unknown operation
        with running_server(args=["--auth", "tok3n"]) as srv:
            for data, text in ((b"xyz", b"Authorization Violation"), (b"\0", b"Authorization Violation"),
                               (b"PX", b"Authorization Violation"), (b"SUB foo", b"Authorization Violation"),
                               (b"CX", b"Unknown Protocol Operation")):
                c = self.client(srv)
                c.read_info()
                c.send(data)
                self.assertEqual(c.read_until_closed(5), b"-ERR '" + text + b"'\r\n", data)
            ok = self.client(srv)
            ok.handshake(auth_token="tok3n")
            ok.send(b"\0")
            self.assertEqual(ok.read_until_closed(5), b"-ERR 'Unknown Protocol Operation'\r\n")

    def test_auth_user_pass_violation(self):
        with running_server(config='authorization {\n  user: "u"\n  password: "p"\n}\n') as srv:
            ok = self.client(srv)
            ok.handshake(user="u", **{"pass": "p"})
            bad = self.client(srv)
            bad.read_info()
            bad.send(b'CONNECT {"verbose":false,"user":"u","pass":"x"}\r\nPING\r\n')
            data = bad.read_until_closed(5)
            self.assertIn(b"-ERR 'Authorization Violation'\r\n", data)
            self.assertNotIn(b"PONG", data)

    def test_authentication_timeout(self):
        with running_server(config='authorization {\n  token: "t"\n  timeout: 1\n}\n') as srv:
            c = self.client(srv)
            c.read_info()
            t0 = time.monotonic()
            data = c.read_until_closed(6)
            el = time.monotonic() - t0
            self.assertEqual(data, b"-ERR 'Authentication Timeout'\r\n")
            self.assertGreater(el, 0.7)
            self.assertLess(el, 4.0)
            # authenticating in time keeps the connection beyond the timeout
            ok = self.client(srv)
            ok.handshake(auth_token="t")
            time.sleep(1.5)
            self.assertEqual(ok.ping(), [])

    def test_stale_connection(self):
        with running_server(config='ping_interval: "1s"\nping_max: 1\n') as srv:
            c = self.client(srv)
            c.handshake()
            t0 = time.monotonic()
            data = c.read_until_closed(10)
            el = time.monotonic() - t0
            self.assertTrue(data.startswith(b"PING\r\n"), data)
            self.assertTrue(data.endswith(b"-ERR 'Stale Connection'\r\n"), data)
            self.assertLess(el, 8)

    def test_server_ping_answered_keeps_connection(self):
        with running_server(config='ping_interval: "1s"\nping_max: 1\n') as srv:
            c = self.client(srv)
            c.handshake()
            pings = 0
            end = time.monotonic() + 3.5
            while time.monotonic() < end:
                try:
                    f = c.read_frame(timeout=max(0.05, end - time.monotonic()))
                except socket.timeout:
                    break
                if f == ("PING",):
                    pings += 1
                    c.send(b"PONG\r\n")
                else:
                    self.fail("unexpected frame %r" % (f,))
            self.assertGreaterEqual(pings, 2)
            self.assertEqual(c.ping(), [])

    def test_max_connections(self):
        with running_server(config="max_connections: 2\n") as srv:
            # the readiness probe's connection may still count for a moment:
            # retry (bounded) until two clients are in
            def admitted():
                deadline = time.monotonic() + 5
                while True:
                    x = self.client(srv)
                    try:
                        x.handshake()
                        return x
                    except (Closed, AssertionError, OSError):
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)

            a = admitted()
            b = admitted()
            c = self.client(srv)
            data = c.read_until_closed(5)
            self.assertTrue(data.startswith(b"INFO "), data)
            self.assertTrue(data.endswith(b"-ERR 'maximum connections exceeded'\r\n"), data)
            self.assertEqual(a.ping(), [])
            a.close()
            # a slot frees up after a client leaves (bounded wait)
            admitted()

    def test_slow_consumer_disconnected_others_unaffected(self):
        conf = 'max_pending: 1048576\nwrite_deadline: "1s"\n'
        mport = free_port()
        with running_server(config=conf, args=["-m", str(mport)]) as srv:
            slow = self.client(srv, rcvbuf=4096)
            slow.handshake()
            slow.send(b"SUB sc.t 1\r\nPING\r\n")
            self.assertEqual(slow.read_line(), b"PONG\r\n")
            healthy = self.client(srv)
            healthy.handshake()
            healthy.send(b"SUB sc.t 1\r\nPING\r\n")
            self.assertEqual(healthy.read_line(), b"PONG\r\n")
            N, size = 30, 500000
            got = {"n": 0, "err": None}

            def reader():
                try:
                    while got["n"] < N:
                        f = healthy.read_frame(timeout=30)
                        if f[0] == "MSG":
                            assert len(f[4]) == size
                            got["n"] += 1
                except Exception as e:  # noqa: BLE001
                    got["err"] = e

            th = threading.Thread(target=reader, daemon=True)
            th.start()
            pub = self.client(srv, timeout=30)
            pub.handshake()
            payload = b"y" * size
            t0 = time.monotonic()
            for _ in range(N):
                pub.send(b"PUB sc.t %d\r\n%s\r\n" % (size, payload))
            self.assertEqual(pub.ping(timeout=30), [])
            # the never-reading client is cut off (no -ERR required)
            slow.read_until_closed(15)
            th.join(30)
            self.assertIsNone(got["err"])
            self.assertEqual(got["n"], N)
            self.assertLess(time.monotonic() - t0, 30)
            # publisher and new clients still work
            pub.send(b"SUB after 1\r\nPUB after 2\r\nok\r\n")
            self.assertEqual(pub.ping(), [("MSG", "after", "1", None, b"ok")])
            # /varz counts the slow consumer
            with urllib.request.urlopen("http://127.0.0.1:%d/varz" % mport, timeout=5) as r:
                self.assertGreaterEqual(json.load(r).get("slow_consumers", 0), 1)


if __name__ == "__main__":
    harness.unittest_main("protocol tests")
