#!/usr/bin/env python3
"""`make demo`: diffd end to end on this machine, in about ten seconds.

    make demo                               # installs what is missing, builds, runs this
    python3 examples/demo/demo.py           # the same with an already built build/diffd

1. starts three instances of the example shop API (examples/api/server.py) on free
   loopback ports: the primary and the secondary run the current version; the
   candidate has one planted field regression (`--change orders.total`: every order's
   total is 10% too high) and one slow endpoint (`--slow search:10`: /search takes 80 ms
   instead of 8 ms);
2. starts `diffd serve` in front of them with rules/default.rules and the shop API's
   noise rules (rules/examples/shop-api.rules);
3. replays a recorded day of traffic (examples/demo/traffic.jsonl, 600 requests) through
   diffd's proxy port with `diffd replay`;
4. runs `diffd check` on the live report, which must find exactly the two planted
   regressions (GET /orders/:id $.total, and latency on GET /search) and nothing else,
   so it exits 1; it also writes the JUnit, Markdown, HTML and JSON reports;
5. prints the dashboard's URL and keeps everything running until Ctrl-C, then stops
   the processes it started (only those).

Environment:
    DIFFD_BIN        the diffd binary [build/diffd]
    DEMO_EXIT=1      stop after step 4 (tests, CI); the exit status is 0 when check found
                     exactly what was planted (and exited 1 because of it), 1 otherwise
    DEMO_ADMIN       [ADDR:]PORT of diffd's admin listener: dashboard and API
                     [127.0.0.1:0, a free port]; e.g. DEMO_ADMIN=0.0.0.0:8888 to browse
                     from another machine (the admin API has no token in the demo)
    DEMO_OUT         directory for reports and process logs [build/demo]
    DEMO_CANDIDATE   the candidate's misbehaviour switches
                     ["--change orders.total --slow search:10"]; the self-check still
                     expects the default's two regressions
"""
import ctypes
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOP = os.path.join("examples", "api", "server.py")
TRAFFIC = os.path.join("examples", "demo", "traffic.jsonl")
RULES = [os.path.join("rules", "default.rules"), os.path.join("rules", "examples", "shop-api.rules")]
DEFAULT_CANDIDATE = "--change orders.total --slow search:10"
# What the default candidate plants: (endpoint, type, field path or None for latency).
PLANTED = {("GET /orders/:id", "field", "$.total"), ("GET /search", "latency", None)}
LISTEN_RE = re.compile(r"diffd: listening proxy=(\S+):(\d+) admin=(\S+):(\d+) threads=\d+")


def say(msg):
    print("demo: " + msg, flush=True)


def rel(path):
    """A path under the repository relative to it (the demo runs there), others as they are."""
    if os.path.isabs(path) and path.startswith(REPO + os.sep):
        return os.path.relpath(path, REPO)
    return path


def cmdline(argv):
    return " ".join(shlex.quote(rel(a) if a.startswith(REPO) else a) for a in argv)


def die_with_parent():
    """In the child, before exec: get SIGTERM when the demo dies, however it dies, so
    nothing it started outlives it (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Demo:
    def __init__(self):
        self.bin = os.environ.get("DIFFD_BIN") or os.path.join(REPO, "build", "diffd")
        self.out = os.path.abspath(os.environ.get("DEMO_OUT") or os.path.join(REPO, "build", "demo"))
        self.admin = os.environ.get("DEMO_ADMIN") or "127.0.0.1:0"
        self.candidate_args = shlex.split(os.environ.get("DEMO_CANDIDATE", DEFAULT_CANDIDATE))
        self.procs = []  # (name, Popen), in start order

    # ---- processes ----

    def spawn(self, name, argv):
        log = open(os.path.join(self.out, name + ".log"), "wb")
        p = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        log.close()
        self.procs.append((name, p))
        return p

    def wait_line(self, name, p, regex, timeout=15):
        path = os.path.join(self.out, name + ".log")
        deadline = time.monotonic() + timeout
        while True:
            with open(path, errors="replace") as f:
                text = f.read()
            m = regex.search(text)
            if m:
                return m
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("demo: %s %s; its output (%s):\n%s" % (
                    name, "exited with %s" % p.returncode if p.poll() is not None else "did not start in time",
                    rel(path), text[-3000:]))
            time.sleep(0.05)

    def stop_all(self):
        """SIGTERM what this demo started (diffd first: it finishes its trials and
        prints per-leg counts into its log), wait, and SIGKILL what is left."""
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(12 if name == "diffd" else 3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    # ---- steps ----

    def start_backends(self):
        say("starting backends (%s): primary and secondary run the current version; the "
            "candidate runs with %s" % (SHOP, " ".join(self.candidate_args) or "no change"))
        ports = {}
        for role, extra in (("primary", []), ("secondary", []), ("candidate", self.candidate_args)):
            argv = [sys.executable, os.path.join(REPO, SHOP), "--port", "0", "--name", role] + extra
            p = self.spawn(role, argv)
            ports[role] = int(self.wait_line(role, p, re.compile(r"PORT (\d+)")).group(1))
            say("  %-9s http://127.0.0.1:%d   (%s)" % (role, ports[role], cmdline(argv[1:])))
        return ports

    def start_diffd(self, ports):
        argv = [self.bin, "serve",
                "--primary", "http://127.0.0.1:%d" % ports["primary"],
                "--secondary", "http://127.0.0.1:%d" % ports["secondary"],
                "--candidate", "http://127.0.0.1:%d" % ports["candidate"],
                "--listen", "127.0.0.1:0", "--admin", self.admin]
        for r in RULES:
            argv += ["--rules", r]
        # --wait-all: each replayed request is answered once all three legs finished,
        # so the replay is paced by the slowest backend instead of being shed.
        argv += ["--respond", "primary", "--wait-all"]
        say("starting diffd: " + cmdline(argv))
        p = self.spawn("diffd", argv)
        m = self.wait_line("diffd", p, LISTEN_RE)
        proxy = int(m.group(2))
        host = m.group(3)
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        return proxy, "http://%s:%d" % (host, int(m.group(4)))

    def replay(self, proxy):
        with open(os.path.join(REPO, TRAFFIC)) as f:
            n = sum(1 for line in f if line.strip())
        argv = [self.bin, "replay", "--target", "http://127.0.0.1:%d" % proxy,
                "--input", TRAFFIC, "--concurrency", "8"]
        say("replaying %d requests: %s" % (n, cmdline(argv)))
        r = subprocess.run(argv, cwd=REPO, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise SystemExit("demo: diffd replay exited %d" % r.returncode)
        return n

    def settle(self, admin_url, timeout=30):
        """Wait until every replayed request is accounted for and no trial is in flight."""
        deadline = time.monotonic() + timeout
        while True:
            with urllib.request.urlopen(admin_url + "/healthz", timeout=5) as r:
                h = json.load(r)
            t = h["totals"]
            done = t["compared"] + t["skipped"]["overload"] + t["skipped"]["side_effect"]
            if h["inflight"] == 0 and done >= t["sampled"]:
                return t
            if time.monotonic() > deadline:
                raise SystemExit("demo: diffd did not settle: %r" % h)
            time.sleep(0.1)

    def check(self, admin_url):
        files = {"--junit": "junit.xml", "--markdown": "report.md", "--html": "report.html",
                 "--json": "report.json"}
        argv = [self.bin, "check", "--url", admin_url]
        for flag, name in files.items():
            argv += [flag, os.path.join(self.out, name)]
        say("gating: " + cmdline(argv))
        print(flush=True)
        code = subprocess.run(argv, cwd=REPO, stdin=subprocess.DEVNULL).returncode
        print(flush=True)
        say("diffd check exited %d (0 pass, 1 regressions, 2 error); reports in %s/: %s"
            % (code, rel(self.out), ", ".join(files.values())))
        return code

    def verify(self, code):
        """True when check failed the run because of exactly the planted regressions."""
        with open(os.path.join(self.out, "report.json")) as f:
            rep = json.load(f)
        found = {(g["endpoint"], g["type"], g.get("path") if g["type"] == "field" else None)
                 for g in rep["regressions"]}
        show = lambda s: ", ".join("%s %s" % (e, p or "(latency)") for e, _, p in sorted(s, key=str))
        missed, extra = PLANTED - found, found - PLANTED
        if not missed and not extra and code == 1 and rep["verdict"] == "fail":
            say("as planted: diffd found the changed order total and the slow search, "
                "and nothing else (the noise was subtracted)")
            return True
        if missed:
            say("NOT FOUND although planted: " + show(missed))
        if extra:
            say("found but NOT planted: " + show(extra))
        if code != 1:
            say("expected diffd check to exit 1, got %d" % code)
        return False

    def run(self):
        os.chdir(REPO)
        if not os.access(self.bin, os.X_OK):
            raise SystemExit("demo: no diffd binary at %s (run `make` first, or set DIFFD_BIN)" % self.bin)
        os.makedirs(self.out, exist_ok=True)
        for name in ("junit.xml", "report.md", "report.html", "report.json"):
            if os.path.exists(os.path.join(self.out, name)):
                os.unlink(os.path.join(self.out, name))
        ports = self.start_backends()
        proxy, admin_url = self.start_diffd(ports)
        t0 = time.monotonic()
        self.replay(proxy)
        t = self.settle(admin_url)
        say("diffd received %d requests, compared %d, skipped %d with side effects (POST) "
            "in %.1f s" % (t["received"], t["compared"], t["skipped"]["side_effect"],
                           time.monotonic() - t0))
        code = self.check(admin_url)
        ok = self.verify(code)
        if os.environ.get("DEMO_EXIT"):
            return 0 if ok else 1
        print(flush=True)
        say("dashboard:  %s/" % admin_url)
        say("report:     curl -s %s/api/v1/report" % admin_url)
        say("            %s check --url %s" % (rel(self.bin), admin_url))
        say("more traffic: %s replay --target http://127.0.0.1:%d --input %s"
            % (rel(self.bin), proxy, TRAFFIC))
        say("logs of the backends and diffd: %s/*.log" % rel(self.out))
        say("running until Ctrl-C")
        while all(p.poll() is None for _, p in self.procs):
            time.sleep(0.5)
        gone = [name for name, p in self.procs if p.poll() is not None]
        say("%s exited on its own; stopping the rest" % ", ".join(gone))
        return 1


def main():
    demo = Demo()
    # SIGTERM (e.g. from a CI runner) is handled like Ctrl-C; SIGINT explicitly too,
    # as a shell starting the demo in the background makes it inherit SIGINT ignored.
    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return demo.run()
    except KeyboardInterrupt:
        print(flush=True)
        say("stopping")
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop_all()


if __name__ == "__main__":
    sys.exit(main())
