"""--state end to end (DESIGN §6): counters, histograms and samples survive a SIGKILL
after a snapshot and a SIGTERM; a corrupt or unreadable state file stops the start with
exit 2 and a message naming the file; --reset-state discards it.

Backends are three instances of examples/api/server.py (see test_analysis.py)."""
import os
import signal
import zlib

from e2elib import SANITIZER_RE, wait_until
from test_analysis import SHOP_RULES, ShopTest, by_name, plan

MAGIC = b"DIFFD-STATE 1 "


def counters(rep):
    """What a restart must restore: totals, every endpoint's counters, fields,
    histograms and status counts, and each rule's match count (not generated_at)."""
    eps = {}
    for e in rep["endpoints"]:
        eps[e["name"]] = {
            "received": e["received"], "sampled": e["sampled"], "compared": e["compared"],
            "skipped": e["skipped"], "differing": e["differing"], "fields_dropped": e["fields_dropped"],
            # Which stored trials a field lists depends on the order the workers'
            # shards are merged in, which varies between two reports: compare how many.
            "fields": {f["path"]: (f["raw"], f["noise"], f["kinds"], f["noise_kinds"], f["regression"],
                                   len(f["samples"])) for f in e["fields"]},
            "latency_ms": e["latency_ms"], "latency_histogram": e["latency_histogram"],
            "latency_regression": e["latency_regression"], "status": e["status"],
        }
    return {"totals": rep["totals"], "endpoints": eps,
            "rules": sorted((r["file"], r["line"], r["text"], r["matched"]) for r in rep["rules"]),
            "regressions": sorted((g["endpoint"], g["type"], g.get("path") or g.get("quantile"))
                                  for g in rep["regressions"]),
            "verdict": rep["verdict"]}


def file_id(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def state_bytes(doc):
    """A state file with a correct header (length, CRC-32) around doc."""
    return MAGIC + b"%d %08x\n" % (len(doc), zlib.crc32(doc)) + doc


class StateTest(ShopTest):
    def serve_args(self, state, *extra):
        return ("--rules", SHOP_RULES, "--state", state, "--snapshot-interval", "1") + extra

    def wait_new_snapshots(self, path, count=2, timeout=10.0):
        """Wait until the state file was replaced `count` times from now. Two: the
        second snapshot was certainly taken after this call, so it holds everything
        that happened before."""
        seen = file_id(path)
        for i in range(count):
            prev = seen
            seen = wait_until(lambda: (lambda f: f if f is not None and f != prev else None)(file_id(path)),
                              timeout, interval=0.05, what="snapshot %d of %s" % (i + 1, path))
        return seen

    def check_header(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(MAGIC), data[:40])
        header, _, body = data.partition(b"\n")
        length, crc = header[len(MAGIC):].split()
        self.assertEqual(int(length), len(body), header)
        self.assertEqual(int(crc, 16), zlib.crc32(body), header)
        return data

    def start_fails(self, p, c, *args):
        """Run `diffd serve` expected to refuse to start; returns (code, stderr)."""
        code, out, err = self.run_diffd("serve", "--primary", p.url, "--candidate", c.url,
                                        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                                        "--threads", "1", *args, timeout=15)
        self.assertNotIn("diffd: listening", err)
        self.assertIsNone(SANITIZER_RE.search(err), "sanitizer report:\n%s" % err[-6000:])
        return code, err

    def test_sigkill_after_snapshot_restores_counts(self):
        state = os.path.join(self.tmp, "diffd.state")
        p, s, c = self.shop_trio("--change", "orders.total", "--error-rate", "users:20")
        d = self.start_diffd(p, s, c, *self.serve_args(state), expect_exit_zero=False)
        self.run_traffic(d, plan(40, posts=4))
        before = self.report(d)
        self.wait_new_snapshots(state)
        snap = self.report(d)  # right after the snapshot; no traffic since `before`
        self.assertEqual(counters(snap), counters(before), "counters moved without traffic")
        self.check_header(state)
        self.check_shape(snap)
        self.assertEqual(snap["totals"]["received"], 4 * 40 + 4)
        self.assertEqual(snap["totals"]["skipped"]["side_effect"], 4)
        self.assertEqual(snap["verdict"], "fail")  # the changed total and the 500s

        d.signal(signal.SIGKILL)
        self.assertEqual(d.wait_exit(5), -signal.SIGKILL)

        d2 = self.start_diffd(p, s, c, *self.serve_args(state))
        after = self.report(d2)
        self.check_shape(after)
        self.assertEqual(counters(after), counters(snap))
        # The samples listed come from the killed run's stored trials.
        runs = {sid.rsplit("-", 2)[0] for e in snap["endpoints"] for f in e["fields"] for sid in f["samples"]}
        restored = {sid.rsplit("-", 2)[0] for e in after["endpoints"] for f in e["fields"] for sid in f["samples"]}
        self.assertTrue(restored and restored <= runs, (restored, runs))
        self.check_rules_listed(snap)

        # The restored counts go on from there.
        self.run_traffic(d2, plan(5, start=40))
        more = self.report(d2)
        self.assertEqual(more["totals"]["received"], snap["totals"]["received"] + 20)
        self.assertEqual(more["totals"]["compared"], snap["totals"]["compared"] + 20)
        eps, old = by_name(more), by_name(snap)
        for name in ("GET /users/:id", "GET /orders/:id", "GET /search", "GET /health"):
            self.assertEqual(eps[name]["compared"], old[name]["compared"] + 5, name)
            self.assertEqual(eps[name]["latency_ms"]["primary"]["n"],
                             old[name]["latency_ms"]["primary"]["n"] + 5, name)

    def test_sigterm_writes_state_and_restart_restores_it(self):
        state = os.path.join(self.tmp, "diffd.state")
        p, s, c = self.shop_trio("--change", "search.results.price")
        # A long interval: only the snapshot at shutdown can hold the counts.
        d = self.start_diffd(p, s, c, "--rules", SHOP_RULES, "--state", state, "--snapshot-interval", "3600")
        final = counters(self.run_traffic(d, plan(15)))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(15), 0)
        self.check_header(state)
        d2 = self.start_diffd(p, s, c, "--rules", SHOP_RULES, "--state", state)
        self.assertEqual(counters(self.report(d2)), final)
        self.assertIn(("GET /search", "field", "$.results[*].price"), final["regressions"])

    def test_corrupt_state_file_exits_2_naming_it(self):
        p, s, c = self.shop_trio()
        # A real snapshot to damage.
        good = os.path.join(self.tmp, "good.state")
        d = self.start_diffd(p, s, c, *self.serve_args(good))
        self.run_traffic(d, plan(5))
        self.wait_new_snapshots(good)
        data = self.check_header(good)
        header, _, body = data.partition(b"\n")
        flipped = bytearray(data)
        flipped[len(header) + 1 + len(body) // 2] ^= 0x01

        cases = {
            "random.state": os.urandom(3000),
            "text.state": b"this is not a state file\n",
            "empty.state": b"",
            "truncated.state": data[: len(data) // 2],
            "bitflip.state": bytes(flipped),
            "longer.state": data + b"\n{}",
            "notjson.state": state_bytes(b"{\"totals\": [1, 2,"),
            "wrongdoc.state": state_bytes(b"[\"DIFFD\", 1]"),
            "wrongtypes.state": state_bytes(b"{\"totals\": {\"received\": \"many\"}, \"endpoints\": 7}"),
        }
        for name, content in cases.items():
            path = os.path.join(self.tmp, name)
            with open(path, "wb") as f:
                f.write(content)
            with self.subTest(state=name):
                code, err = self.start_fails(p, c, "--state", path)
                self.assertEqual(code, 2, err)
                self.assertIn(path, err)
                self.assertEqual(len(err.strip().splitlines()), 1, "one clear line: %r" % err)
                # Never silently dropped: the file is still there, unchanged.
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), content)
        # A path that cannot be read as a file.
        path = os.path.join(self.tmp, "dir.state")
        os.mkdir(path)
        with self.subTest(state="directory"):
            code, err = self.start_fails(p, c, "--state", path)
            self.assertEqual(code, 2, err)
            self.assertIn(path, err)

    def test_reset_state_discards_and_starts_empty(self):
        p, s, c = self.shop_trio()
        # A garbage file: refused without --reset-state, discarded with it.
        state = os.path.join(self.tmp, "garbage.state")
        with open(state, "wb") as f:
            f.write(b"garbage\x00\xff" * 100)
        code, err = self.start_fails(p, c, "--state", state)
        self.assertEqual(code, 2, err)
        d = self.start_diffd(p, s, c, *self.serve_args(state, "--reset-state"))
        rep = self.report(d)
        self.check_shape(rep)
        self.assertEqual(rep["totals"], {"received": 0, "sampled": 0, "compared": 0,
                                         "skipped": {"side_effect": 0, "overload": 0, "rule": 0, "analysis": 0}})
        self.assertEqual(rep["endpoints"], [])
        self.assertEqual(rep["verdict"], "insufficient")
        # It snapshots into the same path again, a valid file this time.
        self.run_traffic(d, plan(3))
        self.wait_new_snapshots(state)
        self.check_header(state)
        held = counters(self.report(d))
        self.assertEqual(held["totals"]["received"], 12)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(15), 0)

        # The file it wrote restores: the counts are back without --reset-state ...
        d2 = self.start_diffd(p, s, c, *self.serve_args(state))
        self.assertEqual(counters(self.report(d2)), held)
        d2.signal(signal.SIGTERM)
        self.assertEqual(d2.wait_exit(15), 0)
        # ... and a valid file with counts is discarded all the same with it.
        d3 = self.start_diffd(p, s, c, *self.serve_args(state, "--reset-state"))
        rep = self.report(d3)
        self.assertEqual(rep["totals"]["received"], 0)
        self.assertEqual(rep["endpoints"], [])
