"""--sample and --sample-key: unsampled requests go only to the responding backend."""
import time

from e2elib import TrioTest, hdr


class SamplingTest(TrioTest):
    def test_sample_0_proxies_to_primary_only(self):
        p, s, c, d = self.trio("--sample", "0")
        for i in range(5):
            r = d.request("GET", "/s0/%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["backend"], "primary")
        time.sleep(0.3)
        h = d.healthz()
        self.assertEqual(h["totals"]["received"], 5, h)
        self.assertEqual(h["totals"]["sampled"], 0, h)
        self.assertEqual(h["totals"]["compared"], 0, h)
        self.assertEqual(len(p.requests()), 5)
        self.assertEqual(s.requests(), [])
        self.assertEqual(c.requests(), [])

    def test_sample_100_sends_every_request_to_all_legs(self):
        p, s, c, d = self.trio("--sample", "100")
        for i in range(5):
            self.assertEqual(d.request("GET", "/s100/%d" % i).status, 200)
        h = self.settle(d)
        self.assertEqual((h["totals"]["sampled"], h["totals"]["compared"]), (5, 5), h)
        for b in (p, s, c):
            self.assertEqual(sorted(x["target"] for x in b.requests()),
                             sorted("/s100/%d" % i for i in range(5)))

    def check_consistent(self, d, c, keys, per_key, send):
        for k in keys:
            for j in range(per_key):
                r = send(k, j)
                self.assertEqual(r.status, 200, r)
        h = self.settle(d)
        self.assertEqual(h["totals"]["received"], len(keys) * per_key, h)
        return h

    def test_sample_key_header_is_consistent_per_key(self):
        p, s, c, d = self.trio("--sample", "50", "--sample-key", "header:X-User")
        keys = ["user-%d" % i for i in range(40)]
        # Header names are case-insensitive (HTTP/2 front ends send them lower-case).
        names = ("X-User", "x-user", "X-USER")
        h = self.check_consistent(
            d, c, keys, 3, lambda k, j: d.request("GET", "/k/%d" % j, headers={names[j]: k}))
        seen = {}
        for x in c.requests():
            seen[hdr(x, "X-User")] = seen.get(hdr(x, "X-User"), 0) + 1
        for k, n in seen.items():
            self.assertEqual(n, 3, "key %s sampled %d of 3 times" % (k, n))
        self.assertEqual(len(s.requests()), sum(seen.values()))
        self.assertEqual(h["totals"]["sampled"], 3 * len(seen), h)
        self.assertTrue(8 <= len(seen) <= 32, "%d of 40 keys sampled at 50%%" % len(seen))
        self.assertEqual(len(p.requests()), 120)

    def test_sample_key_query_is_consistent_per_key(self):
        p, s, c, d = self.trio("--sample", "50", "--sample-key", "query:uid")
        keys = ["%d" % (1000 + i * 7) for i in range(30)]
        self.check_consistent(d, c, keys, 2, lambda k, j: d.request("GET", "/q?uid=%s&n=%d" % (k, j)))
        seen = {}
        for x in c.requests():
            uid = x["query"].split("&")[0].split("=")[1]
            seen[uid] = seen.get(uid, 0) + 1
        for k, n in seen.items():
            self.assertEqual(n, 2, "key %s sampled %d of 2 times" % (k, n))
        self.assertTrue(5 <= len(seen) <= 25, "%d of 30 keys sampled at 50%%" % len(seen))

    def test_sample_50_random(self):
        p, s, c, d = self.trio("--sample", "50")
        n = 100
        for i in range(n):
            self.assertEqual(d.request("GET", "/r/%d" % i).status, 200)
        h = self.settle(d)
        sampled = h["totals"]["sampled"]
        self.assertTrue(25 <= sampled <= 75, "sampled %d of %d at 50%%" % (sampled, n))
        self.assertEqual(h["totals"]["compared"], sampled)
        self.assertEqual(len(p.requests()), n)
        self.assertEqual(len(c.requests()), sampled)
        self.assertEqual(sorted(x["target"] for x in c.requests()),
                         sorted(x["target"] for x in s.requests()))
