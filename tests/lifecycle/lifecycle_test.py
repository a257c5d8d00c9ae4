#!/usr/bin/env python3
"""Signals and operations on a real herald process (or nats-server, for
comparison): SIGHUP reload (auth and limits), SIGUSR2 lame duck (async INFO
with ldm, then clients closed, process exits), SIGTERM graceful shutdown,
a cluster peer's lame duck removing its URL from connect_urls.

Usage: SERVER_BIN=/path/to/herald python3 lifecycle_test.py [-k pattern]
Prints "RESULT passed=N failed=M" at the end.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SERVER_BIN = os.environ.get("SERVER_BIN", "")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, timeout=5.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


class Server:
    def __init__(self, args, conf=None):
        self.dir = tempfile.mkdtemp(prefix="herald-life-")
        self.port = free_port()
        self.conf = None
        argv = [SERVER_BIN, "-a", "127.0.0.1", "-p", str(self.port)]
        if conf is not None:
            self.conf = os.path.join(self.dir, "s.conf")
            with open(self.conf, "w") as f:
                f.write(conf)
            argv += ["-c", self.conf]
        argv += args
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        ok = wait_for(self._accepting, 5)
        if not ok:
            self.stop()
            raise RuntimeError("server did not start: " + self.logtext())

    def _accepting(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def rewrite(self, conf):
        with open(self.conf, "w") as f:
            f.write(conf)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def logtext(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()[-4000:]
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

    def flush(self, timeout=3):
        """PING and wait for its PONG (all earlier PONGs are consumed first)."""
        self.expect(b"PONG\r\n", timeout)
        self.buf = self.buf.replace(b"PONG\r\n", b"")
        self.s.sendall(b"PING\r\n")
        return self.expect(b"PONG\r\n", timeout)

    def closed(self, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.fill(0.1):
                return True
        return False


class LifecycleTest(unittest.TestCase):
    def test_sighup_reload_changes_auth_and_closes_revoked(self):
        conf = 'authorization { users: [ {user: a, password: pa}, {user: b, password: pb} ] }\n'
        srv = Server([], conf)
        try:
            a = Client(srv.port, {"user": "a", "pass": "pa"})
            self.assertTrue(a.expect(b"PONG\r\n"))
            b = Client(srv.port, {"user": "b", "pass": "pb"})
            self.assertTrue(b.expect(b"PONG\r\n"))
            # Remove b, rotate a's password: a (old credential still listed? no) -> see below
            srv.rewrite('authorization { users: [ {user: a, password: pa}, {user: c, password: pc} ] }\n')
            srv.signal(signal.SIGHUP)
            # b's credentials are gone: closed promptly with Authorization Violation.
            t0 = time.monotonic()
            self.assertTrue(b.expect(b"-ERR 'Authorization Violation'"), b.buf)
            self.assertTrue(b.closed(3))
            self.assertLess(time.monotonic() - t0, 2.0)
            # a keeps working.
            a.s.sendall(b"SUB x 1\r\nPUB x 2\r\nhi\r\nPING\r\n")
            self.assertTrue(a.expect(b"MSG x 1 2\r\nhi\r\n"))
            # c can now log in, b cannot.
            c = Client(srv.port, {"user": "c", "pass": "pc"})
            self.assertTrue(c.expect(b"PONG\r\n"))
            b2 = Client(srv.port, {"user": "b", "pass": "pb"})
            self.assertTrue(b2.expect(b"-ERR 'Authorization Violation'"))
        finally:
            srv.stop()

    def test_sighup_reload_changes_max_payload(self):
        srv = Server([], "max_payload: 1000\n")
        try:
            self.assertEqual(Client(srv.port).info["max_payload"], 1000)
            srv.rewrite("max_payload: 2000\n")
            srv.signal(signal.SIGHUP)
            ok = wait_for(lambda: Client(srv.port).info["max_payload"] == 2000, 3, 0.1)
            self.assertTrue(ok)
            c = Client(srv.port)
            c.s.sendall(b"SUB big 1\r\nPUB big 1500\r\n" + b"x" * 1500 + b"\r\nPING\r\n")
            self.assertTrue(c.expect(b"MSG big 1 1500\r\n"))
        finally:
            srv.stop()

    def test_bad_reload_keeps_running_config(self):
        srv = Server([], "max_payload: 1000\n")
        try:
            srv.rewrite("max_payload: [[[\n")
            srv.signal(signal.SIGHUP)
            time.sleep(0.3)
            self.assertIsNone(srv.proc.poll())
            self.assertEqual(Client(srv.port).info["max_payload"], 1000)
        finally:
            srv.stop()

    def test_sigusr2_lame_duck(self):
        conf = 'lame_duck_grace_period: "1s"\nlame_duck_duration: "30s"\n'
        srv = Server([], conf)
        try:
            c = Client(srv.port)
            self.assertTrue(c.expect(b"PONG\r\n"))
            srv.signal(signal.SIGUSR2)
            self.assertTrue(c.expect(b'"ldm":true'), c.buf)
            # New clients are refused while in lame duck.
            refused = wait_for(lambda: not srv._accepting(), 2)
            self.assertTrue(refused)
            # The client is closed after the grace period and the process exits.
            self.assertTrue(c.closed(8))
            srv.proc.wait(10)
            self.assertEqual(srv.proc.returncode, 0)
        finally:
            srv.stop()

    def test_sigterm_graceful_flushes_and_exits(self):
        srv = Server([])
        try:
            sub = Client(srv.port)
            pub = Client(srv.port)
            sub.s.sendall(b"SUB z 1\r\n")
            self.assertTrue(sub.flush())
            pub.s.sendall(b"PUB z 3\r\nabc\r\n")
            self.assertTrue(pub.flush())
            srv.signal(signal.SIGTERM)
            self.assertTrue(sub.expect(b"MSG z 1 3\r\nabc\r\n"))
            self.assertTrue(sub.closed(5))
            srv.proc.wait(10)
            self.assertEqual(srv.proc.returncode, 0)
        finally:
            srv.stop()

    def test_sigterm_after_stream_snapshots_exits_cleanly(self):
        # Streams that took snapshots (a pinned RocksDB view each), one of
        # them deleted and re-created: the process still exits with 0.
        if "nats-server" in os.path.basename(SERVER_BIN):
            self.skipTest("raft_snapshot_every is Herald's own key")
        store = tempfile.mkdtemp(prefix="herald-life-js-")
        conf = ('jetstream { store_dir: "%s", raft_snapshot_every: 50, '
                'raft_snapshot_keep: 10 }\n' % store)
        srv = Server([], conf)
        try:
            c = Client(srv.port)
            self.assertTrue(c.expect(b"PONG\r\n"))
            c.s.sendall(b"SUB _INBOX.> 1\r\n")

            def request(subject, body, needle):
                c.buf = b""
                c.s.sendall(b"PUB %s _INBOX.req %d\r\n%s\r\n" % (subject, len(body), body))
                self.assertTrue(c.expect(needle, 10), c.buf)

            create = b'{"name":"S","subjects":["s.>"],"num_replicas":1}'
            for round_ in range(2):
                request(b"$JS.API.STREAM.CREATE.S", create, b'"did_create":true')
                c.buf = b""
                for i in range(120):
                    c.s.sendall(b"PUB s.x _INBOX.ack.%d 1\r\nx\r\n" % i)
                self.assertTrue(c.expect(b'"seq":120', 10), c.buf[-300:])
                if round_ == 0:
                    request(b"$JS.API.STREAM.DELETE.S", b"", b'"success":true')
            srv.signal(signal.SIGTERM)
            srv.proc.wait(10)
            self.assertEqual(srv.proc.returncode, 0, srv.logtext())
        finally:
            srv.stop()
            shutil.rmtree(store, ignore_errors=True)

    def test_cluster_peer_lame_duck_drops_its_url(self):
        r1, r2 = free_port(), free_port()
        conf = 'lame_duck_grace_period: "5s"\n'
        a = Server(["-n", "a", "--cluster", "nats://127.0.0.1:%d" % r1, "--cluster_name", "L",
                    "--routes", "nats://127.0.0.1:%d" % r1], conf)
        b = Server(["-n", "b", "--cluster", "nats://127.0.0.1:%d" % r2, "--cluster_name", "L",
                    "--routes", "nats://127.0.0.1:%d" % r1], conf)
        try:
            b_url = "127.0.0.1:%d" % b.port
            ok = wait_for(lambda: b_url in Client(a.port).info.get("connect_urls", []), 5, 0.1)
            self.assertTrue(ok, "a never learned b's client URL")
            c = Client(a.port)
            self.assertTrue(c.expect(b"PONG\r\n"))
            b.signal(signal.SIGUSR2)
            # a's client gets an async INFO without b's URL.
            def dropped():
                while b"INFO " in c.buf:
                    i = c.buf.index(b"INFO ")
                    j = c.buf.index(b"\r\n", i) if b"\r\n" in c.buf[i:] else -1
                    if j < 0:
                        return False
                    info = json.loads(c.buf[i + 5:j])
                    c.buf = c.buf[j + 2:]
                    if b_url not in info.get("connect_urls", [b_url]):
                        return True
                c.fill(0.1)
                return False
            self.assertTrue(wait_for(dropped, 5, 0.01))
        finally:
            b.stop()
            a.stop()


def make_certs(dir):
    """CA, a node certificate for 127.0.0.1, and one signed by another CA (openssl CLI)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=dir, check=True, capture_output=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "otherca"):
        run("req", "-x509", *key, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "3",
            "-subj", "/CN=" + ca)
    for name, signer in (("node", "ca"), ("rogue", "otherca")):
        run("req", *key, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        with open(os.path.join(dir, name + ".ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("x509", "-req", "-in", name + ".csr", "-CA", signer + ".pem", "-CAkey", signer + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "3", "-extfile", name + ".ext")


def cross_node_delivery(port_a, port_b, subject, timeout=8.0):
    """True once a message published on A reaches a subscriber on B."""
    sub = Client(port_b)
    if not sub.expect(b"PONG\r\n"):
        return False
    sub.s.sendall(b"SUB " + subject + b" 1\r\n")
    sub.flush()
    pub = Client(port_a)
    pub.expect(b"PONG\r\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pub.s.sendall(b"PUB " + subject + b" 2\r\nok\r\n")
        if sub.expect(b"MSG " + subject, 0.2):
            return True
    return False


class ClusterTlsTest(unittest.TestCase):
    def test_routes_mutual_tls(self):
        d = tempfile.mkdtemp(prefix="herald-ctls-")
        try:
            make_certs(d)
        except (OSError, subprocess.CalledProcessError):
            self.skipTest("openssl CLI not available")
        r1, r2, r3 = free_port(), free_port(), free_port()
        def conf(cert):
            return ('cluster {\n  name: T\n  tls {\n    cert_file: "%s/%s.pem"\n'
                    '    key_file: "%s/%s.key"\n    ca_file: "%s/ca.pem"\n    timeout: 2\n  }\n}\n'
                    % (d, cert, d, cert, d))
        a = Server(["-n", "a", "--cluster", "nats://127.0.0.1:%d" % r1,
                    "--routes", "nats://127.0.0.1:%d" % r1], conf("node"))
        b = Server(["-n", "b", "--cluster", "nats://127.0.0.1:%d" % r2,
                    "--routes", "nats://127.0.0.1:%d" % r1], conf("node"))
        rogue = None
        plain = None
        try:
            self.assertTrue(cross_node_delivery(a.port, b.port, b"tls.ab"),
                            "no traffic over the TLS route: " + b.logtext())
            # A node whose certificate another CA signed is refused.
            rogue = Server(["-n", "r", "--cluster", "nats://127.0.0.1:%d" % r3,
                            "--routes", "nats://127.0.0.1:%d" % r1], conf("rogue"))
            self.assertFalse(cross_node_delivery(a.port, rogue.port, b"tls.ar", timeout=2.0))
            # So is a node that does not speak TLS on its routes.
            plain = Server(["-n", "p", "--cluster", "nats://127.0.0.1:%d" % free_port(),
                            "--cluster_name", "T", "--routes", "nats://127.0.0.1:%d" % r1])
            self.assertFalse(cross_node_delivery(a.port, plain.port, b"tls.ap", timeout=2.0))
            # The good pair still works.
            self.assertTrue(cross_node_delivery(b.port, a.port, b"tls.ba"))
        finally:
            for s in (plain, rogue, b, a):
                if s is not None:
                    s.stop()


class ClusterTlsAuthTest(unittest.TestCase):
    def test_routes_mutual_tls_and_authorization(self):
        # Both at once: the CONNECT with the credentials goes inside TLS.
        d = tempfile.mkdtemp(prefix="herald-ctlsauth-")
        try:
            make_certs(d)
        except (OSError, subprocess.CalledProcessError):
            self.skipTest("openssl CLI not available")
        r1, r2, r3 = free_port(), free_port(), free_port()
        conf = ('cluster {\n  name: TA\n  authorization { user: ruser, password: "r-pw" }\n'
                '  tls {\n    cert_file: "%s/node.pem"\n    key_file: "%s/node.key"\n'
                '    ca_file: "%s/ca.pem"\n    timeout: 2\n  }\n}\n' % (d, d, d))
        a = Server(["-n", "a", "--cluster", "nats://127.0.0.1:%d" % r1], conf)
        b = Server(["-n", "b", "--cluster", "nats://127.0.0.1:%d" % r2,
                    "--routes", "nats://ruser:r-pw@127.0.0.1:%d" % r1], conf)
        wrong = None
        try:
            self.assertTrue(cross_node_delivery(a.port, b.port, b"ta.ab"),
                            "no traffic over the TLS + authorization route: " + b.logtext())
            # A good certificate is not enough: wrong credentials are refused.
            wrong = Server(["-n", "w", "--cluster", "nats://127.0.0.1:%d" % r3,
                            "--routes", "nats://ruser:nope@127.0.0.1:%d" % r1], conf)
            self.assertFalse(cross_node_delivery(a.port, wrong.port, b"ta.aw", timeout=2.0))
            self.assertIn("authorization violation", a.logtext().lower())
            self.assertTrue(cross_node_delivery(b.port, a.port, b"ta.ba"))
        finally:
            for s in (wrong, b, a):
                if s is not None:
                    s.stop()


class HttpsMonitorTest(unittest.TestCase):
    def test_https_monitoring(self):
        import ssl
        import urllib.request
        d = tempfile.mkdtemp(prefix="herald-https-")
        try:
            make_certs(d)
        except (OSError, subprocess.CalledProcessError):
            self.skipTest("openssl CLI not available")
        hp = free_port()
        conf = ('tls {\n  cert_file: "%s/node.pem"\n  key_file: "%s/node.key"\n}\n'
                'https_port: %d\n' % (d, d, hp))
        srv = Server([], conf)
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
            def get():
                try:
                    with urllib.request.urlopen("https://127.0.0.1:%d/varz" % hp, context=ctx,
                                                timeout=2) as r:
                        return json.loads(r.read())
                except OSError:
                    return None
            varz = wait_for(get, 5, 0.1)
            self.assertIsNotNone(varz)
            self.assertEqual(varz["port"], srv.port)
            # Plain HTTP on the HTTPS port gets no answer.
            with self.assertRaises(Exception):
                urllib.request.urlopen("http://127.0.0.1:%d/varz" % hp, timeout=2).read()
        finally:
            srv.stop()


class Result(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        Result.passed += 1


if __name__ == "__main__":
    if not SERVER_BIN:
        print("SERVER_BIN is required")
        sys.exit(2)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result)
    prog = unittest.main(exit=False, testRunner=runner)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("RESULT passed=%d failed=%d" % (Result.passed, failed))
    sys.exit(1 if failed else 0)
