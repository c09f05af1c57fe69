"""Bad client input gets a clear JSON error, the connection is closed, and nothing else
breaks (raw sockets: http.client would refuse to send most of this)."""
import time

from e2elib import RawConn, TrioTest, long_test, raw_request


class BadInputTest(TrioTest):
    def exchange(self, d, data, timeout=5.0):
        """Send data on a new connection and read one answer; returns (Response, conn)."""
        conn = RawConn(d.port, timeout=timeout)
        self.addCleanup(conn.close)
        try:
            conn.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # diffd may answer and close before reading everything we send
        try:
            resp = conn.read_response()
        except ConnectionResetError:
            self.fail("connection reset before an answer arrived (%r...)" % data[:60])
        except EOFError:
            self.fail("connection closed without an answer (%r...)" % data[:60])
        return resp, conn

    def check_error(self, d, data, status):
        """data gets a JSON error with status, then the connection is closed, and a new
        connection is served normally."""
        resp, conn = self.exchange(d, data)
        self.assertJsonError(resp, status)
        self.assertTrue(conn.is_closed(), "connection should be closed after %d" % resp.status)
        self.assert_still_serving(d)
        return resp

    def test_malformed_requests_get_400(self):
        p, s, c, d = self.trio()
        cases = {
            "garbage request line": b"GARBAGE\r\n\r\n",
            "header without colon": b"GET /x HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n",
            "space before colon": b"GET /x HTTP/1.1\r\nHost : a\r\n\r\n",
            "bad content-length": b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12abc\r\n\r\n",
            "two content-lengths": b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                                   b"Content-Length: 4\r\n\r\nabcd",
            "bad chunk size": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"zz\r\nabc\r\n0\r\n\r\n",
            # Framing ambiguities front ends and back ends may read differently (smuggling).
            "te twice": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "te xchunked": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            "te chunked, identity": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity"
                                    b"\r\n\r\n0\r\n\r\n",
            "signed content-length": b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
            "content-length list": b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
            "bare LF in chunk": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"5\nhello\r\n0\r\n\r\n",
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                self.check_error(d, data, 400)
        # None of it reached a backend.
        self.assertEqual([x["target"] for x in p.requests()], ["/still-ok?after=error"] * len(cases))

    def test_content_length_with_transfer_encoding_gets_400(self):
        p, s, c, d = self.trio()
        data = (b"POST /smuggle HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        self.check_error(d, data, 400)
        targets = [x["target"] for x in p.requests()]
        self.assertNotIn("/smuggle", targets)
        self.assertNotIn("/smuggled", targets)

    def test_header_block_over_64k_gets_431(self):
        p, s, c, d = self.trio()
        one_big = raw_request("GET", "/big", headers=[("X-Big", "a" * 70000)])
        many = raw_request("GET", "/many", headers=[("X-H%d" % i, "b" * 1000) for i in range(80)])
        for name, data in (("one header", one_big), ("many headers", many)):
            with self.subTest(case=name):
                self.check_error(d, data, 431)
        self.assertNotIn("/big", [x["target"] for x in p.requests()])

    def test_large_header_under_limit_is_proxied(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", "/fat", headers=[("X-Fat", "f" * 50000)]))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        [rec] = c.wait_requests(1)
        self.assertIn(["X-Fat", "f" * 50000], rec["headers"])

    def test_body_over_max_body_gets_413(self):
        p, s, c, d = self.trio("--max-body", "1024")
        # Exactly at the limit is fine.
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        # (The answer is kept small: --max-body limits response bodies too.)
        conn.send(raw_request("POST", "/at-limit/bytes?n=10", body=b"k" * 1024))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, bytes(range(10)))
        [rec] = p.requests()
        self.assertEqual(rec["body"], "k" * 1024)

        with self.subTest(case="content-length"):
            self.check_error(d, raw_request("POST", "/too-big", body=b"x" * 5000), 413)
        with self.subTest(case="chunked"):
            chunk = b"y" * 1000
            data = (b"POST /too-big-chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n")
            self.check_error(d, data, 413)
        targets = [x["target"] for x in p.requests()]
        self.assertNotIn("/too-big", targets)
        self.assertNotIn("/too-big-chunked", targets)

    def test_content_length_over_max_body_answered_before_body_sent(self):
        # A client that waits for an interim answer must not hang: the size is known.
        p, s, c, d = self.trio("--max-body", "1024")
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(b"PUT /huge HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n")
        resp = conn.read_response()
        self.assertJsonError(resp, 413)
        self.assert_still_serving(d)

    @long_test
    def test_incomplete_headers_get_408_after_10s(self):
        p, s, c, d = self.trio()
        slow = RawConn(d.port, timeout=25)
        self.addCleanup(slow.close)
        t0 = time.monotonic()
        slow.send(b"GET /slowloris HTTP/1.1\r\nHost: a\r\nX-Partial: 1\r\n")
        # Meanwhile other clients are served normally.
        time.sleep(1)
        self.assert_still_serving(d)
        try:
            resp = slow.read_response()
        except ConnectionResetError:
            self.fail("connection reset instead of a 408 answer")
        elapsed = time.monotonic() - t0
        self.assertJsonError(resp, 408)
        self.assertGreater(elapsed, 7, "408 came too early for a 10 s header timeout")
        self.assertLess(elapsed, 20)
        self.assertTrue(slow.is_closed())
        self.assertNotIn("/slowloris", [x["target"] for x in p.requests()])
        self.assert_still_serving(d)
