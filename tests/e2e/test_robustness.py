"""Clients and backends that behave like real ones do: disconnecting mid-request,
half-closing, trickling bytes, bursts of pipelined requests, backends that close
connections, answer without a length, or restart between requests."""
import socket
import time

from e2elib import RawConn, TrioTest, hdr, raw_request, wait_until


class RobustnessTest(TrioTest):
    def test_client_disconnects_while_trial_in_flight(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        conn.send(raw_request("GET", "/slow?ms=500"))
        p.wait_requests(1)
        conn.close()  # gone before any leg answered
        conn2 = RawConn(d.port)
        conn2.send(raw_request("GET", "/slow?ms=300") + raw_request("GET", "/queued"))
        conn2.close()  # with a pipelined request still waiting its turn
        h = self.settle(d)
        self.assertGreaterEqual(h["totals"]["compared"], 2, h)
        self.assertEqual(h["legs"]["candidate"]["error"], 0, h)
        self.assert_still_serving(d)

    def test_client_half_close_still_answered(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", "/half-closed?x=1"))
        conn.sock.shutdown(socket.SHUT_WR)
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["target"], "/half-closed?x=1")
        self.assertTrue(conn.is_closed())

    def test_request_trickled_byte_by_byte(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        data = raw_request("POST", "/trickle?a=b", headers=[("X-Slow", "yes")], body=b"0123456789")
        for i in range(len(data)):
            conn.send(data[i:i + 1])
            time.sleep(0.003)
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        doc = resp.json()
        self.assertEqual((doc["target"], doc["body"]), ("/trickle?a=b", "0123456789"))

    def test_burst_of_pipelined_requests(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port, timeout=20)
        self.addCleanup(conn.close)
        targets = ["/burst/%d" % i for i in range(50)]
        conn.send(b"".join(raw_request("GET", t) for t in targets))
        got = [conn.read_response().json()["target"] for _ in targets]
        self.assertEqual(got, targets)
        h = self.settle(d, timeout=15)
        self.assertEqual(h["totals"]["compared"], 50, h)

    def test_backends_closing_every_connection(self):
        p, s, c, d = self.trio()
        for i in range(5):
            r = d.request("GET", "/closing/%d?close=1" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/closing/%d?close=1" % i)
        h = self.settle(d)
        for leg in ("primary", "secondary", "candidate"):
            self.assertEqual((h["legs"][leg]["2xx"], h["legs"][leg]["error"]), (5, 0), h)

    def test_close_delimited_backend_response(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", "/old/eof?v=1"))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["target"], "/old/eof?v=1")
        # diffd framed it for the client: the connection goes on.
        conn.send(raw_request("GET", "/after-eof"))
        self.assertEqual(conn.read_response().json()["target"], "/after-eof")
        h = self.settle(d)
        self.assertEqual(h["legs"]["candidate"]["error"], 0, h)

    def test_candidate_restarted_between_requests(self):
        p, s, c, d = self.trio()
        for i in range(3):
            self.assertEqual(d.request("GET", "/before/%d" % i).status, 200)
        self.settle(d)
        # Deploy a new candidate on the same port: diffd's pooled connections are dead.
        port = c.port
        c.proc.kill()
        c2 = wait_until(lambda: self._try_start("candidate", port), 10, what="candidate restart")
        for i in range(3):
            self.assertEqual(d.request("GET", "/after/%d" % i).status, 200)
        h = self.settle(d)
        self.assertEqual(h["legs"]["candidate"]["error"], 0, "restart of an idle backend: %r" % h)
        self.assertEqual(sorted(x["target"] for x in c2.requests()), ["/after/0", "/after/1", "/after/2"])

    def _try_start(self, name, port):
        try:
            return self.start_backend(name, "--port", str(port))
        except AssertionError:
            return None

    def test_absolute_form_target(self):
        # RFC 9112 3.2.2: a server MUST accept absolute-form; the legs get its path, and
        # its authority is the Host (RFC 9112 3.2.2: it replaces the Host header).
        p, s, c, d = self.trio("--preserve-host")
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(b"GET http://shop.example:8080/abs/path?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n")
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["target"], "/abs/path?q=1")
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["target"], "/abs/path?q=1", b.name)
            self.assertEqual(hdr(rec, "Host"), "shop.example:8080", b.name)
        self.assertEqual(d.healthz()["legs"]["primary"]["error"], 0)

    def test_asterisk_targets(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertJsonError(conn.read_response(), 400)
        # OPTIONS * is valid (RFC 9110 9.3.7): diffd answers it for the server as a whole.
        conn2 = RawConn(d.port)
        self.addCleanup(conn2.close)
        conn2.send(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        resp = conn2.read_response()
        self.assertIn(resp.status, (200, 204), resp)
        self.assertIn("GET", resp.header("Allow") or "", resp)
        self.assertEqual(d.healthz()["legs"]["primary"]["error"], 0, "client requests blamed on the primary")

    def test_no_request_reaches_an_unconfigured_host(self):
        # Neither the request target nor X-Original-URI may steer a leg elsewhere.
        p, s, c, d = self.trio()
        other = self.start_backend("other")
        hostile = ["@127.0.0.1:%d/steal" % other.port, "http://127.0.0.1:%d/abs" % other.port,
                   "x@127.0.0.1:%d/" % other.port, ".127.0.0.1:%d/" % other.port]
        for value in hostile:
            r = d.request("GET", "/mirrored", headers={"X-Original-URI": value})
            self.assertIn(r.status // 100, (2, 4), "%s: %r" % (value, r))
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(b"GET http://127.0.0.1:%d/abs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                  % (other.port, other.port))
        conn.read_response()
        conn2 = RawConn(d.port)
        self.addCleanup(conn2.close)
        conn2.send(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (other.port, other.port))
        self.assertEqual(conn2.read_response().status // 100, 4, "CONNECT must be refused")
        self.settle(d)
        self.assertEqual(other.requests(), [])

    def test_backend_framing_errors_do_not_leak_into_other_requests(self):
        # One worker, so the next request would reuse the same pooled backend connection.
        p, s, c, d = self.trio(threads=1)
        r = d.request("GET", "/overlong")
        self.assertEqual((r.status, r.body), (200, b"hello"))
        for i in range(3):
            r = d.request("GET", "/after-overlong/%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(r.header("X-Backend-Name"), "smuggled", "bytes of an earlier answer "
                                "were taken as the answer to a later request")
            self.assertEqual(r.json()["target"], "/after-overlong/%d" % i)
        # Content-Length and chunked together: chunked framing, or an error; never the
        # first 3 bytes.
        r = d.request("GET", "/cl-and-te")
        if r.status == 200:
            self.assertEqual(r.body, b"hello world")
        else:
            self.assertJsonError(r, 502)
        r = d.request("GET", "/after-cl-and-te")
        self.assertEqual(r.json()["target"], "/after-cl-and-te")
        h = self.settle(d)
        self.assertEqual(h["legs"]["candidate"]["2xx"] + h["legs"]["candidate"]["error"], 6, h)
