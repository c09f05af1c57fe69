"""The admin API of DESIGN §8 over real sockets: every route, auth on and off, bad
names and bad bodies (JSON errors), rules reload keeping the old rules on error,
suggested rules that lint clean, and a live /metrics that passes promtool."""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse

from e2elib import DIFFD_BIN, REPO, get_json, request, wait_until
from test_analysis import ShopTest, plan, send

SHOP_RULES = os.path.join(REPO, "rules", "examples", "shop-api.rules")


def enc(s):
    return urllib.parse.quote(s, safe="")


class AdminApiTest(ShopTest):
    def assertJsonError(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.header("Content-Type", "").startswith("application/json"), r)
        self.assertIsInstance(r.json().get("error"), str, r)
        self.assertTrue(r.json()["error"], r)

    def api(self, d, method, target, body=None, headers=None):
        return request(d.admin_port, method, target, headers=headers, body=body)

    def planted(self, *diffd_args):
        """Shop trio with a planted change of $.total on /orders, diffd in front, traffic
        sent and compared."""
        p, s, c = self.shop_trio("--change", "orders.total")
        d = self.start_diffd(p, s, c, "--rules", SHOP_RULES, *diffd_args)
        self.run_traffic(d, plan(20, endpoints=("users", "orders")))
        return d

    def test_report_endpoints_fields(self):
        d = self.planted()
        rep = get_json(d.admin_port, "/api/v1/report")
        self.assertEqual(rep["verdict"], "fail")
        eps = get_json(d.admin_port, "/api/v1/endpoints")
        self.assertEqual(eps["verdict"], "fail")
        by = {e["name"]: e for e in eps["endpoints"]}
        self.assertEqual(by["GET /orders/:id"]["regressions"], 1)
        self.assertEqual(by["GET /users/:id"]["regressions"], 0)
        for e in eps["endpoints"]:
            self.assertNotIn("fields", e)
            self.assertIn("latency_ms", e)
            self.assertEqual(e["compared"], 20)

        f = get_json(d.admin_port, "/api/v1/endpoints/%s/fields" % enc("GET /orders/:id"))
        self.assertEqual(f["name"], "GET /orders/:id")
        self.assertEqual(f["fields"][0]["path"], "$.total")
        self.assertTrue(f["fields"][0]["regression"])
        self.assertIn("latency_histogram", f)
        self.assertGreater(sum(c for _, c in f["latency_histogram"]["candidate"]), 0)

        self.assertJsonError(self.api(d, "GET", "/api/v1/endpoints/%s/fields" % enc("GET /nope")),
                             404)
        self.assertJsonError(self.api(d, "GET", "/api/v1/endpoints/%zz/fields"), 400)
        self.assertJsonError(self.api(d, "GET", "/api/v1/nothing-here"), 404)
        self.assertJsonError(self.api(d, "POST", "/api/v1/report"), 405)
        self.assertJsonError(self.api(d, "GET", "/api/v1/clear"), 405)

    def test_samples(self):
        d = self.planted()
        q = "/api/v1/samples?endpoint=%s&field=%s" % (enc("GET /orders/:id"), enc("$.total"))
        listed = get_json(d.admin_port, q)["samples"]
        self.assertTrue(listed, "a regressed field has samples")
        for s in listed:
            self.assertEqual(s["endpoint"], "GET /orders/:id")
            self.assertIn("$.total", s["fields"])
            self.assertEqual(set(s["status"]), {"primary", "secondary", "candidate"})
        none = get_json(d.admin_port, "/api/v1/samples?field=%s" % enc("$.no.such"))
        self.assertEqual(none["samples"], [])

        sid = listed[0]["id"]
        doc = get_json(d.admin_port, "/api/v1/samples/%s" % enc(sid))
        self.assertEqual(doc["id"], sid)
        self.assertEqual(doc["request"]["method"], "GET")
        self.assertRegex(doc["request"]["target"], r"^/orders/\d+$")
        self.assertEqual(set(doc["responses"]), {"primary", "secondary", "candidate"})
        raw_paths = [x["path"] for x in doc["differences"]["raw"]]
        self.assertEqual(raw_paths, ["$.total"])
        p_total = json.loads(doc["responses"]["primary"]["body"])["total"]
        c_total = json.loads(doc["responses"]["candidate"]["body"])["total"]
        self.assertNotEqual(p_total, c_total)

        patch = get_json(d.admin_port, "/api/v1/samples/%s?format=patch" % enc(sid))
        # Ignored noise (request_id, generated_at) is not part of the patch.
        self.assertEqual(patch, [{"op": "replace", "path": "/total", "value": c_total}])
        self.assertJsonError(self.api(d, "GET", "/api/v1/samples/%s?format=xml" % enc(sid)), 400)
        self.assertJsonError(self.api(d, "GET", "/api/v1/samples/t-no-such"), 404)

    def test_config_patch_and_clear(self):
        d = self.planted()
        cfg = get_json(d.admin_port, "/api/v1/config")
        self.assertEqual(cfg["sample_percent"], 100)
        self.assertIs(cfg["paused"], False)
        self.assertEqual(cfg["respond"], "primary")

        for body in (b"not json", b"[1,2]", b'{"sample_percent": 101}',
                     b'{"sample_percent": "10"}', b'{"paused": 1}', b'{"threads": 4}', b""):
            r = self.api(d, "PATCH", "/api/v1/config", body=body,
                         headers={"Content-Type": "application/json"})
            self.assertJsonError(r, 400)
        self.assertEqual(get_json(d.admin_port, "/api/v1/config")["sample_percent"], 100,
                         "a rejected PATCH changes nothing")

        # sample_percent 0 takes effect at once on every worker: nothing more compared.
        r = self.api(d, "PATCH", "/api/v1/config", body=b'{"sample_percent": 0}')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sample_percent"], 0)
        before = d.healthz()["totals"]
        send(d.port, plan(10, endpoints=("users",), start=100))
        after = d.healthz()["totals"]
        self.assertEqual(after["received"], before["received"] + 10)
        self.assertEqual(after["sampled"], before["sampled"])

        # paused likewise, with sampling back at 100.
        r = self.api(d, "PATCH", "/api/v1/config", body=b'{"sample_percent": 100, "paused": true}')
        self.assertEqual(r.json()["paused"], True)
        send(d.port, plan(10, endpoints=("users",), start=200))
        self.assertEqual(d.healthz()["totals"]["sampled"], before["sampled"])
        self.api(d, "PATCH", "/api/v1/config", body=b'{"paused": false}')
        send(d.port, plan(5, endpoints=("users",), start=300))
        self.assertEqual(d.healthz()["totals"]["sampled"], before["sampled"] + 5)
        # The client is answered when the primary is; let the other legs finish so
        # no trial lands after the clear.
        self.settle(d)

        r = self.api(d, "POST", "/api/v1/clear")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"cleared": True})
        rep = get_json(d.admin_port, "/api/v1/report")
        self.assertEqual(rep["totals"]["compared"], 0)
        self.assertEqual(rep["endpoints"], [])
        self.assertEqual(get_json(d.admin_port, "/api/v1/samples")["samples"], [])

    def test_rules_reload_keeps_old_rules_on_error(self):
        rules_dir = os.path.join(self.tmp, "rules")
        os.mkdir(rules_dir)
        path = os.path.join(rules_dir, "shop.rules")
        shutil.copy(SHOP_RULES, path)
        p, s, c = self.shop_trio()
        d = self.start_diffd(p, s, c, "--rules", rules_dir)
        self.run_traffic(d, plan(12, endpoints=("users",)))
        rules = get_json(d.admin_port, "/api/v1/rules")
        self.assertEqual(rules["paths"], [rules_dir])
        self.assertEqual(len(rules["files"]), 1)
        with open(SHOP_RULES, encoding="utf-8") as f:
            self.assertEqual(rules["files"][0]["text"], f.read())
        self.assertTrue(any(r["matched"] > 0 for r in rules["rules"]))
        self.assertIs(rules["last_reload"]["ok"], True)
        n_rules = len(rules["rules"])

        with open(path, "a", encoding="utf-8") as f:
            f.write("ignroe $.oops\n")
        r = self.api(d, "POST", "/api/v1/rules/reload")
        self.assertEqual(r.status, 400, r)
        self.assertIs(r.json()["ok"], False)
        self.assertRegex(r.json()["error"], r"shop\.rules:\d+:\d+: .*ignroe")
        after = get_json(d.admin_port, "/api/v1/rules")
        self.assertIs(after["last_reload"]["ok"], False)
        self.assertIn("ignroe", after["last_reload"]["error"])
        self.assertEqual(len(after["rules"]), n_rules, "the old rules stay in force")
        # and they still apply: no noise field shows up
        self.run_traffic(d, plan(12, endpoints=("users",), start=50))
        rep = get_json(d.admin_port, "/api/v1/report")
        # (Only fields: latency on a loaded test machine is not what this is about.)
        fields = [r for r in rep["regressions"] if r["type"] == "field"]
        self.assertEqual(fields, [])
        differing = [f["path"] for e in rep["endpoints"] for f in e["fields"]]
        self.assertEqual(differing, [], "the old rules still silence the noise")

        # A fixed file reloads, by API and by SIGHUP.
        shutil.copy(SHOP_RULES, path)
        with open(path, "a", encoding="utf-8") as f:
            f.write("[GET /health]\nskip\n")
        r = self.api(d, "POST", "/api/v1/rules/reload")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"ok": True, "rules": n_rules + 1})
        with open(path, "a", encoding="utf-8") as f:
            f.write("[GET /search]\nskip\n")
        os.kill(d.proc.p.pid, signal.SIGHUP)
        wait_until(lambda: len(get_json(d.admin_port, "/api/v1/rules")["rules"]) == n_rules + 2,
                   5, what="SIGHUP reload")
        send(d.port, plan(3, endpoints=("search",), start=70))
        wait_until(lambda: d.healthz()["totals"]["skipped"]["rule"] >= 3, 5,
                   what="the reloaded skip rule")

    def test_suggested_rules_lint_clean(self):
        p, s, c = self.shop_trio()
        d = self.start_diffd(p, s, c)  # no rules: all the noise shows
        self.run_traffic(d, plan(15, endpoints=("users", "orders")))
        r = self.api(d, "GET", "/api/v1/rules/suggested")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r)
        text = r.body.decode()
        self.assertIn("[GET /orders/:id]", text)
        self.assertIn("ignore $.request_id", text)
        self.assertIn("ignore-header x-request-id", text)
        path = os.path.join(self.tmp, "suggested.rules")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        lint = subprocess.run([DIFFD_BIN, "rules", "lint", path], capture_output=True, timeout=20)
        self.assertEqual(lint.returncode, 0, lint.stderr)

    def test_metrics_pass_promtool(self):
        d = self.planted()
        r = self.api(d, "GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"), r)
        text = r.body.decode()
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool (Debian package prometheus) is installed by make deps")
        check = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True,
                               timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn('diffd_requests_total{leg="candidate",class="2xx"} 40', text)
        self.assertIn('diffd_trials_total{endpoint="GET /orders/:id"} 20', text)
        self.assertIn('diffd_regressions{endpoint="GET /orders/:id",type="field"} 1', text)
        self.assertIn('diffd_verdict{verdict="fail"} 1', text)
        self.assertIn('diffd_field_differences_total{endpoint="GET /orders/:id",field="$.total",'
                      'side="raw"} 20', text)
        self.assertRegex(text, r'diffd_request_duration_seconds_count\{leg="primary",'
                               r'endpoint="GET /users/:id"\} 20')


class AdminAuthTest(ShopTest):
    def test_token_required_on_api_and_metrics(self):
        p, s, c = self.shop_trio()
        d = self.start_diffd(p, s, c, "--admin-token", "s3cret-t0ken")
        for target in ("/api/v1/report", "/api/v1/endpoints", "/api/v1/config", "/metrics"):
            for hdrs in ({}, {"Authorization": "Bearer wrong"},
                         {"Authorization": "Bearer s3cret-t0ke"}, {"Authorization": "s3cret-t0ken"},
                         {"Authorization": "Bearer s3cret-t0kenX"}):
                r = request(d.admin_port, "GET", target, headers=hdrs)
                self.assertEqual(r.status, 401, (target, hdrs, r))
                self.assertIn("Bearer", r.header("WWW-Authenticate", ""))
                self.assertIn("error", r.json())
            r = request(d.admin_port, "GET", target,
                        headers={"Authorization": "Bearer s3cret-t0ken"})
            self.assertEqual(r.status, 200, (target, r))
        r = request(d.admin_port, "PATCH", "/api/v1/config", body=b'{"paused": true}')
        self.assertEqual(r.status, 401)
        self.assertEqual(get_json(d.admin_port, "/healthz")["status"], "ok")

    def test_token_from_environment(self):
        p, s, c = self.shop_trio()
        os.environ["DIFFD_ADMIN_TOKEN"] = "from-env"
        try:
            d = self.start_diffd(p, s, c)
        finally:
            del os.environ["DIFFD_ADMIN_TOKEN"]
        self.assertEqual(request(d.admin_port, "GET", "/api/v1/report").status, 401)
        r = request(d.admin_port, "GET", "/api/v1/report",
                    headers={"Authorization": "Bearer from-env"})
        self.assertEqual(r.status, 200, r)

    def test_dashboard_served_without_token(self):
        p, s, c = self.shop_trio()
        d = self.start_diffd(p, s, c, "--admin-token", "t")
        r = request(d.admin_port, "GET", "/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
        self.assertIn("default-src 'self'", r.header("Content-Security-Policy", ""))
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        etag = r.header("ETag")
        self.assertTrue(etag)
        again = request(d.admin_port, "GET", "/", headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304)
        self.assertEqual(request(d.admin_port, "GET", "/no-such-file.js").status, 404)
