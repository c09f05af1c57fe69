"""The libcurl outbound path for plain http (DIFFD_UPSTREAM=curl), which https backends
always use: the same forwarding and failure behaviour as the built-in client."""
import base64
import os

from e2elib import TrioTest, hdr, refused_port


class CurlClientTest(TrioTest):
    def setUp(self):
        super().setUp()
        os.environ["DIFFD_UPSTREAM"] = "curl"
        self.addCleanup(os.environ.pop, "DIFFD_UPSTREAM", None)

    def test_legs_receive_the_request(self):
        p, s, c, d = self.trio("--allow-side-effects")
        body = bytes(range(256)) * 8
        r = d.request("PUT", "/items/7?b=2&a=1", body=body,
                      headers={"X-Custom": "v1", "Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "primary")
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["method"], "PUT")
            self.assertEqual(rec["target"], "/items/7?b=2&a=1")
            self.assertEqual(base64.b64decode(rec["body_b64"]), body)
            self.assertEqual(hdr(rec, "X-Custom"), "v1")
            self.assertEqual(hdr(rec, "X-Diffd-Role"), b.name)
            # curl's own defaults are not added to what the client sent
            self.assertIsNone(hdr(rec, "Expect"))
        self.settle(d)

    def test_get_without_accept_sends_no_accept(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/plain", headers={"Accept-Encoding": "identity"})
        self.assertEqual(r.status, 200, r)
        [rec] = c.wait_requests(1)
        self.assertIsNone(hdr(rec, "Accept"))
        self.assertIsNone(hdr(rec, "Content-Type"))

    def test_failures_map_to_502_and_504(self):
        port, sock = refused_port()
        self.addCleanup(sock.close)
        s = self.start_backend("secondary")
        c = self.start_backend("candidate")
        d = self.start_diffd("http://127.0.0.1:%d" % port, s, c)
        self.assertJsonError(d.request("GET", "/x"), 502)
        p2, s2, c2, d2 = self.trio("--timeout", "700")
        self.assertJsonError(d2.request("GET", "/hang?only=primary", timeout=15), 504)
