"""Comparison off the request path (analysis threads, DESIGN §3): a slow analysis
never holds a client's answer, what does not fit the analysis queue is counted as
skipped.analysis in /healthz, the report and /metrics, and SIGTERM compares what is
queued before the final --state snapshot.

The slow analysis is real work, not a hook: each backend answers /bigjson with a large
JSON array whose every value differs from the other backends' (so nothing can be
skipped as equal), compared under an `unordered ... by id` rule, by one analysis thread.
The assertions are about order and counters, never about timings."""
import concurrent.futures
import json
import os
import signal
import urllib.request
from urllib.parse import quote

from e2elib import TrioTest, get_json, request, wait_until

# ~1 MB per answer; under valgrind (make valgrind) everything is ~30x slower, so a
# smaller body gives the same picture within the per-test timeout.
BIG = "/bigjson?n=%d" % (1500 if os.environ.get("VALGRIND_DIFFD") else 12000)


class AnalysisThreadsTest(TrioTest):
    def rules(self):
        path = os.path.join(self.tmp, "big.rules")
        with open(path, "w") as f:
            f.write("[*]\nunordered $ by id\nunordered $[*].tags\n")
        return path

    def burst(self, d, n, path=BIG):
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            return list(ex.map(lambda i: request(d.port, "GET", "%s&i=%d" % (path, i), timeout=30),
                               range(n)))

    def test_slow_analysis_does_not_hold_clients(self):
        p, s, c, d = self.trio("--analysis-threads", "1", "--rules", self.rules())
        n = 8
        answers = self.burst(d, n)
        # Every client has its primary's answer now...
        self.assertEqual([a.status for a in answers], [200] * n)
        self.assertTrue(all(a.header("X-Backend-Name") == "primary" for a in answers))
        # ...while its trial is still waiting for (or in) comparison: the answers
        # did not wait for the analysis.
        h = d.healthz()
        self.assertGreater(h["analysis"]["pending"], 0, h)
        self.assertGreater(h["inflight"], 0, h)
        self.assertLess(h["totals"]["compared"], n, h)
        # Nothing is lost: every trial is compared in the end.
        h = self.settle(d, timeout=50)
        self.assertEqual(h["totals"]["compared"], n, h)
        self.assertEqual(h["totals"]["skipped"]["analysis"], 0, h)
        self.assertEqual(h["analysis"], {"threads": 1, "queued": 0, "queued_bytes": 0,
                                         "pending": 0})
        # A stored sample lists a bounded number of those thousands of differences
        # and counts the rest.
        lst = get_json(d.admin_port, "/api/v1/samples?endpoint=%s" % quote("GET /bigjson"))
        sid = lst["samples"][0]["id"]
        doc = get_json(d.admin_port, "/api/v1/samples/%s" % quote(sid))
        raw = doc["differences"]["raw"]
        per_field = {}
        for x in raw:
            per_field[x["field"]] = per_field.get(x["field"], 0) + 1
        self.assertLessEqual(max(per_field.values()), 20, per_field)
        self.assertGreater(doc["differences"]["not_listed"]["raw"], 1000, doc["differences"]["not_listed"])

    def test_full_queue_sheds_and_counts_skipped_analysis(self):
        # A queue with room for one trial: a burst of ten finishing together cannot
        # all fit; what is refused is still answered and counted, never dropped.
        p, s, c, d = self.trio("--analysis-threads", "1", "--analysis-queue-trials", "1",
                               "--rules", self.rules())
        n = 10
        answers = self.burst(d, n)
        self.assertEqual([a.status for a in answers], [200] * n)
        h = self.settle(d, timeout=50)
        t = h["totals"]
        shed = t["skipped"]["analysis"]
        self.assertGreater(shed, 0, h)
        self.assertEqual(t["compared"] + shed, n, h)
        self.assertEqual(t["sampled"], n, h)
        rep = get_json(d.admin_port, "/api/v1/report")
        self.assertEqual(rep["totals"]["skipped"]["analysis"], shed, rep["totals"])
        [ep] = [e for e in rep["endpoints"] if e["name"] == "GET /bigjson"]
        self.assertEqual(ep["skipped"]["analysis"], shed, ep)
        self.assertEqual(ep["compared"] + shed, n, ep)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.admin_port, timeout=10) as r:
            metrics = r.read().decode()
        self.assertIn('diffd_skipped_total{reason="analysis"} %d' % shed, metrics)
        self.assertIn("diffd_analysis_queue_trials 0", metrics)

    def test_queue_bound_in_bytes(self):
        # 1 KB of queue: only an empty queue takes a trial (however large), so a
        # burst is shed the same way by the byte bound.
        p, s, c, d = self.trio("--analysis-threads", "1", "--analysis-queue-bytes", "1k",
                               "--rules", self.rules())
        n = 10
        self.assertEqual([a.status for a in self.burst(d, n)], [200] * n)
        t = self.settle(d, timeout=50)["totals"]
        self.assertGreater(t["skipped"]["analysis"], 0, t)
        self.assertEqual(t["compared"] + t["skipped"]["analysis"], n, t)

    def test_sigterm_compares_the_queue_into_the_final_state(self):
        state = os.path.join(self.tmp, "diffd.state")
        p, s, c = self.start_backends()
        # --timeout bounds the drain too: generous, so a slow (sanitizer) build
        # still compares everything queued before it writes the state.
        d = self.start_diffd(p, s, c, "--analysis-threads", "1", "--rules", self.rules(),
                             "--state", state, "--snapshot-interval", "3600", "--timeout", "40000")
        n = 6
        self.assertEqual([a.status for a in self.burst(d, n)], [200] * n)
        self.assertGreater(d.healthz()["analysis"]["pending"], 0)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(50), 0, d.output())
        self.assertIn("state written to", d.output())
        self.assertNotIn("not compared within --timeout", d.output())
        # The restarted diffd reports every trial compared: the queue was drained
        # into the snapshot, not dropped.
        d2 = self.start_diffd(p, s, c, "--rules", self.rules(), "--state", state)
        rep = get_json(d2.admin_port, "/api/v1/report")
        self.assertEqual(rep["totals"]["compared"], n, rep["totals"])
        self.assertEqual(rep["totals"]["skipped"]["analysis"], 0, rep["totals"])

    def test_help_describes_the_analysis_threads(self):
        import subprocess
        from e2elib import DIFFD_BIN
        out = subprocess.run([DIFFD_BIN, "serve", "--help"], capture_output=True, text=True).stdout
        for flag in ("--analysis-threads", "--analysis-queue-bytes", "--analysis-queue-trials"):
            self.assertIn(flag, out)
        self.assertIn("skipped.analysis", out)
        self.assertIn("SCHED_BATCH", out)
