"""POST/PUT/PATCH/DELETE go only to the responding backend unless
--allow-side-effects."""
import base64
import time

from e2elib import TrioTest, role_of, wait_until

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class SideEffectTest(TrioTest):
    def barrier(self, d, *backends):
        """A GET that reaches every leg: once the named backends have it, anything sent
        before it has been dispatched too (plus a grace period for stragglers)."""
        r = d.request("GET", "/barrier")
        self.assertIn(r.status, (200, 202), r)
        for b in backends:
            b.wait_requests(1)  # at least the barrier
            self._wait_target(b, "/barrier")
        time.sleep(0.3)

    def _wait_target(self, b, target):
        wait_until(lambda: any(x["target"] == target for x in b.requests()), 5,
                   what="%s to receive %s" % (b.name, target))

    def methods_seen(self, b):
        return [(x["method"], x["target"]) for x in b.requests() if x["target"] != "/barrier"]

    def test_unsafe_methods_go_only_to_primary(self):
        p, s, c, d = self.trio()
        for m in UNSAFE:
            r = d.request(m, "/orders/1", body=b'{"qty":2}' if m != "DELETE" else None)
            self.assertEqual(r.status, 200, r)
            doc = r.json()
            self.assertEqual((doc["backend"], doc["method"]), ("primary", m))
        self.barrier(d, s, c)
        self.assertEqual(self.methods_seen(p), [(m, "/orders/1") for m in UNSAFE])
        self.assertEqual(self.methods_seen(s), [])
        self.assertEqual(self.methods_seen(c), [])
        h = self.settle(d)
        self.assertEqual(h["totals"]["skipped"]["side_effect"], 4, h)
        self.assertEqual(h["totals"]["compared"], 1, "only the barrier GET is a trial: %r" % h)

    def test_respond_candidate_sends_unsafe_only_to_candidate(self):
        p, s, c, d = self.trio("--respond", "candidate")
        r = d.request("POST", "/pay", body=b"amount=5")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "candidate")
        self.barrier(d, p, s)
        self.assertEqual(self.methods_seen(c), [("POST", "/pay")])
        self.assertEqual(self.methods_seen(p), [])
        self.assertEqual(self.methods_seen(s), [])
        self.assertEqual(d.healthz()["totals"]["skipped"]["side_effect"], 1)

    def test_respond_none_sends_unsafe_nowhere(self):
        p, s, c, d = self.trio("--respond", "none")
        r = d.request("DELETE", "/users/3")
        self.assertEqual(r.status, 202, r)
        r = d.request("POST", "/users", body=b'{"a":1}')
        self.assertEqual(r.status, 202, r)
        self.barrier(d, p, s, c)
        for b in (p, s, c):
            self.assertEqual(self.methods_seen(b), [], b.name)
        self.assertEqual(d.healthz()["totals"]["skipped"]["side_effect"], 2)

    def test_allow_side_effects_sends_to_all_legs(self):
        p, s, c, d = self.trio("--allow-side-effects")
        for m in UNSAFE:
            body = ("body-of-%s" % m).encode() if m != "DELETE" else None
            r = d.request(m, "/things/5", body=body)
            self.assertEqual(r.status, 200, r)
        h = self.settle(d)
        self.assertEqual(h["totals"]["skipped"]["side_effect"], 0, h)
        self.assertEqual(h["totals"]["compared"], 4, h)
        for b in (p, s, c):
            recs = b.requests()
            self.assertEqual(sorted(x["method"] for x in recs), sorted(UNSAFE), b.name)
            for x in recs:
                self.assertEqual(role_of(x), b.name)
                want = ("body-of-%s" % x["method"]).encode() if x["method"] != "DELETE" else b""
                self.assertEqual(base64.b64decode(x["body_b64"]), want)
