"""Failing backends: the responding leg's failure maps to 502/504 with a JSON error;
a failing leg the client did not ask for is recorded as an error and the trial
completes."""
import time

from e2elib import RawConn, TrioTest, blackhole_port, raw_request, refused_port


class FailureTest(TrioTest):
    def dead_url(self):
        port, sock = refused_port()
        self.addCleanup(sock.close)
        return "http://127.0.0.1:%d" % port

    def test_primary_refused_gives_502(self):
        s = self.start_backend("secondary")
        c = self.start_backend("candidate")
        d = self.start_diffd(self.dead_url(), s, c)
        r = d.request("GET", "/refused")
        self.assertJsonError(r, 502)
        h = self.settle(d)
        self.assertEqual(h["legs"]["primary"]["error"], 1, h)
        self.assertEqual(h["totals"]["compared"], 1, h)
        self.assert_still_serving_error(d)

    def assert_still_serving_error(self, d):
        # diffd keeps answering (each time with 502) after the failure.
        self.assertJsonError(d.request("GET", "/again"), 502)

    def test_primary_reset_gives_502(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/reset?only=primary")
        self.assertJsonError(r, 502)
        h = self.settle(d)
        self.assertEqual(h["legs"]["primary"]["error"], 1, h)
        self.assertEqual(h["legs"]["candidate"]["2xx"], 1, h)
        self.assert_still_serving(d)

    def test_primary_timeout_gives_504(self):
        p, s, c, d = self.trio("--timeout", "800")
        t0 = time.monotonic()
        r = d.request("GET", "/hang?only=primary", timeout=15)
        elapsed = time.monotonic() - t0
        self.assertJsonError(r, 504)
        self.assertGreater(elapsed, 0.5, "answered before the 800 ms timeout could expire")
        self.assertLess(elapsed, 5.0, "--timeout 800 not applied")
        h = self.settle(d)
        self.assertEqual(h["legs"]["primary"]["error"], 1, h)
        self.assert_still_serving(d)

    def test_respond_candidate_refused_gives_502(self):
        p = self.start_backend("primary")
        s = self.start_backend("secondary")
        d = self.start_diffd(p, s, self.dead_url(), "--respond", "candidate")
        self.assertJsonError(d.request("GET", "/x"), 502)

    def test_dead_candidate_trial_completes_client_gets_primary(self):
        p = self.start_backend("primary")
        s = self.start_backend("secondary")
        d = self.start_diffd(p, s, self.dead_url())
        for i in range(3):
            r = d.request("GET", "/dead-cand/%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["backend"], "primary")
        h = self.settle(d)
        self.assertEqual(h["totals"]["compared"], 3, h)
        self.assertEqual(h["legs"]["candidate"]["error"], 3, h)
        self.assertEqual(h["legs"]["primary"]["2xx"], 3, h)
        self.assertEqual(h["legs"]["secondary"]["2xx"], 3, h)

    def test_hanging_candidate_times_out_client_answered_by_primary(self):
        p, s, c, d = self.trio("--timeout", "1500", candidate=["--fail", "hang"])
        t0 = time.monotonic()
        r = d.request("GET", "/cand-hangs")
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "primary")
        self.assertLess(elapsed, 1.0, "client must not wait for the hanging candidate")
        c.wait_requests(1)
        h = self.settle(d, timeout=10)
        self.assertEqual(h["totals"]["compared"], 1, h)
        self.assertEqual(h["legs"]["candidate"]["error"], 1, h)

    def test_reset_candidate_recorded_as_error(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/reset?only=candidate")
        self.assertEqual(r.status, 200, r)
        h = self.settle(d)
        self.assertEqual(h["legs"]["candidate"]["error"], 1, h)
        self.assertEqual(h["totals"]["compared"], 1, h)

    def test_connect_timeout_on_blackholed_candidate(self):
        port, held = blackhole_port()
        for sock in held:
            self.addCleanup(sock.close)
        p = self.start_backend("primary")
        s = self.start_backend("secondary")
        d = self.start_diffd(p, s, "http://127.0.0.1:%d" % port, "--connect-timeout", "300",
                             "--timeout", "8000")
        t0 = time.monotonic()
        r = d.request("GET", "/blackhole")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "primary")
        # The trial ends on the 300 ms connect timeout, far before the 8 s leg timeout.
        h = self.settle(d, timeout=4)
        self.assertLess(time.monotonic() - t0, 4)
        self.assertEqual(h["legs"]["candidate"]["error"], 1, h)

    def test_connect_timeout_on_responding_leg(self):
        port, held = blackhole_port()
        for sock in held:
            self.addCleanup(sock.close)
        s = self.start_backend("secondary")
        c = self.start_backend("candidate")
        d = self.start_diffd("http://127.0.0.1:%d" % port, s, c, "--connect-timeout", "300",
                             "--timeout", "8000")
        t0 = time.monotonic()
        r = d.request("GET", "/blackhole", timeout=15)
        self.assertLess(time.monotonic() - t0, 4, "connect timeout 300 ms not applied")
        self.assertIn(r.status, (502, 504), r)
        self.assertJsonError(r, r.status)

    def test_pipelined_requests_survive_a_failed_leg(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", "/one") + raw_request("GET", "/reset?only=primary")
                  + raw_request("GET", "/three"))
        first, second, third = (conn.read_response() for _ in range(3))
        self.assertEqual((first.status, first.json()["target"]), (200, "/one"))
        self.assertJsonError(second, 502)
        self.assertEqual((third.status, third.json()["target"]), (200, "/three"))

    def test_truncated_or_garbage_answers(self):
        p, s, c, d = self.trio()
        for route in ("truncated", "garbage"):
            with self.subTest(route=route):
                # From the responding leg: a clear 502, never a partial 200.
                self.assertJsonError(d.request("GET", "/%s?only=primary" % route), 502)
                # From the candidate only: the client is unaffected, the leg is an error.
                r = d.request("GET", "/%s?only=candidate" % route)
                self.assertEqual((r.status, r.json()["backend"]), (200, "primary"))
        h = self.settle(d)
        self.assertEqual(h["legs"]["primary"]["error"], 2, h)
        self.assertEqual(h["legs"]["candidate"]["error"], 2, h)
        self.assert_still_serving(d)

    def test_chunk_extensions_and_trailers_from_backend(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/chunked-ext")
        self.assertEqual((r.status, r.body), (200, b"hello world"))
        h = self.settle(d)
        self.assertEqual(h["legs"]["candidate"]["2xx"], 1, h)

    def test_trailers_are_not_turned_into_headers(self):
        # A response trailer (X-Sum) does not reach the client as a header, and a
        # request trailer does not reach the legs as one: the bodies are sent with a
        # Content-Length, and trailers are not headers.
        p, s, c, d = self.trio()
        r = d.request("GET", "/chunked-ext")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.header("X-Sum"), r)
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(b"POST /with-trailer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Trailer: X-Checksum\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n")
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        [rec] = [x for x in p.wait_requests(2) if x["target"] == "/with-trailer"]
        names = [n.lower() for n, _ in rec["headers"]]
        self.assertNotIn("x-checksum", names)
        self.assertEqual(rec["body"], "hello")
