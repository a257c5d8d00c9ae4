#!/usr/bin/env python3
"""heraldctl stream backup / stream restore against a real 3-node JetStream
cluster with the admin listener on every node:

* an R3 stream with 100,000 messages published with JetStream acks
  (pipelined, varied subjects, a third with headers), backed up through a
  node that is not its leader, deleted, restored through another node:
  every message (sequence, subject, headers, data) as published, and
  first/last sequence and count in `stream info --json`;
* restore onto an existing name: exit 1, ALREADY_EXISTS;
* restore of a file with a damaged byte: exit 1, DATA_LOSS, no stream left;
* restore --name S2: a second copy with the same messages.

Prints the measured backup and restore times.

Usage: SERVER_BIN=/path/to/herald HERALDCTL=/path/to/heraldctl \\
       python3 tests/admin/backup_test.py [-k pattern]
Prints "RESULT passed=N failed=M" at the end. Every process listens on
127.0.0.1 only; every wait is bounded in time.
"""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from admin_test import (HERALDCTL, SERVER_BIN, TOKEN, ClusterCase, Result, Run)  # noqa: E402

COUNT = 100000
WINDOW = 5000  # publishes in flight at most


class Conn:
    """A raw NATS protocol connection on 127.0.0.1 that parses MSG/HMSG in
    bulk (the helpers of admin_test.py parse one item at a time)."""

    def __init__(self, port, name):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = bytearray()
        self.pos = 0
        deadline = time.monotonic() + 5
        while b"\r\n" not in self.buf:
            self.fill(deadline)
        if not self.buf.startswith(b"INFO "):
            raise AssertionError("no INFO: %r" % bytes(self.buf[:200]))
        self.pos = self.buf.index(b"\r\n") + 2
        connect = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1,
                   "name": name}
        self.s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")

    def fill(self, deadline):
        """Reads what has come (waits at most 0.5 s); fails at the deadline or
        when the connection closes."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out; buffer tail %r" % bytes(self.buf[-300:]))
        self.s.settimeout(min(left, 0.5))
        try:
            d = self.s.recv(1 << 20)
        except socket.timeout:
            return
        if not d:
            raise AssertionError("connection closed; buffer tail %r" % bytes(self.buf[-300:]))
        self.buf += d

    def messages(self):
        """Every complete message in the buffer: (subject, reply, headers, data)."""
        out = []
        buf = self.buf
        pos = self.pos
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                break
            line = bytes(buf[pos:nl])
            if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                parts = line.split()
                hmsg = parts[0] == b"HMSG"
                total = int(parts[-1])
                hlen = int(parts[-2]) if hmsg else 0
                reply = parts[3].decode() if len(parts) == (6 if hmsg else 5) else ""
                if len(buf) < nl + 2 + total + 2:
                    break
                payload = bytes(buf[nl + 2:nl + 2 + total])
                out.append((parts[1].decode(), reply, payload[:hlen], payload[hlen:]))
                pos = nl + 2 + total + 2
                continue
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise AssertionError("server error: %r" % line)
            pos = nl + 2  # PONG, +OK, INFO
        if pos > (1 << 20):
            del buf[:pos]
            pos = 0
        self.pos = pos
        return out

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def message(i):
    """The i-th published message: subject, headers block (b"" for none), data."""
    subject = "bk.%d.%s" % (i % 7, "x" if i % 2 else "y.z")
    data = (b"payload-%d-" % i) + bytes((i * 31 + k) % 256 for k in range(i % 41))
    headers = b""
    if i % 3 == 0:
        headers = b"NATS/1.0\r\nX-Index: %d\r\nX-Kind: k%d\r\n\r\n" % (i, i % 5)
    return subject, headers, data


class BackupTest(ClusterCase):
    """One test: the steps depend on each other (the stream, its backup)."""

    def ctl_long(self, node, *args, timeout=120):
        argv = [HERALDCTL, "--server", node.admin, "--token", TOKEN] + list(args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_ADMIN")}
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)

    def publish_all(self, port):
        """Publishes COUNT messages with acks, WINDOW in flight; the
        published message of each acknowledged sequence."""
        c = Conn(port, "bk-pub")
        try:
            c.s.sendall(b"SUB _INBOX.bkp.* 1\r\nPING\r\n")
            by_seq = {}
            sent = acked = 0
            deadline = time.monotonic() + 60
            while acked < COUNT:
                if sent < COUNT and sent - acked < WINDOW:
                    out = []
                    for i in range(sent, min(COUNT, sent + 1000)):
                        subject, headers, data = message(i)
                        reply = b"_INBOX.bkp.%d" % i
                        if headers:
                            out.append(b"HPUB %s %s %d %d\r\n%s%s\r\n" % (
                                subject.encode(), reply, len(headers), len(headers) + len(data),
                                headers, data))
                        else:
                            out.append(b"PUB %s %s %d\r\n%s\r\n" % (
                                subject.encode(), reply, len(data), data))
                    c.s.sendall(b"".join(out))
                    sent += len(out)
                    continue
                c.fill(deadline)
                for subject, _, _, data in c.messages():
                    ack = json.loads(data)
                    self.assertNotIn("error", ack, ack)
                    self.assertEqual(ack["stream"], "BK", ack)
                    i = int(subject.rsplit(".", 1)[1])
                    self.assertNotIn(ack["seq"], by_seq, ack)
                    by_seq[ack["seq"]] = message(i)
                    acked += 1
            return by_seq
        finally:
            c.close()

    def read_all(self, stream, port, count):
        """Every message of the stream through a push consumer without acks:
        {stream sequence: (subject, headers, data)}."""
        deliver = "bkout.%s" % stream
        c = Conn(port, "bk-read-" + stream)
        try:
            c.s.sendall(b"SUB %s 1\r\nPING\r\n" % deliver.encode())
            deadline = time.monotonic() + 5
            while b"PONG" not in c.buf:
                c.fill(deadline)
            r = self.ctl("consumer", "add", stream, "READER", "--push", deliver, "--ack", "none",
                         "--json")
            self.assertEqual(r.rc, 0, r)
            got = {}
            deadline = time.monotonic() + 60
            while len(got) < count:
                c.fill(deadline)
                for subject, reply, headers, data in c.messages():
                    # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
                    tokens = reply.split(".")
                    self.assertEqual(tokens[:2], ["$JS", "ACK"], (subject, reply, data[:40]))
                    seq = int(tokens[-4])
                    self.assertNotIn(seq, got, reply)
                    got[seq] = (subject, headers, data)
            r = self.ctl("consumer", "rm", stream, "READER")
            self.assertEqual(r.rc, 0, r)
            return got
        finally:
            c.close()

    def assert_same(self, stream, got, want):
        self.assertEqual(len(got), len(want), stream)
        bad = [s for s in want if got.get(s) != want[s]]
        self.assertEqual(bad[:5], [], "%s: %d messages differ, e.g. seq %s: got %r want %r" % (
            stream, len(bad), bad[:1], got.get(bad[0]) if bad else None,
            want[bad[0]] if bad else None))

    def assert_info(self, stream, node):
        info = self.ok_json("stream", "info", stream, node=node)
        self.assertEqual(info["messages"], str(COUNT), info)
        self.assertEqual(info["first_seq"], "1", info)
        self.assertEqual(info["last_seq"], str(COUNT), info)
        return info

    def test_backup_rm_restore_100k(self):
        r = self.ctl("stream", "add", "BK", "--subjects", "bk.>", "--replicas", "3", "--json")
        self.assertEqual(r.rc, 0, r)
        self.addCleanup(lambda: self.ctl("stream", "rm", "BK"))
        self.addCleanup(lambda: self.ctl("stream", "rm", "S2"))

        t0 = time.monotonic()
        want = self.publish_all(self.nodes[0].client_port)
        print("\npublished %d messages with acks in %.1fs" % (COUNT, time.monotonic() - t0))
        self.assertEqual(sorted(want), list(range(1, COUNT + 1)))
        self.assert_info("BK", 0)

        leader = self.leader_of("BK")
        others = [i for i, n in enumerate(self.nodes) if n.name != leader]
        self.assertEqual(len(others), 2, leader)
        via_backup, via_restore = others
        path = os.path.join(self.root, "bk.bak")

        r = self.ctl_long(self.nodes[via_backup], "stream", "backup", "BK", path, "--json")
        self.assertEqual(r.rc, 0, r)
        backup_s = r.seconds
        size = os.path.getsize(path)
        self.assertFalse(os.path.exists(path + ".tmp"))
        self.assertEqual(r.json(), {"stream": "BK", "file": path, "messages": COUNT,
                                    "bytes": size})
        self.assertIn("[%d/%d] messages" % (COUNT, COUNT), r.err)
        print("backup of %d messages (%.1f MB) through %s (leader %s): %.2fs" % (
            COUNT, size / 1e6, self.nodes[via_backup].name, leader, backup_s))

        r = self.ctl("stream", "rm", "BK")
        self.assertEqual(r.rc, 0, r)
        r = self.ctl_long(self.nodes[via_restore], "stream", "restore", path, "--json")
        self.assertEqual(r.rc, 0, r)
        print("restore through %s: %.2fs" % (self.nodes[via_restore].name, r.seconds))
        op = r.json()  # the restore operation, as it ended
        self.assertEqual(op["kind"], "restore_stream", op)
        self.assertEqual(op["target"], "BK", op)
        self.assertEqual(op["state"], "done", op)
        self.assertEqual(op["steps_done"], COUNT, op)
        self.assertEqual(op["node"], self.nodes[via_restore].name, op)
        self.assertIn("[%d/%d] done" % (COUNT, COUNT), r.err)
        self.assertRegex(r.err, r"\[\d+/%d\] restored \d+ of %d messages into BK" % (COUNT, COUNT))
        r = self.ctl("stream", "info", "BK", "--json")
        self.assertEqual(r.rc, 0, r)
        restored = r.json()
        self.assertEqual(restored["name"], "BK", restored)
        self.assertEqual(restored["messages"], str(COUNT), restored)
        self.assertEqual(restored["last_seq"], str(COUNT), restored)
        self.assert_info("BK", via_backup)

        t0 = time.monotonic()
        self.assert_same("BK", self.read_all("BK", self.nodes[via_restore].client_port, COUNT),
                         want)
        print("read back and compared %d messages in %.1fs" % (COUNT, time.monotonic() - t0))

        # Onto an existing name: refused, the stream untouched.
        r = self.ctl_long(self.nodes[0], "stream", "restore", path)
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.splitlines()[-1].startswith("heraldctl: ALREADY_EXISTS: "), r)
        self.assert_info("BK", 0)

        # A damaged byte in a message's data: DATA_LOSS, nothing left behind.
        with open(path, "rb") as f:
            data = bytearray(f.read())
        at = data.find(b"payload-%d-" % (COUNT // 2))
        self.assertGreater(at, 0)
        data[at + 3] ^= 0x20
        damaged = path + ".damaged"
        with open(damaged, "wb") as f:
            f.write(data)
        r = self.ctl("stream", "rm", "BK")
        self.assertEqual(r.rc, 0, r)
        r = self.ctl_long(self.nodes[via_restore], "stream", "restore", damaged)
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.splitlines()[-1].startswith("heraldctl: DATA_LOSS: "), r)
        r = self.ctl("stream", "info", "BK")
        self.assertEqual(r.rc, 1, r)
        self.assertTrue(r.err.startswith("heraldctl: NOT_FOUND: "), r)
        self.assertEqual(self.ok_json("stream", "ls")["streams"], [])

        # Under another name: a second copy with the same messages.
        r = self.ctl_long(self.nodes[via_backup], "stream", "restore", path, "--name", "S2")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("Stream S2 restored from", r.out)
        print("restore as S2 through %s: %.2fs" % (self.nodes[via_backup].name, r.seconds))
        self.assert_info("S2", via_restore)
        self.assert_same("S2", self.read_all("S2", self.nodes[0].client_port, COUNT), want)

        # Unreadable file: a usage error before any RPC.
        r = self.ctl("stream", "restore", os.path.join(self.root, "missing.bak"))
        self.assertEqual(r.rc, 2, r)


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
