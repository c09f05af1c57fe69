"""--max-inflight: past N trials in progress, requests are only proxied."""
from e2elib import TrioTest


class OverloadTest(TrioTest):
    def test_max_inflight_sheds_comparison_not_traffic(self):
        # One worker, so the limit is not split across shards.
        p, s, c, d = self.trio("--max-inflight", "2", "--timeout", "3000", threads=1,
                               candidate=["--fail", "hang"])
        for i in range(5):
            r = d.request("GET", "/ov/%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["backend"], "primary")
        h = d.healthz()
        self.assertEqual(h["inflight"], 2, h)
        self.assertEqual(h["totals"]["received"], 5, h)
        self.assertEqual(h["totals"]["skipped"]["overload"], 3, h)
        self.assertEqual(len(p.requests()), 5)
        self.assertEqual(sorted(x["target"] for x in c.requests()), ["/ov/0", "/ov/1"])
        # Once the hanging legs time out, the slots are free again.
        h = self.settle(d, timeout=10)
        self.assertEqual(h["totals"]["compared"], 2, h)
        self.assertEqual(h["legs"]["candidate"]["error"], 2, h)
        self.assertEqual(d.request("GET", "/ov/after").status, 200)
        c.wait_requests(3)
        self.assertEqual(d.healthz()["totals"]["skipped"]["overload"], 3)
