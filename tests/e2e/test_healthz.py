"""Admin /healthz: shape and counters summed over workers."""
import concurrent.futures

from e2elib import TrioTest, request

CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")


class HealthzTest(TrioTest):
    def test_shape_and_counts_over_many_connections(self):
        p, s, c, d = self.trio(threads=2)
        h = d.healthz()
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["inflight"], 0)
        self.assertEqual(h["totals"], {"received": 0, "sampled": 0, "compared": 0,
                                       "skipped": {"side_effect": 0, "overload": 0, "rule": 0, "analysis": 0}})
        for leg in ("primary", "secondary", "candidate"):
            self.assertEqual({k: h["legs"][leg][k] for k in CLASSES}, dict.fromkeys(CLASSES, 0))

        # 24 requests on separate connections, 6 at a time: SO_REUSEPORT spreads them
        # over both workers, and the admin server must add the shards up.
        n = 24
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            answers = list(ex.map(lambda i: request(d.port, "GET", "/h/%d" % i), range(n)))
        self.assertEqual([a.status for a in answers], [200] * n)
        h = self.settle(d)
        t = h["totals"]
        self.assertEqual((t["received"], t["sampled"], t["compared"]), (n, n, n), h)
        self.assertEqual(t["skipped"], {"side_effect": 0, "overload": 0, "rule": 0, "analysis": 0})
        for leg in ("primary", "secondary", "candidate"):
            self.assertEqual(h["legs"][leg]["2xx"], n, h)
            self.assertEqual(sum(h["legs"][leg][k] for k in CLASSES), n, h)
        self.assertEqual(len(c.requests()), n)

    def test_status_classes_per_leg(self):
        p, s, c, d = self.trio(secondary=["--fail", "status:404"], candidate=["--fail", "status:503"])
        for target in ("/a", "/b", "/status?code=302&only=primary"):
            r = d.request("GET", target)
            self.assertEqual(r.status, 302 if "302" in target else 200, r)
            self.assertEqual(r.header("X-Backend-Name"), "primary")
        h = self.settle(d)
        self.assertEqual(h["totals"]["compared"], 3, h)
        legs = h["legs"]
        self.assertEqual((legs["primary"]["2xx"], legs["primary"]["3xx"]), (2, 1), legs)
        self.assertEqual(legs["secondary"]["4xx"], 3, legs)
        self.assertEqual(legs["candidate"]["5xx"], 3, legs)
        for leg in ("primary", "secondary", "candidate"):
            self.assertEqual(legs[leg]["error"], 0, legs)
