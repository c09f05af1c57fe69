#!/usr/bin/env python3
"""Runner for diffd's end-to-end tests (`make e2e-test`).

Discovers tests/e2e/test_*.py (unittest), runs every test case in its own process
group with a per-test timeout (a timed-out test's group is killed: the test process and
the backends/diffd/nginx it started, nothing else), a few in parallel, and ends with

    e2e: N passed, N failed[, N skipped]

Exit status 1 when anything failed. Known diffd bugs are marked in the tests with
e2elib.known_bug (unittest.expectedFailure): they count as skipped while they fail, and
as failed once they pass (so the mark gets removed).

    DIFFD_BIN=build/diffd python3 tests/e2e/run.py [-j N] [-t SECONDS] [-v] [PATTERN...]

PATTERN selects tests whose id (module.Class.method) contains it. Environment:
E2E_JOBS (parallel tests, default 3), E2E_TIMEOUT (seconds per test, default 60),
E2E_KEEP=1 keeps each test's tmpdir.
"""
import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "E2E-RESULT "


def discover():
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    ids = []
    broken = []

    def walk(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                walk(t)
            elif type(t).__name__ in ("_FailedTest", "ModuleImportFailure"):
                broken.append((t.id(), str(getattr(t, "_exception", ""))))
            else:
                ids.append(t.id())

    walk(suite)
    return ids, broken


class OneResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcome = "pass"
        self.detail = ""

    def _fail(self, text):
        self.detail = (self.detail + "\n" + text) if self.outcome == "fail" else text
        self.outcome = "fail"

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.outcome, self.detail = "skip", reason

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail("%s\n%s" % (subtest, self._exc_info_to_string(err, test)))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.outcome = "xfail"
        self.detail = self._exc_info_to_string(err, test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.outcome = "fail"
        self.detail = "marked known_bug but passed: remove the mark"


def run_one(test_id):
    """Child mode: run a single test, print its outcome as the last stdout line."""
    sys.path.insert(0, HERE)
    test = unittest.defaultTestLoader.loadTestsFromName(test_id)
    result = OneResult()
    test.run(result)
    # Belt and braces: anything recorded as a failure or error fails the test.
    if (result.errors or result.failures) and result.outcome in ("pass", "skip"):
        result.outcome = "fail"
        result.detail = "\n".join(t for _, t in result.failures + result.errors)
    sys.stdout.flush()
    print(MARK + json.dumps({"outcome": result.outcome, "detail": result.detail}), flush=True)
    return 0


# Process groups of the tests running now, killed if the runner itself is interrupted
# (they sit in their own sessions, so a Ctrl-C does not reach them).
RUNNING = set()
RUNNING_LOCK = threading.Lock()


def kill_running():
    with RUNNING_LOCK:
        for pgid in list(RUNNING):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        RUNNING.clear()


def run_child(test_id, timeout):
    start = time.monotonic()
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", test_id],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    with RUNNING_LOCK:
        RUNNING.add(p.pid)
    try:
        return _finish_child(p, test_id, timeout, start)
    finally:
        with RUNNING_LOCK:
            RUNNING.discard(p.pid)


def _finish_child(p, test_id, timeout, start):
    try:
        out, _ = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        # The child leads its own process group: the test and what it started.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        timed_out = True
    # Whatever the test left behind in its group (it should have cleaned up) goes too.
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    elapsed = time.monotonic() - start
    text = out.decode("utf-8", "replace")
    outcome, detail = "fail", ""
    if timed_out:
        detail = "timed out after %ds" % timeout
    else:
        for line in reversed(text.splitlines()):
            if line.startswith(MARK):
                r = json.loads(line[len(MARK):])
                outcome, detail = r["outcome"], r["detail"]
                break
        else:
            detail = "test process exited %s without a result" % p.returncode
    log = "\n".join(l for l in text.splitlines() if not l.startswith(MARK))
    return test_id, outcome, detail, log, elapsed


def main():
    ap = argparse.ArgumentParser(description="diffd end-to-end tests")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("E2E_JOBS", "3")))
    ap.add_argument("-t", "--timeout", type=int, default=int(os.environ.get("E2E_TIMEOUT", "60")))
    ap.add_argument("-v", "--verbose", action="store_true", help="print test output for passes too")
    ap.add_argument("patterns", nargs="*")
    args = ap.parse_args()
    if args.one:
        return run_one(args.one)

    binary = os.environ.get("DIFFD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        print("e2e: DIFFD_BIN must name the diffd binary (got %r)" % binary, file=sys.stderr)
        print("e2e: 0 passed, 1 failed")
        return 1

    ids, broken = discover()
    if args.patterns:
        ids = [i for i in ids if any(p in i for p in args.patterns)]
    # Longest tests first so parallel workers finish together.
    ids.sort(key=lambda i: (not getattr(_lookup(i), "e2e_long", False), i))

    counts = {"pass": 0, "fail": 0, "skip": 0}
    failed = []
    for test_id, err in broken:
        counts["fail"] += 1
        failed.append(test_id)
        print("FAIL  %s (could not be loaded)" % test_id)
        print(_indent(err))

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    t0 = time.monotonic()
    try:
        run_all(ids, args, counts, failed)
    except KeyboardInterrupt:
        kill_running()
        print("e2e: interrupted")
        return 130

    if failed:
        print("\nfailed tests:\n  " + "\n  ".join(sorted(failed)))
    print("(%.1fs)" % (time.monotonic() - t0))
    line = "e2e: %d passed, %d failed" % (counts["pass"], counts["fail"])
    if counts["skip"]:
        line += ", %d skipped" % counts["skip"]
    print(line, flush=True)
    return 1 if counts["fail"] or not ids else 0


def run_all(ids, args, counts, failed):
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        _collect(ex, ids, args, counts, failed)
    except KeyboardInterrupt:
        # Do not wait for running tests: kill their process groups.
        ex.shutdown(wait=False, cancel_futures=True)
        kill_running()
        raise
    ex.shutdown()


def _collect(ex, ids, args, counts, failed):
    futs = [ex.submit(run_child, i, args.timeout) for i in ids]
    for fut in concurrent.futures.as_completed(futs):
        test_id, outcome, detail, log, elapsed = fut.result()
        label = {"pass": "ok   ", "fail": "FAIL ", "skip": "skip ", "xfail": "XFAIL"}[outcome]
        extra = ""
        if outcome == "skip":
            extra = "  (%s)" % detail
        elif outcome == "xfail":
            extra = "  (known diffd bug: %s)" % getattr(_lookup(test_id), "e2e_known_bug", "?")
        print("%s %s  %.1fs%s" % (label, test_id, elapsed, extra), flush=True)
        if outcome == "fail":
            print(_indent(detail))
            if log.strip():
                print(_indent("---- test output ----\n" + log[-8000:]))
        elif args.verbose:
            if outcome == "xfail":
                print(_indent(detail))
            if log.strip():
                print(_indent(log[-4000:]))
        counts["skip" if outcome == "xfail" else outcome] += 1
        if outcome == "fail":
            failed.append(test_id)


def _lookup(test_id):
    mod, cls, meth = test_id.rsplit(".", 2)
    return getattr(getattr(sys.modules[mod], cls), meth)


def _indent(text):
    return "\n".join("    " + l for l in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
