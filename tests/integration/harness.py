"""Shared helper for the raw-protocol tests (Python 3 stdlib only).

Starts the server under test (SERVER_KIND=herald|nats-server, SERVER_BIN=path)
on a free loopback port, waits until it accepts, stops it by PID (SIGTERM,
then SIGKILL after a bound) and keeps its log in a temp file that is printed
when the block using it fails.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SERVER_KIND = os.environ.get("SERVER_KIND", "nats-server")
SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|WARNING: ThreadSanitizer|runtime error: ")


def server_bin():
    b = os.environ.get("SERVER_BIN")
    if b:
        return b
    if SERVER_KIND == "herald":
        return os.path.join(REPO, "bazel-bin", "server", "herald")
    for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"):
        if os.path.exists(p):
            return p
    return shutil.which("nats-server") or "nats-server"


def _die_with_parent():
    # PR_SET_PDEATHSIG: the server is killed if the test process dies
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:  # noqa: BLE001
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Server:
    def __init__(self, config=None, args=(), port=None, cli_port=True, bin=None):
        self.bin = bin  # another server binary than server_bin() (mixed clusters)
        self.cli_port = cli_port  # False: the config text carries the port ({port} is substituted)
        self.config = config
        self.args = list(args)
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="herald-pytest-")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=10.0):
        argv = [self.bin or server_bin(), "-a", "127.0.0.1"]
        if self.cli_port:
            argv += ["-p", str(self.port)]
        if self.config is not None:
            conf = os.path.join(self.dir, "server.conf")
            with open(conf, "w") as f:
                f.write(self.config if self.cli_port else self.config.replace("{port}", str(self.port)))
            argv += ["-c", conf]
        argv += self.args
        with open(self.log_path, "ab") as log:
            log.write(("### " + " ".join(argv) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited during startup (rc=%s)\n%s" % (self.proc.returncode, self.log()))
            if can_connect(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not accept on port %d within %.0fs\n%s" % (self.port, timeout, self.log()))

    def stop(self, grace=5.0):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=grace)
        except ProcessLookupError:
            pass

    def sanitizer_reports(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return [l for l in f.read().splitlines() if SANITIZER_RE.search(l)][:3]
        except OSError:
            return []

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                text = f.read()
            if len(text) > 20000:  # the tail is what matters
                text = "[... %d bytes cut ...]\n%s" % (len(text) - 20000, text[-20000:])
            return "----- server log (%s) -----\n%s\n----- end of log -----" % (self.log_path, text)
        except OSError as e:
            return "(no server log: %s)" % e


@contextlib.contextmanager
def running_server(config=None, args=(), cli_port=True):
    srv = Server(config=config, args=args, cli_port=cli_port)
    srv.start()
    try:
        yield srv
    except BaseException:
        srv.stop()
        sys.stderr.write(srv.log() + "\n")
        raise
    finally:
        srv.stop()
    # sanitizer builds: any report (also at shutdown) fails the block
    reports = srv.sanitizer_reports()
    if reports:
        sys.stderr.write(srv.log() + "\n")
        raise AssertionError("sanitizer report in server log: %s" % " | ".join(reports))


class Closed(Exception):
    pass


class RawClient:
    """Minimal buffered NATS protocol client on a raw socket."""

    def __init__(self, port, timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.eof = False
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        if self.eof:
            raise Closed("connection closed by server; buffered=%r" % self.buf[:200])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out; buffered=%r" % self.buf[:200])
        self.sock.settimeout(remaining)
        try:
            d = self.sock.recv(1 << 16)
        except ConnectionResetError:
            d = b""
        except socket.timeout:
            raise socket.timeout("timed out; buffered=%r" % self.buf[:200])
        if not d:
            self.eof = True
            raise Closed("connection closed by server; buffered=%r" % self.buf[:200])
        self.buf += d

    def read_line(self, timeout=None):
        """Next line including its \\r\\n terminator."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_until_closed(self, timeout=5.0):
        """Read everything until the server closes; returns the bytes read.
        Raises socket.timeout if the connection stays open."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except Closed:
                out, self.buf = self.buf, b""
                return out

    def read_info(self, timeout=None):
        line = self.read_line(timeout)
        if not line.startswith(b"INFO "):
            raise AssertionError("first line is not INFO: %r" % line)
        return json.loads(line[5:].strip())

    def handshake(self, **connect_fields):
        """Read INFO, send CONNECT+PING, expect PONG. Returns INFO dict."""
        info = self.read_info()
        fields = {"verbose": False, "pedantic": False, "protocol": 1, "lang": "python-raw", "version": "0"}
        fields.update(connect_fields)
        self.send("CONNECT %s\r\nPING\r\n" % json.dumps(fields))
        line = self.read_line()
        if fields.get("verbose"):
            assert line == b"+OK\r\n", line
            line = self.read_line()
        assert line == b"PONG\r\n", "expected PONG, got %r" % line
        return info

    def ping(self, timeout=None):
        """PING and read up to and including PONG; returns the frames that came
        before (server PINGs are answered and left out)."""
        self.send(b"PING\r\n")
        return self.read_through_pong(timeout)

    def read_through_pong(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        frames = []
        while True:
            f = self.read_frame(max(0.01, deadline - time.monotonic()))
            if f[0] == "PONG":
                return frames
            if f[0] == "PING":  # server keepalive/RTT ping: answer, don't report
                self.send(b"PONG\r\n")
                continue
            frames.append(f)

    def read_frame(self, timeout=None):
        """Parse one server op. Returns a tuple:
        ('MSG', subject, sid, reply, payload) / ('HMSG', subject, sid, reply, hdr, payload)
        ('PING',) ('PONG',) ('+OK',) ('-ERR', text) ('INFO', dict)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        line = self.read_line(max(0.01, deadline - time.monotonic()))
        body = line[:-2]
        parts = body.split()
        if not parts:
            raise AssertionError("empty protocol line %r" % line)
        op = parts[0].upper()
        rest = lambda: max(0.01, deadline - time.monotonic())
        if op == b"MSG":
            if len(parts) == 4:
                subj, sid, n = parts[1:]
                reply = None
            elif len(parts) == 5:
                subj, sid, reply, n = parts[1:]
            else:
                raise AssertionError("bad MSG line %r" % line)
            payload = self.read_exact(int(n) + 2, rest())
            assert payload.endswith(b"\r\n"), "payload not followed by CRLF: %r" % payload[-10:]
            return ("MSG", subj.decode(), sid.decode(), reply.decode() if reply else None, payload[:-2])
        if op == b"HMSG":
            if len(parts) == 5:
                subj, sid, h, n = parts[1:]
                reply = None
            elif len(parts) == 6:
                subj, sid, reply, h, n = parts[1:]
            else:
                raise AssertionError("bad HMSG line %r" % line)
            data = self.read_exact(int(n) + 2, rest())
            assert data.endswith(b"\r\n"), "payload not followed by CRLF"
            return ("HMSG", subj.decode(), sid.decode(), reply.decode() if reply else None, data[: int(h)], data[int(h):-2])
        if op in (b"PING", b"PONG", b"+OK"):
            return (op.decode(),)
        if op == b"-ERR":
            m = re.match(rb"^-ERR\s+'(.*)'$", body)
            return ("-ERR", m.group(1).decode() if m else body[4:].strip().decode())
        if op == b"INFO":
            return ("INFO", json.loads(body[4:].strip()))
        raise AssertionError("unknown server op %r" % line)


class CountingResult(unittest.TextTestResult):
    """Counts passes, so that tests never run (a failed class setup) count as failed."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def _terminate(signum, frame):
    # turn SIGTERM (e.g. from `timeout`) into an exception so servers are stopped
    raise KeyboardInterrupt("signal %d" % signum)


def unittest_main(label, resultclass=CountingResult):
    """Runs the calling module's tests; prints "RESULT passed=N failed=M" last."""
    signal.signal(signal.SIGTERM, _terminate)
    print("%s: SERVER_KIND=%s SERVER_BIN=%s" % (label, SERVER_KIND, server_bin()), flush=True)
    runner = unittest.TextTestRunner(resultclass=resultclass, verbosity=2)
    prog = unittest.main(module="__main__", argv=sys.argv, exit=False, testRunner=runner)
    r = prog.result
    total = prog.test.countTestCases()
    # tests that did not pass (failures, errors, and tests never run because
    # a class-level setup failed) are all counted as failed
    failed = total - r.passed - len(r.skipped)
    print("RESULT passed=%d failed=%d" % (r.passed, failed), flush=True)
    sys.exit(1 if failed or total == 0 else 0)
