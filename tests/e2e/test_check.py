"""diffd check: exit codes 0 (pass), 1 (regressions, insufficient data) and 2 (malformed
report, unreachable --url, wrong token, unwritable output) on report files and on live
diffd instances; the JUnit, Markdown, HTML and JSON files it writes; several sources
merged into one verdict."""
import json
import os
import re
import xml.etree.ElementTree as ET

from e2elib import E2ETest, TrioTest, refused_port

HOSTILE = "GET /x<img src=x onerror=alert(1)></script>|y"


def bucket_of(us):
    """Histogram bucket of a latency in us (reports/README.md: growth 1.04)."""
    import math
    if us < 1:
        return 0
    b = int(math.floor(math.log(us) / math.log(1.04))) + 1
    while 1.04 ** (b - 1) > us:
        b -= 1
    while 1.04 ** b <= us:
        b += 1
    return b


def endpoint(name, compared, fields=(), p_ms=10.0, c_ms=10.0):
    """An endpoint whose legs all took p_ms (candidate c_ms) on every trial."""
    pb, cb = bucket_of(p_ms * 1000), bucket_of(c_ms * 1000)
    return {
        "name": name, "received": compared, "sampled": compared, "compared": compared,
        "skipped": {"side_effect": 0, "overload": 0, "rule": 0},
        "differing": {"raw": max([f[1] for f in fields] or [0]), "noise": max([f[2] for f in fields] or [0])},
        "fields": [{"path": p, "raw": raw, "noise": noise, "kinds": {"value": raw},
                    "noise_kinds": {"value": noise}, "samples": []} for p, raw, noise in fields],
        "fields_dropped": 0,
        "latency_histogram": {"primary": [[pb, compared]], "secondary": [[pb, compared]],
                              "candidate": [[cb, compared]]},
        "status": {leg: {"2xx": compared} for leg in ("primary", "secondary", "candidate")},
    }


def report(*endpoints, min_compared=10):
    return {
        "diffd": "0.1.0", "generated_at": "2026-11-22T10:00:00Z",
        "backends": {"primary": "http://p", "secondary": "http://s", "candidate": "http://c"},
        "noise_subtraction": True,
        "thresholds": {"relative": 20, "absolute": 0.03, "latency_factor": 1.5, "latency_min_ms": 5,
                       "min_compared": min_compared},
        "histogram": {"unit": "us", "growth": 1.04},
        "totals": {"received": 0, "sampled": 0, "compared": sum(e["compared"] for e in endpoints),
                   "skipped": {"side_effect": 0, "overload": 0, "rule": 0}},
        "endpoints": list(endpoints), "rules": [],
        # Derived values are recomputed by check: these lies must not matter.
        "regressions": [], "verdict": "pass",
    }


class CheckFilesTest(E2ETest):
    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            if isinstance(doc, str):
                f.write(doc)
            else:
                json.dump(doc, f)
        return path

    def check(self, *args):
        return self.run_diffd("check", *args)

    def test_pass(self):
        path = self.write("r.json", report(endpoint("GET /users/:id", 1000, [("$.ts", 300, 290)])))
        code, out, err = self.check("--report", path)
        self.assertEqual(code, 0, out + err)
        self.assertIn("GET /users/:id", out)
        self.assertIn("verdict: pass", out)
        self.assertEqual(err, "")

    def test_field_regression_fails_and_writes_every_output(self):
        path = self.write("r.json", report(endpoint(HOSTILE, 1000, [("$.user.name", 50, 0)]),
                                           endpoint("GET /ok", 1000)))
        junit, md, html, js = (os.path.join(self.tmp, n) for n in ("j.xml", "r.md", "r.html", "m.json"))
        code, out, err = self.check("--report", path, "--junit", junit, "--markdown", md, "--html", html,
                                    "--json", js)
        self.assertEqual(code, 1, out + err)
        self.assertIn("$.user.name", out)
        self.assertIn("raw 50 / noise 0 of 1000 compared", out)
        self.assertIn("verdict: fail", out)

        suite = ET.parse(junit).getroot().find("testsuite")
        cases = suite.findall("testcase")
        self.assertEqual([c.get("name") for c in cases], [HOSTILE, "GET /ok"])
        failures = cases[0].findall("failure")
        self.assertEqual(len(failures), 1)
        self.assertIn("$.user.name", failures[0].get("message"))
        self.assertIn("relative 100.0%", failures[0].get("message"))
        self.assertEqual(cases[1].findall("failure"), [])

        with open(md, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("fail, 1 regression", text)
        # Traffic text is backslash-escaped: no '<' can open HTML.
        self.assertIsNone(re.search(r"(?<!\\)<", text), text)
        self.assertIn("\\<img src\\=x", text)
        with open(html, encoding="utf-8") as f:
            page = f.read()
        self.assertNotIn("<img", page)
        self.assertNotIn("</script>", page)
        self.assertIn("&lt;img src=x onerror=alert(1)&gt;", page)
        with open(js, encoding="utf-8") as f:
            merged = json.load(f)
        self.assertEqual(merged["verdict"], "fail")
        self.assertEqual([(r["type"], r["path"]) for r in merged["regressions"]], [("field", "$.user.name")])

    def test_noise_is_not_a_regression(self):
        # Diffy's worked case: 50 raw differences, 45 of them noise.
        path = self.write("r.json", report(endpoint("GET /a", 1000, [("$.id", 50, 45)])))
        code, out, err = self.check("--report", path)
        self.assertEqual(code, 0, out + err)

    def test_latency_regression_and_fail_on(self):
        path = self.write("r.json", report(endpoint("GET /search", 1000, p_ms=10, c_ms=40)))
        code, out, err = self.check("--report", path)
        self.assertEqual(code, 1, out + err)
        self.assertIn("latency p99", out)
        code, out, err = self.check("--report", path, "--fail-on", "field")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.check("--report", path, "--max-regressions", "2")
        self.assertEqual(code, 0, out + err)  # p50 and p99

    def test_insufficient(self):
        path = self.write("r.json", report(endpoint("GET /a", 5, [("$.x", 5, 0)])))
        code, out, err = self.check("--report", path)
        self.assertEqual(code, 1, out + err)
        self.assertIn("insufficient", out)
        code, out, err = self.check("--report", path, "--allow-insufficient")
        self.assertEqual(code, 0, out + err)
        # --min-compared overrides the report's threshold.
        code, out, err = self.check("--report", path, "--min-compared", "5")
        self.assertEqual(code, 1, out + err)
        self.assertIn("$.x", out)

    def test_merge_of_files(self):
        # Alone each half is insufficient; together they show the regression.
        a = self.write("a.json", report(endpoint("GET /a", 6, [("$.x", 6, 0)])))
        b = self.write("b.json", report(endpoint("GET /a", 6, [("$.x", 6, 0)])))
        for p in (a, b):
            code, out, err = self.check("--report", p, "--allow-insufficient")
            self.assertEqual(code, 0, out + err)
        code, out, err = self.check("--report", a, "--report", b, "--allow-insufficient")
        self.assertEqual(code, 1, out + err)
        self.assertIn("raw 12 / noise 0 of 12 compared", out)

    def test_malformed_report_exits_2(self):
        negative = report(endpoint("GET /a", 3))
        negative["endpoints"][0]["compared"] = -3
        cases = [
            ("trunc.json", '{"endpoints": [', "trunc.json:1:"),
            ("neg.json", json.dumps(negative), "endpoints[0].compared"),
            ("nolist.json", '{"verdict": "pass"}', "endpoints"),
        ]
        for name, text, needle in cases:
            path = self.write(name, text)
            code, out, err = self.check("--report", path)
            self.assertEqual(code, 2, name)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(path, err)
            self.assertIn(needle, err)
        code, out, err = self.check("--report", os.path.join(self.tmp, "missing.json"))
        self.assertEqual(code, 2)
        self.assertIn("missing.json", err)

    def test_unwritable_output_exits_2(self):
        path = self.write("r.json", report(endpoint("GET /a", 100)))
        target = os.path.join(self.tmp, "no", "such", "dir", "r.html")
        code, out, err = self.check("--report", path, "--html", target)
        self.assertEqual(code, 2)
        self.assertIn("--html", err)
        self.assertIn(target, err)

    def test_unreachable_url_exits_2(self):
        port, sock = refused_port()
        self.addCleanup(sock.close)
        url = "http://127.0.0.1:%d" % port
        code, out, err = self.check("--url", url)
        self.assertEqual(code, 2)
        self.assertIn(url, err)
        self.assertIn("unreachable", err)


class CheckLiveTest(TrioTest):
    """Against real diffd instances in front of real backends."""

    def admin_url(self, d):
        return "http://127.0.0.1:%d" % d.admin_port

    def send(self, d, n, target):
        for i in range(n):
            r = d.request("GET", target % i)
            self.assertEqual(r.status, 200, r)

    def test_live_pass_and_regression(self):
        p, s, c, d = self.trio("--respond", "primary", "--wait-all")
        self.send(d, 12, "/items/%d")
        self.settle(d)
        code, out, err = self.run_diffd("check", "--url", self.admin_url(d))
        self.assertEqual(code, 0, out + err)
        self.assertIn("GET /items/:id", out)
        # Only the candidate answers 500: a status regression.
        self.send(d, 12, "/status?code=500&only=candidate&i=%d")
        self.settle(d)
        code, out, err = self.run_diffd("check", "--url", self.admin_url(d))
        self.assertEqual(code, 1, out + err)
        self.assertIn("GET /status  field status: raw 12 / noise 0 of 12 compared", out)

    def test_fleet_is_merged(self):
        p, s, c = self.start_backends()
        d1 = self.start_diffd(p, s, c, "--respond", "primary", "--wait-all")
        d2 = self.start_diffd(p, s, c, "--respond", "primary", "--wait-all")
        self.send(d1, 6, "/status?code=500&only=candidate&i=%d")
        self.send(d2, 6, "/status?code=500&only=candidate&i=%d")
        self.settle(d1)
        self.settle(d2)
        for d in (d1, d2):
            code, out, err = self.run_diffd("check", "--url", self.admin_url(d), "--allow-insufficient")
            self.assertEqual(code, 0, out + err)
        js = os.path.join(self.tmp, "fleet.json")
        code, out, err = self.run_diffd("check", "--url", self.admin_url(d1), "--url", self.admin_url(d2),
                                        "--allow-insufficient", "--json", js)
        self.assertEqual(code, 1, out + err)
        with open(js, encoding="utf-8") as f:
            merged = json.load(f)
        self.assertEqual(merged["totals"]["compared"], 12)
        self.assertEqual(merged["verdict"], "fail")
        self.assertIn({"endpoint": "GET /status", "type": "field", "path": "status"},
                      [{k: r[k] for k in ("endpoint", "type", "path")} for r in merged["regressions"]])

    def test_wrong_token_exits_2(self):
        p, s, c, d = self.trio("--admin-token", "s3cret")
        code, out, err = self.run_diffd("check", "--url", self.admin_url(d), "--token", "wrong",
                                        "--allow-insufficient")
        self.assertEqual(code, 2, out + err)
        self.assertIn("401", err)
        self.assertIn("token", err)
        code, out, err = self.run_diffd("check", "--url", self.admin_url(d), "--allow-insufficient")
        self.assertEqual(code, 2, out + err)
        self.assertIn("token is missing", err)
        code, out, err = self.run_diffd("check", "--url", self.admin_url(d), "--token", "s3cret",
                                        "--allow-insufficient")
        self.assertEqual(code, 0, out + err)
