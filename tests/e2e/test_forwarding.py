"""What each leg receives: method, target, body, headers, role/trial headers,
hop-by-hop removal, Host, path prefix, X-Original-URI."""
import base64
import concurrent.futures

from e2elib import RawConn, TrioTest, hdr, hdrs, raw_request, request, role_of

HOP_BY_HOP = ("keep-alive", "proxy-connection", "te", "trailer", "upgrade", "x-drop-me")


def by_trial(records):
    out = {}
    for r in records:
        out.setdefault(hdr(r, "X-Diffd-Trial"), []).append(r)
    return out


class ForwardingTest(TrioTest):
    def test_get_reaches_all_legs_identically(self):
        p, s, c, d = self.trio()
        target = "/items/7?b=2&a=1&tag=x%20y"
        r = d.request("GET", target, headers={"X-Custom": "v1", "Accept": "application/json",
                                              "Cookie": "sid=abc"})
        self.assertEqual(r.status, 200, r)
        trial = None
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["method"], "GET")
            self.assertEqual(rec["target"], target)
            self.assertEqual(hdr(rec, "X-Custom"), "v1")
            self.assertEqual(hdr(rec, "Accept"), "application/json")
            self.assertEqual(hdr(rec, "Cookie"), "sid=abc")
            self.assertEqual(role_of(rec), b.name)
            t = hdr(rec, "X-Diffd-Trial")
            self.assertRegex(t or "", r"^t-\S+$")
            if trial is None:
                trial = t
            self.assertEqual(t, trial, "one trial id on all three legs")
            self.assertEqual(rec["body"], "")

    def test_trial_ids_differ_across_requests(self):
        p, s, c, d = self.trio()
        for i in range(4):
            self.assertEqual(d.request("GET", "/t/%d" % i).status, 200)
        self.settle(d)
        records = p.requests() + s.requests() + c.requests()
        trials = by_trial(records)
        self.assertEqual(len(trials), 4, sorted(trials))
        for tid, recs in trials.items():
            self.assertEqual(sorted(role_of(r) for r in recs), ["candidate", "primary", "secondary"])
            self.assertEqual(len({r["target"] for r in recs}), 1, "a trial is one request")

    def test_post_body_and_headers_with_side_effects_allowed(self):
        p, s, c, d = self.trio("--allow-side-effects")
        body = b'{"name":"\xc3\xa9l\xc3\xa8ve","n":[1,2,3]}'
        r = d.request("POST", "/users?notify=0", body=body,
                      headers={"Content-Type": "application/json", "X-Request-Id": "req-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(base64.b64decode(r.json()["body_b64"]), body)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual((rec["method"], rec["target"]), ("POST", "/users?notify=0"))
            self.assertEqual(base64.b64decode(rec["body_b64"]), body)
            self.assertEqual(hdr(rec, "Content-Type"), "application/json")
            self.assertEqual(hdr(rec, "X-Request-Id"), "req-1")

    def test_binary_content_length_body(self):
        p, s, c, d = self.trio("--allow-side-effects")
        body = bytes(range(256)) * 400  # 100 KiB with NULs and high bytes
        r = d.request("PUT", "/blob", body=body, headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(base64.b64decode(rec["body_b64"]), body, b.name)

    def test_chunked_request_body_arrives_as_same_bytes(self):
        p, s, c, d = self.trio("--allow-side-effects")
        chunks = [b"hello ", b"\x00\x01binary\xff", b"x" * 5000, b" end"]
        wire = b"".join(b"%x\r\n%s\r\n" % (len(ch), ch) for ch in chunks) + b"0\r\n\r\n"
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(b"POST /upload?k=1 HTTP/1.1\r\nHost: e2e.test\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/octet-stream\r\n\r\n")
        conn.send(wire)
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        want = b"".join(chunks)
        self.assertEqual(base64.b64decode(resp.json()["body_b64"]), want)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(base64.b64decode(rec["body_b64"]), want, b.name)

    def test_hop_by_hop_headers_not_forwarded(self):
        p, s, c, d = self.trio()
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", "/hop", headers=[
            ("Connection", "keep-alive, X-Drop-Me"),
            ("X-Drop-Me", "secret"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Upgrade", "h2c"),
            ("X-Keep-Me", "yes"),
        ]))
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            h = hdrs(rec)
            self.assertEqual(h.get("x-keep-me"), ["yes"], b.name)
            for name in HOP_BY_HOP:
                self.assertNotIn(name, h, "%s forwarded to %s: %r" % (name, b.name, rec["headers"]))
            self.assertNotIn("transfer-encoding", h)
            for v in h.get("connection", []):
                self.assertNotIn("x-drop-me", v.lower(), "client's Connection forwarded")

    def test_host_is_the_backends_own_by_default(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/host", headers={"Host": "api-shadow:8080"})
        self.assertEqual(r.status, 200, r)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(hdr(rec, "Host"), "127.0.0.1:%d" % b.port, b.name)

    def test_preserve_host_strips_shadow_suffix(self):
        p, s, c, d = self.trio("--preserve-host")
        cases = [("api-shadow:8080", "api:8080"), ("api-shadow", "api"),
                 ("plain.example", "plain.example"), ("shop.example.com-shadow", "shop.example.com")]
        for sent, want in cases:
            with self.subTest(host=sent):
                for b in (p, s, c):
                    b.clear()
                r = d.request("GET", "/ph", headers={"Host": sent})
                self.assertEqual(r.status, 200, r)
                self.settle(d)
                for b in (p, s, c):
                    [rec] = b.wait_requests(1)
                    self.assertEqual(hdr(rec, "Host"), want, b.name)

    def test_backend_url_path_prefix_is_prepended(self):
        p = self.start_backend("primary", prefix="/v1")
        s = self.start_backend("secondary", prefix="/blue/api")
        c = self.start_backend("candidate", prefix="/green/api")
        d = self.start_diffd(p, s, c)
        r = d.request("GET", "/users/42?expand=1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/v1/users/42?expand=1")
        for b, want in ((p, "/v1/users/42?expand=1"), (s, "/blue/api/users/42?expand=1"),
                        (c, "/green/api/users/42?expand=1")):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["target"], want)

    def test_x_original_uri_replaces_path_and_query(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/__mirror", headers={"X-Original-URI": "/orders/9?currency=EUR&x=%2F"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/orders/9?currency=EUR&x=%2F")
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["target"], "/orders/9?currency=EUR&x=%2F", b.name)

    def test_raw_target_and_repeated_headers_kept_exactly(self):
        p, s, c, d = self.trio()
        target = "/a%2Fb//c;v=1?x=%20&y=a+b&empty=&flag&arr[]=1&arr[]=2"
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(raw_request("GET", target, headers=[("X-Multi", "one"), ("X-Other", "o"),
                                                      ("X-Multi", "two")]))
        self.assertEqual(conn.read_response().status, 200)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["target"], target, b.name)
            multi = [v for k, v in rec["headers"] if k.lower() == "x-multi"]
            self.assertIn(multi, (["one", "two"], ["one, two"]), b.name)

    def test_x_original_uri_with_backend_prefix(self):
        p = self.start_backend("primary", prefix="/pp")
        s = self.start_backend("secondary", prefix="/ss")
        c = self.start_backend("candidate")
        d = self.start_diffd(p, s, c)
        r = d.request("GET", "/mirror", headers={"X-Original-URI": "/orig?q=1"})
        self.assertEqual(r.json()["target"], "/pp/orig?q=1")
        for b, want in ((p, "/pp/orig?q=1"), (s, "/ss/orig?q=1"), (c, "/orig?q=1")):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["target"], want)

    def test_get_with_body_is_forwarded_to_all_legs(self):
        p, s, c, d = self.trio()
        r = d.request("GET", "/search", body=b'{"q":"shoes"}', headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertEqual(rec["body"], '{"q":"shoes"}', b.name)

    def test_trial_ids_unique_across_workers_under_concurrency(self):
        p, s, c, d = self.trio(threads=2)
        n = 40
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(lambda i: request(d.port, "GET", "/u/%d" % i).status, range(n)))
        self.assertEqual(codes, [200] * n)
        self.settle(d)
        trials = by_trial(p.requests() + s.requests() + c.requests())
        self.assertEqual(len(trials), n)
        for tid, recs in trials.items():
            self.assertEqual(sorted(role_of(r) for r in recs), ["candidate", "primary", "secondary"], tid)
            self.assertEqual(len({r["target"] for r in recs}), 1, tid)

    def test_client_supplied_diffd_headers_are_replaced(self):
        # Traffic recorded behind another diffd (or a hostile client) may carry them.
        p, s, c, d = self.trio()
        r = d.request("GET", "/forged", headers={"X-Diffd-Role": "candidate", "X-Diffd-Trial": "t-forged"})
        self.assertEqual(r.status, 200, r)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            h = hdrs(rec)
            self.assertEqual(h.get("x-diffd-role"), [b.name], rec["headers"])
            self.assertEqual(len(h.get("x-diffd-trial", [])), 1, rec["headers"])
            self.assertNotEqual(h["x-diffd-trial"][0], "t-forged")

    def test_many_headers_and_non_ascii_bytes_forwarded_exactly(self):
        p, s, c, d = self.trio()
        target = "/caf\u00e9/\u65e5\u672c?q=\u00fc&x=%C3%A9".encode("utf-8")
        many = [("X-H%03d" % i, "v%d" % i) for i in range(300)]
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nX-Name: Jos\xc3\xa9\r\n"
                  + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in many) + b"\r\n")
        resp = conn.read_response()
        self.assertEqual(resp.status, 200, resp)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            # The backend decodes the request head as latin-1: compare the raw bytes.
            self.assertEqual(rec["target"].encode("latin-1"), target, b.name)
            self.assertEqual(hdr(rec, "X-Name").encode("latin-1"), b"Jos\xc3\xa9")
            got = [(k, v) for k, v in rec["headers"] if k.startswith("X-H")]
            self.assertEqual(got, many)

    def test_no_expect_header_sent_to_legs(self):
        # A leg that does not implement 100-continue would stall ~1 s per request (curl's
        # wait) and skew every latency comparison: diffd has the body, it sends it.
        p, s, c, d = self.trio("--allow-side-effects")
        big = bytes(range(256)) * 8192  # 2 MiB: libcurl would add Expect on its own
        conn = RawConn(d.port)
        self.addCleanup(conn.close)
        # (/bytes keeps the answer small: an echo of 2 MiB would pass --max-body.)
        conn.send(b"PUT /big/bytes?n=10 HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                  % len(big))
        self.assertEqual(conn.read_response().status, 100)
        conn.send(big)
        self.assertEqual(conn.read_response().status, 200)
        for b in (p, s, c):
            [rec] = b.wait_requests(1)
            self.assertNotIn("expect", hdrs(rec), b.name)
            self.assertEqual(base64.b64decode(rec["body_b64"]), big, b.name)
