"""Client connections: keep-alive, pipelining (answers in order even when the first is
slow), Expect: 100-continue, Connection: close."""
import time

from e2elib import RawConn, TrioTest, long_test, raw_request


class ConnectionTest(TrioTest):
    def conn(self, d, timeout=10):
        c = RawConn(d.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def test_keep_alive_several_requests_on_one_connection(self):
        p, s, c, d = self.trio()
        conn = self.conn(d)
        for i in range(6):
            conn.send(raw_request("GET", "/ka/%d?i=%d" % (i, i)))
            resp = conn.read_response()
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["target"], "/ka/%d?i=%d" % (i, i))
        self.assertFalse(conn.is_closed(0.3), "keep-alive connection closed by diffd")
        h = self.settle(d)
        self.assertEqual(h["totals"]["compared"], 6, h)

    def test_pipelined_requests_answered_in_order(self):
        p, s, c, d = self.trio()
        conn = self.conn(d)
        targets = ["/pipe/a", "/pipe/b?x=1", "/pipe/c", "/pipe/d"]
        conn.send(b"".join(raw_request("GET", t) for t in targets))
        got = [conn.read_response().json()["target"] for _ in targets]
        self.assertEqual(got, targets)
        self.assertEqual(sorted(x["target"] for x in p.requests()), sorted(targets))

    def test_pipelined_answers_in_order_when_first_is_slow(self):
        p, s, c, d = self.trio()
        conn = self.conn(d)
        targets = ["/slow?ms=300&only=primary", "/fast/1", "/fast/2"]
        t0 = time.monotonic()
        conn.send(b"".join(raw_request("GET", t) for t in targets))
        got = [conn.read_response().json()["target"] for _ in targets]
        self.assertEqual(got, targets)
        self.assertGreater(time.monotonic() - t0, 0.25)

    def test_pipelined_mixed_methods_with_bodies(self):
        p, s, c, d = self.trio()
        conn = self.conn(d)
        conn.send(raw_request("GET", "/m/1") + raw_request("POST", "/m/2", body=b"two")
                  + b"PUT /m/3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nthree\r\n0\r\n\r\n"
                  + raw_request("GET", "/m/4"))
        got = []
        for _ in range(4):
            doc = conn.read_response().json()
            got.append((doc["method"], doc["target"], doc["body"]))
        self.assertEqual(got, [("GET", "/m/1", ""), ("POST", "/m/2", "two"),
                               ("PUT", "/m/3", "three"), ("GET", "/m/4", "")])

    def test_expect_100_continue(self):
        p, s, c, d = self.trio()
        conn = self.conn(d, timeout=5)
        body = b'{"upload": "' + b"z" * 3000 + b'"}'
        conn.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
        interim = conn.read_response()
        self.assertEqual(interim.status, 100, interim)
        conn.send(body)
        final = conn.read_response()
        self.assertEqual(final.status, 200, final)
        doc = final.json()
        self.assertEqual((doc["backend"], doc["method"], doc["body"].encode()), ("primary", "POST", body))
        # The connection goes on normally.
        conn.send(raw_request("GET", "/after-expect"))
        self.assertEqual(conn.read_response().json()["target"], "/after-expect")

    def test_connection_close_is_honoured(self):
        p, s, c, d = self.trio()
        conn = self.conn(d)
        conn.send(raw_request("GET", "/bye", headers=[("Connection", "close")]))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(conn.is_closed(), "diffd should close after Connection: close")

    def test_http_1_0_client(self):
        p, s, c, d = self.trio()
        conn = self.conn(d)
        conn.send(b"GET /old?v=10 HTTP/1.0\r\nHost: a\r\n\r\n")
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["target"], "/old?v=10")
        self.assertTrue(conn.is_closed(), "HTTP/1.0 without keep-alive: diffd should close")

    def test_expect_100_continue_body_sent_without_waiting(self):
        # Many clients (curl after its 1 s wait, most libraries) send the body anyway.
        p, s, c, d = self.trio()
        conn = self.conn(d, timeout=5)
        conn.send(b"PUT /eager HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
        resp = conn.read_response()
        if resp.status == 100:
            resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["body"], "hello")
        conn.send(raw_request("GET", "/after-eager"))
        self.assertEqual(conn.read_response().json()["target"], "/after-eager")

    def test_expect_100_continue_with_body_over_max_body(self):
        # The final answer comes at once, no 100 Continue: the body is not wanted.
        p, s, c, d = self.trio("--max-body", "1000")
        conn = self.conn(d, timeout=5)
        conn.send(b"POST /too-big HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        resp = conn.read_response()
        self.assertJsonError(resp, 413)
        self.assertEqual(p.requests(), [])

    def test_pipelined_with_respond_none(self):
        p, s, c, d = self.trio("--respond", "none")
        conn = self.conn(d)
        targets = ["/n/1", "/n/2?x=y", "/n/3"]
        conn.send(b"".join(raw_request("GET", t) for t in targets))
        for _ in targets:
            self.assertEqual(conn.read_response().status, 202)
        h = self.settle(d)
        self.assertEqual(h["totals"]["compared"], 3, h)
        for b in (p, s, c):
            self.assertEqual(sorted(x["target"] for x in b.requests()), sorted(targets), b.name)

    def test_pipelined_answers_not_held_by_a_slow_candidate(self):
        p, s, c, d = self.trio(candidate=["--delay-ms", "3000"])
        conn = self.conn(d)
        targets = ["/pc/1", "/pc/2", "/pc/3"]
        t0 = time.monotonic()
        conn.send(b"".join(raw_request("GET", t) for t in targets))
        got = [conn.read_response().json()["target"] for _ in targets]
        self.assertEqual(got, targets)
        self.assertLess(time.monotonic() - t0, 1.5, "pipelined answers waited for the candidate")

    def test_pipelined_100_continue_comes_after_the_earlier_answer(self):
        p, s, c, d = self.trio()
        conn = self.conn(d, timeout=5)
        conn.send(raw_request("GET", "/slow?ms=300&only=primary")
                  + b"POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        first = conn.read_response()
        self.assertEqual((first.status, first.json()["target"]), (200, "/slow?ms=300&only=primary"))
        self.assertEqual(conn.read_response().status, 100)
        conn.send(b"hello")
        final = conn.read_response()
        self.assertEqual((final.status, final.json()["body"]), (200, "hello"))


class IdleTest(TrioTest):
    def test_http10_keep_alive_is_acknowledged(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        for i in range(2):
            conn.send(b"GET /ten/%d HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n" % i)
            r = conn.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.header("Connection") or "").lower(), "keep-alive", r)
            self.assertEqual(r.json()["target"], "/ten/%d" % i)

    @long_test
    def test_connection_that_never_sends_is_closed_after_10_s(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port, timeout=20)
        self.addCleanup(conn.close)
        t0 = time.monotonic()
        self.assertTrue(conn.is_closed(timeout=15), "a silent new connection is closed")
        self.assertGreater(time.monotonic() - t0, 8)
