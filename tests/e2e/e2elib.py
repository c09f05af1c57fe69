"""Shared helpers for diffd's end-to-end tests: start real backends and a real diffd on
loopback ports picked at run time, talk HTTP to them (http.client or raw sockets), and
clean up only the processes a test started (through unittest's addCleanup).

Environment:
    DIFFD_BIN         path of the diffd binary under test (required)
    E2E_START_S       seconds diffd may take to print its listening line [10]
    E2E_DIFFD_EXTRA   extra `diffd serve` arguments appended to every start (to check
                      that tests fail when diffd misbehaves, e.g. "--wait-all")
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BACKEND = os.path.join(HERE, "backend.py")
DIFFD_BIN = os.environ.get("DIFFD_BIN", os.path.join(REPO, "build", "diffd"))
START_S = float(os.environ.get("E2E_START_S", "10"))
LOCAL = "127.0.0.1"

LISTEN_RE = re.compile(
    r"diffd: listening proxy=(?P<paddr>[^\s:]+):(?P<pport>\d+) "
    r"admin=(?P<aaddr>[^\s:]+):(?P<aport>\d+) threads=(?P<threads>\d+)"
)
SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")


def wait_until(pred, timeout=5.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; return it, or raise AssertionError
    after timeout seconds naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


def free_port():
    """A loopback port free right now (for programs that cannot be given port 0)."""
    s = socket.socket()
    s.bind((LOCAL, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_wrk(test, url, threads, conns, seconds=2):
    """Runs wrk against url; asserts it got more than 50 answers, all 2xx, no socket
    errors. Returns (requests counted by wrk, wrk's output)."""
    out = subprocess.run([shutil.which("wrk") or "wrk", "-t%d" % threads, "-c%d" % conns,
                          "-d%ds" % seconds, "--timeout", "5s", url],
                         capture_output=True, timeout=30, text=True).stdout
    m = re.search(r"(\d+) requests in", out)
    test.assertIsNotNone(m, out)
    n = int(m.group(1))
    test.assertGreater(n, 50, out)
    test.assertNotIn("Non-2xx", out)
    test.assertNotIn("Socket errors", out)
    return n, out


def refused_port():
    """A loopback port that refuses connections for the rest of the test: a bound socket
    that never listens. Returns (port, socket); keep the socket open."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((LOCAL, 0))
    return s.getsockname()[1], s


def blackhole_port():
    """A loopback port where connects hang (no SYN-ACK) for the rest of the test: a
    listener with backlog 0 whose only queue slot we fill ourselves. Returns (port,
    sockets); keep the sockets open."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind((LOCAL, 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    held = [ls]
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.3)
        try:
            s.connect((LOCAL, port))
        except OSError:
            s.close()
            break
        held.append(s)
    # Check it: a further connect must not complete.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.3)
    try:
        probe.connect((LOCAL, port))
        ok = False
    except socket.timeout:
        ok = True
    finally:
        probe.close()
    if not ok:
        for s in held:
            s.close()
        raise unittest.SkipTest("cannot make a black-holed loopback port on this kernel")
    return port, held


# ---- HTTP helpers -------------------------------------------------------------


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, self.headers, self.body[:300])


def request(port, method="GET", target="/", headers=None, body=None, timeout=10.0):
    """One request on a new connection (http.client); returns a Response."""
    conn = http.client.HTTPConnection(LOCAL, port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


def get_json(port, target, timeout=5.0):
    r = request(port, "GET", target, timeout=timeout)
    if r.status != 200:
        raise AssertionError("GET %s on port %d: status %d body %r" % (target, port, r.status, r.body))
    return r.json()


class RawConn:
    """A raw TCP client for what http.client hides: pipelining, 100-continue, malformed
    input, connection close after an error."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((LOCAL, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by peer")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, method="GET"):
        """Read one response (status line, headers, body by Content-Length, chunked or
        close). Returns a Response; 1xx responses are returned like any other."""
        line = self._line()
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ?(.*)", line)
        if not m:
            raise AssertionError("bad status line %r" % line)
        status = int(m.group(1))
        headers = []
        while True:
            h = self._line()
            if h == b"":
                break
            k, _, v = h.partition(b":")
            headers.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
        resp = Response(status, m.group(2).decode("latin-1"), headers, b"")
        if 100 <= status < 200 or status in (204, 304) or method == "HEAD":
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if "chunked" in te:
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line() != b"":
                        pass
                    break
                body += self._exact(size)
                self._exact(2)
            resp.body = body
        elif cl is not None:
            resp.body = self._exact(int(cl))
        else:
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
            resp.body, self.buf = self.buf, b""
        return resp

    def is_closed(self, timeout=3.0):
        """True when the peer closes (EOF or reset) within timeout with no further data;
        False on timeout; AssertionError if more bytes arrive."""
        if self.buf:
            raise AssertionError("unexpected extra bytes %r" % self.buf[:200])
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if data:
            raise AssertionError("unexpected extra bytes after the response: %r" % data[:200])
        return True


def raw_request(method, target, headers=(), body=b"", host="e2e.test"):
    """Serialize a request with Content-Length (when body or method needs it)."""
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: %s" % host]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---- processes ----------------------------------------------------------------


class Proc:
    """A child process whose output goes to a file in the test's tmpdir."""

    def __init__(self, argv, out_path, env=None):
        self.argv = argv
        self.out_path = out_path
        self._out = open(out_path, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                  stderr=subprocess.STDOUT, env=env)
        self.pid = self.p.pid
        self.signalled = False

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, regex, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(regex, self.output())
            if m:
                return m
            if self.p.poll() is not None:
                raise AssertionError("%s exited with %s before %s; output:\n%s"
                                     % (self.argv[0], self.p.returncode, what, self.output()[-4000:]))
            if time.monotonic() > deadline:
                raise AssertionError("%s: no %s within %.0fs; output:\n%s"
                                     % (self.argv[0], what, timeout, self.output()[-4000:]))
            time.sleep(0.02)

    def kill(self):
        """SIGKILL this process (only this pid) if it still runs, and reap it."""
        if self.p.poll() is None:
            self.p.kill()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._out.close()

    def terminate(self, timeout):
        """SIGTERM, wait up to timeout s; returns the exit code or None if it had to be
        killed."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


class Backend:
    def __init__(self, proc, name, port, prefix="", tls=False):
        self.proc = proc
        self.name = name
        self.port = port
        self.prefix = prefix
        self.tls = tls

    @property
    def url(self):
        return "%s://%s:%d%s" % ("https" if self.tls else "http", LOCAL, self.port, self.prefix)

    def _control(self, method):
        if not self.tls:
            return request(self.port, method, "/__requests")
        # The test's own self-signed certificate: no verification on the control route.
        conn = http.client.HTTPSConnection(LOCAL, self.port, timeout=5,
                                           context=ssl._create_unverified_context())
        try:
            conn.request(method, "/__requests")
            r = conn.getresponse()
            return Response(r.status, r.reason, r.getheaders(), r.read())
        finally:
            conn.close()

    def requests(self):
        """Requests recorded so far (control routes excluded), oldest first."""
        r = self._control("GET")
        assert r.status == 200, r
        return r.json()

    def clear(self):
        r = self._control("DELETE")
        assert r.status == 200, r

    def wait_requests(self, n, timeout=5.0):
        """Wait until at least n requests were recorded; return them."""
        return wait_until(lambda: (lambda rs: rs if len(rs) >= n else None)(self.requests()),
                          timeout, what="%s to receive %d request(s)" % (self.name, n))


class Diffd:
    def __init__(self, proc, m, args, access_log):
        self.proc = proc
        self.args = args
        self.port = int(m.group("pport"))
        self.admin_port = int(m.group("aport"))
        self.threads = int(m.group("threads"))
        self.access_log = access_log

    def healthz(self):
        return get_json(self.admin_port, "/healthz")

    def request(self, *a, **kw):
        return request(self.port, *a, **kw)

    def wait_totals(self, key, n, timeout=8.0):
        """Wait until totals[key] >= n; return the healthz document."""
        return wait_until(lambda: (lambda h: h if h["totals"][key] >= n else None)(self.healthz()),
                          timeout, what="totals.%s >= %d" % (key, n))

    def access_lines(self):
        if not self.access_log or not os.path.exists(self.access_log):
            return []
        with open(self.access_log, encoding="utf-8") as f:
            return [json.loads(l) for l in f if l.strip()]

    def output(self):
        return self.proc.output()

    def signal(self, sig):
        """Send sig to this diffd (the test then owns its exit)."""
        self.proc.signalled = True
        self.proc.p.send_signal(sig)

    def wait_exit(self, timeout):
        return self.proc.p.wait(timeout)


class E2ETest(unittest.TestCase):
    """Base class: per-test tmpdir, process starters with automatic cleanup."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="diffd-e2e-")
        if not os.environ.get("E2E_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self._diffds = []

    def tearDown(self):
        # On failure, show what diffd and the backends said: it usually tells why.
        outcome = getattr(self, "_outcome", None)
        if outcome is None or getattr(outcome, "success", True):
            return
        for d in self._diffds:
            sys.stderr.write("---- diffd output (%s) ----\n%s\n" % (" ".join(d.args), d.output()[-3000:]))
        for name in sorted(os.listdir(self.tmp)):
            if name.startswith("backend-"):
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    text = f.read()
                if text.count("\n") > 1:
                    sys.stderr.write("---- %s ----\n%s\n" % (name, text[-3000:]))

    def start_backend(self, name, *args, prefix=""):
        out = os.path.join(self.tmp, "backend-%s-%d.log" % (name, len(os.listdir(self.tmp))))
        proc = Proc([sys.executable, BACKEND, "--name", name, "--port", "0"] + list(args), out)
        self.addCleanup(proc.kill)
        m = proc.wait_for(r"PORT (\d+)", 10, "PORT line")
        return Backend(proc, name, int(m.group(1)), prefix, tls="--tls" in args)

    def start_backends(self, **per_name_args):
        """primary, secondary, candidate; keyword args give extra argv per name, e.g.
        candidate=["--delay-ms", "3000"]."""
        return [self.start_backend(n, *per_name_args.get(n, [])) for n in ("primary", "secondary", "candidate")]

    def start_diffd(self, primary, secondary, candidate, *extra, threads=2, access_log=True,
                    expect_exit_zero=True, shutdown_timeout=15.0):
        """Start `diffd serve` on 127.0.0.1:0 ports; backends may be Backend objects or
        URL strings (secondary may be None). Returns a Diffd once the listening line is
        printed. At cleanup it is sent SIGTERM and must exit 0 with no sanitizer report."""
        def url(b):
            return b if isinstance(b, str) else b.url

        argv = [DIFFD_BIN, "serve", "--primary", url(primary)]
        if secondary is not None:
            argv += ["--secondary", url(secondary)]
        argv += ["--candidate", url(candidate), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]
        if threads is not None and "--threads" not in extra:
            argv += ["--threads", str(threads)]
        log = None
        if access_log and "--access-log" not in extra:
            log = os.path.join(self.tmp, "access-%d.jsonl" % len(self._diffds))
            argv += ["--access-log", log]
        elif "--access-log" in extra:
            log = extra[list(extra).index("--access-log") + 1]
        argv += list(extra)
        # For checking the tests themselves: E2E_DIFFD_EXTRA="--wait-all" must make
        # the tests about not waiting fail.
        argv += os.environ.get("E2E_DIFFD_EXTRA", "").split()
        out = os.path.join(self.tmp, "diffd-%d.log" % len(self._diffds))
        proc = Proc(argv, out)
        self.addCleanup(self._stop_diffd, proc, expect_exit_zero, shutdown_timeout)
        m = proc.wait_for(LISTEN_RE, START_S, "listening line")
        d = Diffd(proc, m, argv, log)
        self._diffds.append(d)
        return d

    def _stop_diffd(self, proc, expect_exit_zero, timeout):
        already = proc.p.poll()
        code = proc.terminate(timeout)
        out = proc.output()
        proc.kill()
        if already is not None and not proc.signalled:
            self.fail("diffd exited on its own during the test (code %s); output:\n%s" % (already, out[-4000:]))
        if SANITIZER_RE.search(out):
            self.fail("sanitizer report in diffd output:\n%s" % out[-6000:])
        if expect_exit_zero and code != 0:
            self.fail("diffd did not exit 0 on SIGTERM within %.0fs (code %s); output:\n%s"
                      % (timeout, code, out[-4000:]))

    def run_diffd(self, *args, timeout=10.0):
        """Run diffd to completion (CLI tests); returns (code, stdout, stderr)."""
        p = subprocess.run([DIFFD_BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    # ---- assertions used across tests ----

    def assertJsonError(self, resp, status):
        self.assertEqual(resp.status, status, resp)
        ctype = resp.header("Content-Type") or ""
        self.assertIn("json", ctype.lower(), "error answer should be JSON: %r" % resp)
        doc = json.loads(resp.body.decode("utf-8"))
        self.assertIsInstance(doc, dict, resp)
        self.assertIn("error", doc, resp)
        self.assertIsInstance(doc["error"], str)
        self.assertTrue(doc["error"], "error message should not be empty")
        return doc


def hdrs(record):
    """Header pairs of a backend record as a dict of lower-case name -> list of values."""
    out = {}
    for k, v in record["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def hdr(record, name):
    """The single value of header name in a backend record (None if absent)."""
    vals = hdrs(record).get(name.lower())
    if not vals:
        return None
    assert len(vals) == 1, "header %s repeated: %r" % (name, vals)
    return vals[0]


def role_of(record):
    return hdr(record, "X-Diffd-Role")


def long_test(fn):
    """Mark a test that takes many seconds by design; the runner starts it first."""
    fn.e2e_long = True
    return fn


def known_bug(reason):
    """Mark a test that fails because of a diffd bug not fixed yet (reason says which).
    It counts as skipped while it fails and as a failure once it passes."""
    def deco(fn):
        fn = unittest.expectedFailure(fn)
        fn.e2e_known_bug = reason
        return fn
    return deco


class TrioTest(E2ETest):
    """Tests that run diffd in front of three fresh backends."""

    def trio(self, *diffd_args, primary=(), secondary=(), candidate=(), **kw):
        """Start primary/secondary/candidate backends (extra argv per backend) and a
        diffd in front of them; returns (primary, secondary, candidate, diffd)."""
        p, s, c = self.start_backends(primary=list(primary), secondary=list(secondary),
                                      candidate=list(candidate))
        d = self.start_diffd(p, s, c, *diffd_args, **kw)
        return p, s, c, d

    def settle(self, d, timeout=8.0):
        """Wait until no trial is in flight and every sampled request was compared."""
        def done():
            h = d.healthz()
            t = h["totals"]
            # Requests sampled but then skipped (overload, side effect) never compare,
            # whichever way diffd counts them.
            sk = t["skipped"]
            finished = t["compared"] + sk["overload"] + sk["side_effect"] + sk.get("analysis", 0)
            return h if h["inflight"] == 0 and finished >= t["sampled"] else None
        return wait_until(done, timeout, what="diffd to settle (inflight 0, all sampled compared)")

    def assert_still_serving(self, d):
        """A new connection gets a normal proxied answer."""
        r = request(d.port, "GET", "/still-ok?after=error")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/still-ok?after=error")
