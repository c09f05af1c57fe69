"""`make demo` (examples/demo/demo.py) run for real: three example shop API backends, a
diffd, the shipped traffic replayed, `diffd check` on the live report.

- DEMO_EXIT=1: exits 0 and diffd check found exactly the planted field regression
  (GET /orders/:id $.total) and the latency regression on GET /search, nothing else;
  verdict fail, check exit 1; the JUnit/Markdown/HTML/JSON reports are written.
- a candidate without the slow endpoint: the demo's self-check notices (exit 1).
- interactive: the dashboard URL is printed and serves the dashboard until SIGINT
  (Ctrl-C), after which every process the demo started is gone.
- the Makefile's demo target installs deps, builds, then runs the script.

The script runs with the binary under test (DIFFD_BIN) and never runs apt."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.request
import xml.etree.ElementTree as ET

from e2elib import DIFFD_BIN, REPO, SANITIZER_RE, E2ETest, long_test, wait_until

DEMO = os.path.join(REPO, "examples", "demo", "demo.py")
TRAFFIC = os.path.join(REPO, "examples", "demo", "traffic.jsonl")
PLANTED = {("GET /orders/:id", "field", "$.total"), ("GET /search", "latency", None)}


def found(rep):
    return {(g["endpoint"], g["type"], g.get("path") if g["type"] == "field" else None)
            for g in rep["regressions"]}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running any more (reaped by its parent later).
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class DemoTest(E2ETest):
    def env(self, **extra):
        env = dict(os.environ, DIFFD_BIN=DIFFD_BIN, DEMO_OUT=os.path.join(self.tmp, "out"))
        env.pop("DEMO_EXIT", None)
        env.pop("DEMO_CANDIDATE", None)
        env.pop("DEMO_ADMIN", None)
        env.update(extra)
        return env

    def run_demo(self, timeout=50, **extra):
        p = subprocess.run([sys.executable, DEMO], cwd=self.tmp, env=self.env(**extra),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")

    def report(self):
        with open(os.path.join(self.tmp, "out", "report.json")) as f:
            return json.load(f)

    def check_report(self, rep, out):
        self.assertEqual(found(rep), PLANTED, json.dumps(rep["regressions"], indent=1) + "\n" + out)
        self.assertEqual(rep["verdict"], "fail")
        self.assertTrue(rep["noise_subtraction"])
        eps = {e["name"]: e for e in rep["endpoints"]}
        self.assertEqual(set(eps), {"GET /search", "GET /orders/:id", "GET /users/:id", "GET /health",
                                    "POST /orders"})
        with open(TRAFFIC) as f:
            entries = [json.loads(l) for l in f if l.strip()]
        searches = sum(1 for e in entries if e["path"].startswith("/search"))
        posts = sum(1 for e in entries if e["method"] == "POST")
        self.assertGreaterEqual(searches, 200, "enough /search requests for the latency rule")
        self.assertEqual(rep["totals"]["received"], len(entries))
        self.assertEqual(rep["totals"]["compared"], len(entries) - posts)
        self.assertEqual(rep["totals"]["skipped"]["side_effect"], posts)
        self.assertEqual(eps["GET /search"]["compared"], searches)
        # Only the planted field differs anywhere: the noise is silenced by the rules.
        for name, ep in eps.items():
            paths = [f["path"] for f in ep["fields"]]
            self.assertEqual(paths, ["$.total"] if name == "GET /orders/:id" else [], name)
            self.assertEqual(ep["latency_regression"], name == "GET /search", name)
        total = [f for f in eps["GET /orders/:id"]["fields"] if f["path"] == "$.total"][0]
        self.assertEqual(total["noise"], 0)
        self.assertEqual(total["raw"], eps["GET /orders/:id"]["status"]["candidate"]["2xx"])

    def check_files(self, out):
        d = os.path.join(self.tmp, "out")
        suite = ET.parse(os.path.join(d, "junit.xml")).getroot()
        text = ET.tostring(suite, encoding="unicode")
        self.assertIn("$.total", text)
        self.assertIn("GET /search", text)
        with open(os.path.join(d, "report.md")) as f:
            md = f.read()
        # $.total, and p50 and/or p99 of /search (p99 needs a quiet machine to show)
        self.assertRegex(md, r"fail, [23] regressions")
        self.assertIn(r"\$\.total", md)  # Markdown-escaped
        with open(os.path.join(d, "report.html")) as f:
            html = f.read()
        self.assertIn("<html", html.lower())
        for name in ("primary", "secondary", "candidate", "diffd"):
            self.assertTrue(os.path.exists(os.path.join(d, name + ".log")), name)

    @long_test
    def test_demo_exit_finds_exactly_what_was_planted(self):
        t0 = time.monotonic()
        code, out = self.run_demo(DEMO_EXIT="1")
        self.assertEqual(code, 0, out)
        self.assertLess(time.monotonic() - t0, 45, "the demo should take seconds, not minutes")
        # Progress lines, the check table and the self-check's conclusion.
        for line in ("demo: starting backends", "demo: starting diffd", "demo: replaying 600 requests",
                     "demo: gating:", "verdict: fail", "demo: diffd check exited 1",
                     "demo: as planted"):
            self.assertIn(line, out)
        self.assertNotIn("dashboard:", out, "DEMO_EXIT=1 must not wait for Ctrl-C")
        self.assertRegex(out, r"replay: 600 sent \(jsonl\), answered 600: ")
        self.check_report(self.report(), out)
        self.check_files(out)
        # The demo's diffd was stopped cleanly (SIGTERM, exit 0 after its summary).
        with open(os.path.join(self.tmp, "out", "diffd.log")) as f:
            log = f.read()
        self.assertIn("diffd: stopped: 600 requests", log)
        self.assertIsNone(SANITIZER_RE.search(log), log[-4000:])

    @long_test
    def test_self_check_notices_a_missing_regression(self):
        # Without --slow the latency regression is not there: the demo must say so and
        # exit 1 instead of claiming success.
        code, out = self.run_demo(DEMO_EXIT="1", DEMO_CANDIDATE="--change orders.total")
        self.assertEqual(code, 1, out)
        self.assertIn("NOT FOUND although planted: GET /search (latency)", out)
        self.assertNotIn("demo: as planted", out)
        self.assertEqual(found(self.report()), {("GET /orders/:id", "field", "$.total")})

    @long_test
    def test_interactive_dashboard_until_ctrl_c(self):
        log = os.path.join(self.tmp, "demo.log")
        with open(log, "wb") as f:
            p = subprocess.Popen([sys.executable, DEMO], cwd=self.tmp, env=self.env(),
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))

        def text():
            with open(log, errors="replace") as f:
                return f.read()

        def url():
            if p.poll() is not None:
                raise AssertionError("demo exited %s:\n%s" % (p.returncode, text()))
            m = re.search(r"demo: dashboard:\s+(http://127\.0\.0\.1:\d+/)\n", text())
            return m and m.group(1)

        dash = wait_until(url, 45, interval=0.1, what="the dashboard URL")
        self.assertIn("demo: running until Ctrl-C", text())
        self.check_report(self.report(), text())
        with urllib.request.urlopen(dash, timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertIn("text/html", r.headers["Content-Type"])
        with urllib.request.urlopen(dash + "api/v1/report", timeout=5) as r:
            self.assertEqual(found(json.load(r)), PLANTED)
        children = [int(x) for x in subprocess.run(
            ["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()]
        self.assertEqual(len(children), 4, "three backends and diffd: %r" % children)
        time.sleep(1)
        self.assertIsNone(p.poll(), "the demo keeps running until Ctrl-C")

        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(20), 0, text())
        self.assertIn("demo: stopping", text())
        for pid in children:
            self.assertFalse(alive(pid), "process %d outlived the demo" % pid)
        with self.assertRaises(OSError):
            urllib.request.urlopen(dash, timeout=2)

    def test_make_demo_installs_builds_then_runs_the_script(self):
        p = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        deps = next(i for i, l in enumerate(lines) if "apt-get install" in l)
        run = next(i for i, l in enumerate(lines) if "examples/demo/demo.py" in l)
        self.assertLess(deps, run, p.stdout)
        self.assertRegex(p.stdout, r"make( --no-print-directory)? all")


if __name__ == "__main__":
    unittest.main()
