"""A short wrk run through diffd: no errors, and every answered request counted."""
import shutil
import unittest

from e2elib import TrioTest, run_wrk

WRK = shutil.which("wrk")


@unittest.skipUnless(WRK, "wrk not installed")
class LoadTest(TrioTest):
    def test_wrk_through_diffd(self):
        p, s, c, d = self.trio(threads=2)
        n, out = run_wrk(self, "http://127.0.0.1:%d/load/items?id=7" % d.port, 2, 16)
        h = self.settle(d, timeout=20)
        t = h["totals"]
        # wrk does not count requests still in flight when it stops.
        self.assertGreaterEqual(t["received"], n, (out, h))
        self.assertLessEqual(t["received"], n + 16, (out, h))
        self.assertEqual(t["compared"], t["received"], h)
        for leg in ("primary", "secondary", "candidate"):
            self.assertEqual(h["legs"][leg]["error"], 0, h)
            self.assertEqual(h["legs"][leg]["2xx"], t["received"], h)
