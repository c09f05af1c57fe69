"""What the client gets: --respond primary|secondary|candidate|none, --wait-all, and
that legs the client did not ask for never hold it up."""
import gzip
import http.client
import json
import time

from e2elib import LOCAL, RawConn, TrioTest, hdr, raw_request, request, role_of


class RespondTest(TrioTest):
    def test_primary_answer_passed_exactly(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/bytes?n=70000&hdr=X-Answer:from-backend&hdr=Cache-Control:max-age=60")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, bytes(i % 256 for i in range(70000)))
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("X-Backend-Name"), "primary")
        self.assertEqual(r.header("X-Answer"), "from-backend")
        self.assertEqual(r.header("Cache-Control"), "max-age=60")
        self.assertTrue((r.header("Server") or "").startswith("e2e-backend"), r.headers)
        self.assertEqual(len(r.header_all("Content-Length")), 1, r.headers)

    def test_primary_status_and_body_passed_through(self):
        p, s, c, d = self.trio()
        for code in (201, 404, 500, 503):
            with self.subTest(code=code):
                r = d.request("GET", "/status?code=%d&only=primary" % code)
                self.assertEqual(r.status, code, r)
                doc = r.json()
                self.assertEqual(doc["backend"], "primary")
                self.assertEqual(doc["target"], "/status?code=%d&only=primary" % code)
        r = d.request("GET", "/status?code=204")
        self.assertEqual((r.status, r.body), (204, b""))

    def test_head_request(self):
        p, s, c, d = self.trio()
        r = d.request("HEAD", "/head-me")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("X-Backend-Name"), "primary")
        [rec] = c.wait_requests(1)
        self.assertEqual(rec["method"], "HEAD")

    def test_respond_secondary_and_candidate(self):
        for who in ("secondary", "candidate"):
            with self.subTest(respond=who):
                p, s, c, d = self.trio("--respond", who)
                r = d.request("GET", "/status?code=418&only=%s" % who)
                self.assertEqual(r.status, 418, r)
                self.assertEqual(r.json()["backend"], who)
                self.assertEqual(r.header("X-Backend-Name"), who)
                # The other legs still ran.
                for b in (p, s, c):
                    [rec] = b.wait_requests(1)
                    self.assertEqual(role_of(rec), b.name)

    def test_respond_none_answers_202_without_waiting_for_any_leg(self):
        slow = ["--delay-ms", "2000"]
        p, s, c, d = self.trio("--respond", "none", primary=slow, secondary=slow, candidate=slow)
        t0 = time.monotonic()
        r = d.request("GET", "/none?x=1")
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 202, r)
        self.assertIsInstance(r.json(), dict)
        self.assertLess(elapsed, 1.0, "202 should not wait for the 2 s legs")
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["target"], "/none?x=1")
        h = self.settle(d)
        self.assertEqual(h["totals"]["compared"], 1, h)

    def test_slow_candidate_does_not_delay_client(self):
        p, s, c, d = self.trio(candidate=["--delay-ms", "3000"])
        # Two requests on one keep-alive connection: neither waits for the candidate.
        conn = http.client.HTTPConnection(LOCAL, d.port, timeout=10)
        self.addCleanup(conn.close)
        t0 = time.monotonic()
        for i in range(2):
            conn.request("GET", "/fast/%d" % i)
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(body)["backend"], "primary")
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 1.5, "client answers must not wait for the 3 s candidate")
        h = d.healthz()
        self.assertEqual(h["totals"]["compared"], 0, "candidate cannot have finished yet: %r" % h)
        self.assertGreaterEqual(h["inflight"], 1, h)
        h = self.settle(d, timeout=10)
        self.assertEqual(h["totals"]["compared"], 2, h)
        self.assertEqual(h["legs"]["candidate"]["2xx"], 2, h)

    def test_slow_primary_does_not_delay_client_when_responding_candidate(self):
        p, s, c, d = self.trio("--respond", "candidate", primary=["--delay-ms", "3000"])
        t0 = time.monotonic()
        r = d.request("GET", "/other-way")
        self.assertEqual(r.json()["backend"], "candidate")
        self.assertLess(time.monotonic() - t0, 1.5)

    def test_wait_all_holds_answer_until_every_leg_finished(self):
        p, s, c, d = self.trio("--wait-all", candidate=["--delay-ms", "1200"])
        t0 = time.monotonic()
        r = d.request("GET", "/paced")
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "primary")
        self.assertGreaterEqual(elapsed, 1.1, "--wait-all must wait for the 1.2 s candidate")
        # Every leg finished before the answer, so the trial is already compared.
        h = self.settle(d, timeout=2)
        self.assertEqual(h["totals"]["compared"], 1)

    def test_chunked_response_passed_through(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", "/chunked?n=1"))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        doc = resp.json()
        self.assertEqual((doc["backend"], doc["target"]), ("primary", "/chunked?n=1"))
        # Connection still usable afterwards.
        conn.send(raw_request("GET", "/after-chunked"))
        self.assertEqual(conn.read_response().json()["target"], "/after-chunked")

    def test_gzip_response_passed_through_undecoded(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/gzip", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.body[:2], b"\x1f\x8b", "client must get the gzip bytes as sent")
        doc = json.loads(gzip.decompress(r.body))
        self.assertEqual(doc["backend"], "primary")
        [rec] = p.wait_requests(1)
        self.assertEqual(hdr(rec, "Accept-Encoding"), "gzip")

    def test_response_hop_by_hop_removed_and_repeated_headers_kept(self):
        p, s, c, d = self.trio()
        target = ("/resp-headers?hdr=Connection:X-Secret&hdr=X-Secret:1&hdr=Proxy-Connection:keep-alive"
                  "&hdr=Upgrade:h2c&hdr=Trailer:X-Sum&hdr=Set-Cookie:a=1;%20Path=/"
                  "&hdr=Set-Cookie:b=2&hdr=X-Kept:yes")
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", target))
        r = conn.read_response()
        self.assertEqual(r.status, 200, r)
        names = {k.lower() for k, _ in r.headers}
        for gone in ("x-secret", "proxy-connection", "upgrade", "trailer"):
            self.assertNotIn(gone, names, r.headers)
        for v in r.header_all("Connection"):
            self.assertNotIn("x-secret", v.lower())
        self.assertEqual(r.header_all("Set-Cookie"), ["a=1; Path=/", "b=2"])
        self.assertEqual(r.header("X-Kept"), "yes")
        # The connection still works (no framing confusion).
        conn.send(raw_request("GET", "/next"))
        self.assertEqual(conn.read_response().json()["target"], "/next")

    def test_large_response_passed_exactly(self):
        p, s, c, d = self.trio()
        n = 3 * 1024 * 1024 + 17
        r = d.request("GET", "/big/bytes?n=%d" % n, timeout=20)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), n)
        self.assertEqual(r.body, bytes(i % 256 for i in range(n)))
        h = self.settle(d)
        self.assertEqual(h["legs"]["candidate"]["2xx"], 1, h)

    def test_response_over_max_body(self):
        p, s, c, d = self.trio("--max-body", "4096")
        self.assertJsonError(d.request("GET", "/bytes?n=10000"), 502)
        self.assertEqual(d.request("GET", "/bytes?n=4000").status, 200)
        # Only the candidate's answer is too large: the client is unaffected, the
        # candidate leg is an error.
        r = d.request("GET", "/bytes?n=10000&only=candidate")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "primary")
        h = self.settle(d)
        self.assertEqual((h["legs"]["primary"]["error"], h["legs"]["primary"]["2xx"]), (1, 2), h)
        self.assertEqual((h["legs"]["candidate"]["error"], h["legs"]["candidate"]["2xx"]), (2, 1), h)

    def test_interim_103_from_backend_then_final_answer(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", "/early?x=1"))
        r = conn.read_response()
        while 100 <= r.status < 200:  # relaying the 103 is allowed, not required
            r = conn.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/early?x=1")
        h = self.settle(d)
        for leg in ("primary", "secondary", "candidate"):
            self.assertEqual((h["legs"][leg]["2xx"], h["legs"][leg]["error"]), (1, 0), h)
