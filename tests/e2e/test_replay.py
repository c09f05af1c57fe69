"""diffd replay: each input format (HAR, JSON lines, GoReplay) through a real
`diffd serve --respond primary --wait-all` in front of real backends; every backend
must receive exactly the recorded requests. Malformed entries are reported as
file:line and skipped; nothing valid or an unreachable target exits 2."""
import base64
import json
import os
import subprocess
import urllib.parse

from e2elib import DIFFD_BIN, HERE, TrioTest, hdrs, refused_port

DATA = os.path.join(HERE, "data")
GOR_SEP = "\U0001F435\U0001F648\U0001F649"
# Headers replay does not reproduce: the sender sets them for the target.
NOT_REPLAYED = {"host", "content-length", "connection", "keep-alive", "transfer-encoding",
                "proxy-connection", "te", "upgrade", "trailer", "expect"}


def expected_jsonl(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                e = json.loads(line)
                out.append((e.get("method", "GET"), e["path"], list(e.get("headers", {}).items()),
                            e.get("body", "").encode("utf-8")))
    return out


def expected_har(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    out = []
    for ent in doc["log"]["entries"]:
        req = ent["request"]
        u = urllib.parse.urlsplit(req["url"])
        target = (u.path or "/") + ("?" + u.query if u.query else "")
        body = req.get("postData", {}).get("text", "").encode("utf-8")
        out.append((req["method"], target, [(h["name"], h["value"]) for h in req["headers"]], body))
    return out


def expected_gor(path):
    """An independent reading of the GoReplay format: request payloads (type 1) only."""
    with open(path, "rb") as f:
        text = f.read()
    out = []
    for block in text.split(("\n" + GOR_SEP + "\n").encode()):
        if not block.strip():
            continue
        header, _, payload = block.partition(b"\n")
        if not header.startswith(b"1 "):
            continue
        head, _, body = payload.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
        if any(k.lower() == "transfer-encoding" for k, _ in headers):
            dec = b""
            while True:
                size, _, body = body.partition(b"\r\n")
                n = int(size, 16)
                if n == 0:
                    break
                dec, body = dec + body[:n], body[n + 2:]
            body = dec
        out.append((method, target, headers, body))
    return out


class ReplayTest(TrioTest):
    def replay(self, *args, timeout=60):
        p = subprocess.run([DIFFD_BIN, "replay"] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def assert_received_exactly(self, backend, expected):
        """backend got one request per expected entry (matched by X-Request-Id) with the
        same method, target, body and recorded headers, and nothing else."""
        got = backend.requests()
        self.assertEqual(len(got), len(expected),
                         "%s received %d requests, want %d: %r" % (backend.name, len(got), len(expected),
                                                                   [(r["method"], r["target"]) for r in got]))
        by_id = {}
        for rec in got:
            rid = hdrs(rec).get("x-request-id", [None])[0]
            self.assertNotIn(rid, by_id, "request %s received twice" % rid)
            by_id[rid] = rec
        for method, target, headers, body in expected:
            rid = dict((k.lower(), v) for k, v in headers)["x-request-id"]
            self.assertIn(rid, by_id, "%s never received %s %s" % (backend.name, method, target))
            rec = by_id[rid]
            self.assertEqual((rec["method"], rec["target"]), (method, target), rid)
            self.assertEqual(base64.b64decode(rec["body_b64"]), body, rid)
            have = hdrs(rec)
            for k, v in headers:
                if k.lower() in NOT_REPLAYED or k.startswith(":"):
                    continue
                self.assertIn(v, have.get(k.lower(), []), "%s: header %s" % (rid, k))
            # curl's own defaults must not be added to what was recorded.
            if "accept" not in [k.lower() for k, _ in headers]:
                self.assertNotIn("accept", have, rid)

    def run_format(self, name, expected, *extra):
        p, s, c, d = self.trio("--respond", "primary", "--wait-all", "--allow-side-effects")
        path = os.path.join(DATA, name)
        code, out, err = self.replay("--target", "http://127.0.0.1:%d" % d.port, "--input", path,
                                     "--concurrency", "3", *extra)
        self.assertEqual(code, 0, "stdout %s\nstderr %s" % (out, err))
        self.assertIn("replay: %d sent" % len(expected), out)
        self.assertIn("2xx %d" % len(expected), out)
        self.assertIn("malformed skipped 0", out)
        for b in (p, s, c):
            self.assert_received_exactly(b, expected)

    def test_jsonl(self):
        self.run_format("traffic.jsonl", expected_jsonl(os.path.join(DATA, "traffic.jsonl")))

    def test_har(self):
        self.run_format("traffic.har", expected_har(os.path.join(DATA, "traffic.har")))

    def test_gor(self):
        exp = expected_gor(os.path.join(DATA, "traffic.gor"))
        self.assertEqual(len(exp), 5)
        self.run_format("traffic.gor", exp)

    def test_explicit_format_and_rate(self):
        exp = expected_gor(os.path.join(DATA, "traffic.gor"))
        self.run_format("traffic.gor", exp, "--format", "gor", "--rate", "50")

    def test_malformed_entries_are_reported_and_skipped(self):
        p, s, c, d = self.trio("--respond", "primary", "--wait-all", "--allow-side-effects")
        path = os.path.join(self.tmp, "mixed.jsonl")
        with open(os.path.join(DATA, "traffic.jsonl"), encoding="utf-8") as f:
            good = [l for l in f if l.strip()]
        lines = [good[0], "{\"method\": \"GET\", \"path\": \"no-slash\"}\n", good[1], "not json at all\n",
                 good[2]]
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
        code, out, err = self.replay("--target", "http://127.0.0.1:%d" % d.port, "--input", path)
        self.assertEqual(code, 0, err)
        self.assertIn("%s:2: " % path, err)
        self.assertIn("%s:4: invalid JSON" % path, err)
        self.assertIn("malformed skipped 2", out)
        exp = expected_jsonl(os.path.join(DATA, "traffic.jsonl"))[:3]
        for b in (p, s, c):
            self.assert_received_exactly(b, exp)

    def test_nothing_valid_exits_2(self):
        p, s, c, d = self.trio()
        path = os.path.join(self.tmp, "bad.jsonl")
        with open(path, "w") as f:
            f.write("{\"path\": 3}\n{\"oops\n")
        code, out, err = self.replay("--target", "http://127.0.0.1:%d" % d.port, "--input", path,
                                     "--format", "jsonl")
        self.assertEqual(code, 2)
        self.assertIn("%s:1: " % path, err)
        self.assertIn("no valid request", err)
        self.assertEqual(p.requests(), [])

    def test_unreachable_target_exits_2(self):
        port, sock = refused_port()
        self.addCleanup(sock.close)
        code, out, err = self.replay("--target", "http://127.0.0.1:%d" % port, "--input",
                                     os.path.join(DATA, "traffic.har"))
        self.assertEqual(code, 2)
        self.assertIn("127.0.0.1:%d" % port, err)
        self.assertIn("failed 5", out)

    def test_usage_errors_exit_2(self):
        for args, needle in ((["--input", os.path.join(DATA, "traffic.har")], "--target"),
                             (["--target", "http://127.0.0.1:1", "--input", "/nonexistent.har"],
                              "/nonexistent.har"),
                             (["--target", "ftp://x", "--input", os.path.join(DATA, "traffic.har")],
                              "--target"),
                             (["--target", "http://127.0.0.1:1", "--input",
                               os.path.join(DATA, "traffic.har"), "--concurrency", "0"],
                              "--concurrency")):
            code, out, err = self.replay(*args)
            self.assertEqual(code, 2, args)
            self.assertIn(needle, err, args)
