"""The deployment examples in examples/: what can run on this machine runs for real,
the rest is checked statically against diffd's defaults and its --help.

Run for real:
- github-actions.yml: every `run:` step after the build, in order, with bash as the
  workflow says, `if: always()` honoured, ports moved to free ones; the gate passes
  with identical backends and fails (exit 1, job failed) with a planted change.
- goreplay.sh: its `replay` mode replays a GoReplay capture (tests/e2e/data/traffic.gor)
  through a real diffd with `diffd replay --format gor`, then gates with `diffd check`;
  `sh -n` and (when installed) shellcheck on the script.
(examples/nginx-mirror.conf runs with a real nginx in test_nginx_mirror.py.)

Checked statically (no Envoy, Istio, Kong, Kubernetes cluster, GoReplay or container
engine here):
- every YAML document parses;
- each mirror source points at diffd's proxy port (--listen, 8880 by default) — Envoy's
  mirror cluster, Istio's mirror host and port (= the diffd Service of
  kubernetes.yaml), Kong's copy URL; never at the admin port;
- kubernetes.yaml: selectors match, Services reach the Deployments, diffd's backends are
  the three Services, probes are /healthz on the admin port, the admin port is not in the
  Service, every container has resource requests;
- every diffd command line in the examples (comments included) uses only flags that
  `diffd COMMAND --help` lists; gor flags are GoReplay's;
- Dockerfile: its build packages are the Makefile's, its runtime packages are those that
  ship the libraries build/diffd links against.
"""
import json
import os
import re
import shutil
import subprocess
import unittest

from e2elib import DIFFD_BIN, HERE, REPO, SANITIZER_RE, TrioTest, free_port

try:
    import yaml
except ImportError:  # python3-yaml is in `make deps`
    yaml = None

EX = os.path.join(REPO, "examples")
GOR_DATA = os.path.join(HERE, "data", "traffic.gor")
PROXY_PORT = 8880  # diffd's default --listen port
ADMIN_PORT = 8888  # diffd's default --admin port
COMMANDS = ("serve", "replay", "check", "diff", "rules")
# GoReplay 1.3 options used by examples (a subset of `gor --help`).
GOR_FLAGS = {"--input-raw", "--input-file", "--output-http", "--output-file", "--output-file-append",
             "--output-http-workers", "--output-http-timeout", "--output-http-stats",
             "--http-allow-method", "--http-allow-url", "--http-disallow-url", "--http-original-host",
             "--input-raw-track-response", "--output-stdout", "--exit-after"}

_help_cache = {}


def help_flags(cmd):
    """Long options that `diffd CMD --help` lists."""
    if cmd not in _help_cache:
        p = subprocess.run([DIFFD_BIN, cmd, "--help"], capture_output=True, text=True, timeout=10)
        text = p.stdout + p.stderr
        _help_cache[cmd] = set(re.findall(r"(--[a-z][a-z0-9-]*)", text))
    return _help_cache[cmd]


def diffd_command_lines(text):
    """Every `diffd COMMAND ...` command line in a text (shell, YAML or a comment),
    with backslash continuations joined (also across '#' comment prefixes). Returns
    (command, [flags])."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.search(r"(?:^|[\s\"'(/])(?:diffd|\$\{?DIFFD_BIN\}?\"?)\s+(serve|replay|check|diff|rules)\b(.*)",
                      line)
        if m:
            cmd, rest = m.group(1), m.group(2)
            while rest.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                rest = rest.rstrip()[:-1] + " " + re.sub(r"^\s*#?\s*", "", lines[i])
            flags = [f.split("=")[0] for f in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*(?:=\S*)?)", rest)]
            out.append((cmd, flags))
        i += 1
    return out


def read(name):
    with open(os.path.join(EX, name), encoding="utf-8") as f:
        return f.read()


def load_yaml(name):
    return [d for d in yaml.safe_load_all(read(name)) if d is not None]


def makefile_deb_pkgs():
    with open(os.path.join(REPO, "Makefile")) as f:
        text = f.read()
    m = re.search(r"^DEB_PKGS\s*:=\s*((?:.*\\\n)*.*)$", text, re.M)
    return set(m.group(1).replace("\\\n", " ").split())


class FlagsTest(unittest.TestCase):
    """diffd command lines in every example use real flags."""

    FILES = ("envoy.yaml", "istio-virtualservice.yaml", "kong.yaml", "goreplay.sh", "kubernetes.yaml",
             "github-actions.yml", "nginx-mirror.conf", "Dockerfile")

    def test_every_diffd_command_line_uses_real_flags(self):
        seen = {}
        for name in self.FILES:
            for cmd, flags in diffd_command_lines(read(name)):
                seen.setdefault(name, set()).add(cmd)
                unknown = [f for f in flags if f not in help_flags(cmd)]
                self.assertEqual(unknown, [], "%s: diffd %s %s" % (name, cmd, flags))
        # The parser found the command lines that are there.
        self.assertEqual(seen["github-actions.yml"], {"serve", "replay", "check"})
        self.assertEqual(seen["goreplay.sh"], {"serve", "replay", "check"})
        for name in ("envoy.yaml", "kong.yaml", "nginx-mirror.conf"):
            self.assertIn("serve", seen.get(name, ()), name)
        self.assertIn("check", seen["kubernetes.yaml"])

    def test_the_parser_rejects_a_wrong_flag(self):
        lines = diffd_command_lines("#   diffd serve --listen 0.0.0.0:8880 \\\n#       --no-such-flag x\n")
        self.assertEqual(lines, [("serve", ["--listen", "--no-such-flag"])])
        self.assertNotIn("--no-such-flag", help_flags("serve"))
        self.assertIn("--respond", help_flags("serve"))


@unittest.skipUnless(yaml, "python3-yaml not installed (make deps installs it)")
class StaticYamlTest(unittest.TestCase):
    def k8s(self):
        docs = load_yaml("kubernetes.yaml")
        return {(d["kind"], d["metadata"]["name"]): d for d in docs}

    def test_envoy_mirrors_to_diffd_proxy_port(self):
        (cfg,) = load_yaml("envoy.yaml")
        clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
        mirrors = []
        for lst in cfg["static_resources"]["listeners"]:
            for chain in lst["filter_chains"]:
                for flt in chain["filters"]:
                    tc = flt["typed_config"]
                    self.assertEqual(tc["@type"], "type.googleapis.com/envoy.extensions.filters.network."
                                     "http_connection_manager.v3.HttpConnectionManager")
                    self.assertEqual(tc["http_filters"][-1]["typed_config"]["@type"],
                                     "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")
                    for vh in tc["route_config"]["virtual_hosts"]:
                        for r in vh["routes"]:
                            self.assertIn(r["route"]["cluster"], clusters)
                            mirrors += r["route"].get("request_mirror_policies", [])
        self.assertEqual(len(mirrors), 1)
        pol = mirrors[0]
        self.assertLessEqual(set(pol), {"cluster", "cluster_header", "runtime_fraction", "trace_sampled",
                                        "disable_shadow_host_suffix_append"})
        frac = pol["runtime_fraction"]["default_value"]
        self.assertIn(frac["denominator"], ("HUNDRED", "TEN_THOUSAND", "MILLION"))
        self.assertTrue(0 < frac["numerator"] <= {"HUNDRED": 100, "TEN_THOUSAND": 10000,
                                                   "MILLION": 1000000}[frac["denominator"]])
        target = clusters[pol["cluster"]]
        for cl in clusters.values():
            self.assertEqual(cl["load_assignment"]["cluster_name"], cl["name"])
        addrs = [e["endpoint"]["address"]["socket_address"]
                 for ep in target["load_assignment"]["endpoints"] for e in ep["lb_endpoints"]]
        self.assertEqual([(a["address"], a["port_value"]) for a in addrs], [("diffd", PROXY_PORT)])
        # The admin port never receives mirrored traffic.
        self.assertNotIn("port_value: %d" % ADMIN_PORT, read("envoy.yaml"))

    def test_istio_mirrors_to_the_diffd_service(self):
        docs = {d["kind"]: d for d in load_yaml("istio-virtualservice.yaml")}
        vs, dr = docs["VirtualService"], docs["DestinationRule"]
        self.assertTrue(vs["apiVersion"].startswith("networking.istio.io/"))
        svc = self.k8s()[("Service", "diffd")]
        fqdn = "%s.%s.svc.cluster.local" % (svc["metadata"]["name"], svc["metadata"]["namespace"])
        subsets = {s["name"] for s in dr["spec"]["subsets"]}
        self.assertEqual(dr["spec"]["host"], vs["spec"]["hosts"][0])
        for http in vs["spec"]["http"]:
            for r in http["route"]:
                self.assertIn(r["destination"]["subset"], subsets)
            self.assertEqual(http["mirror"]["host"], fqdn)
            self.assertEqual(http["mirror"]["port"]["number"], PROXY_PORT)
            self.assertEqual([p["port"] for p in svc["spec"]["ports"]], [PROXY_PORT])
            v = http["mirrorPercentage"]["value"]
            self.assertTrue(0 < v <= 100, v)

    def test_kong_copies_to_diffd_proxy_port_with_the_path(self):
        (cfg,) = load_yaml("kong.yaml")
        self.assertEqual(cfg["_format_version"], "3.0")
        (svc,) = cfg["services"]
        self.assertRegex(svc["url"], r"^http://[\w.-]+:\d+$")
        (plugin,) = svc["plugins"]
        self.assertEqual(plugin["name"], "post-function")
        self.assertEqual(set(plugin["config"]), {"access", "log"})
        access, log = plugin["config"]["access"][0], plugin["config"]["log"][0]
        self.assertIn("kong.request.get_path_with_query()", access)
        self.assertIn("kong.ctx.shared.diffd_mirror", access)
        self.assertIn('local DIFFD = "http://diffd:%d"' % PROXY_PORT, log)
        self.assertIn("request_uri(DIFFD .. req.path", log)
        self.assertIn("ngx.timer.at(0", log)
        luac = next((shutil.which(n) for n in ("luac", "luac5.1", "luac5.4", "luac5.3") if shutil.which(n)), None)
        if luac:
            for code in (access, log):
                p = subprocess.run([luac, "-p", "-"], input=code, capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_kubernetes_manifest(self):
        objs = self.k8s()
        deps = {n: d for (k, n), d in objs.items() if k == "Deployment"}
        svcs = {n: d for (k, n), d in objs.items() if k == "Service"}
        self.assertEqual(set(deps), {"diffd", "shop-primary", "shop-secondary", "shop-candidate"})
        for name, d in deps.items():
            labels = d["spec"]["template"]["metadata"]["labels"]
            sel = d["spec"]["selector"]["matchLabels"]
            self.assertLessEqual(sel.items(), labels.items(), name)
            self.assertIn(name, svcs, "a Service for %s" % name)
            self.assertLessEqual(svcs[name]["spec"]["selector"].items(), labels.items(), name)
            for c in d["spec"]["template"]["spec"]["containers"]:
                self.assertTrue({"cpu", "memory"} <= set(c["resources"]["requests"]), name)
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe in c:
                        self.assertIn(c[probe]["httpGet"]["port"], ports, name)
        # Only one Deployment per Service selector (each backend is its own version).
        for name, s in svcs.items():
            hits = [n for n, d in deps.items()
                    if s["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
            self.assertEqual(hits, [name], name)

        c = deps["diffd"]["spec"]["template"]["spec"]["containers"][0]
        args = dict(a[2:].split("=", 1) for a in c["args"][1:] if "=" in a)
        self.assertEqual(c["args"][0], "serve")
        flags = ["--" + a[2:].split("=", 1)[0] for a in c["args"][1:]]
        self.assertEqual([f for f in flags if f not in help_flags("serve")], [])
        for role in ("primary", "secondary", "candidate"):
            svc = svcs["shop-" + role]
            self.assertEqual(args[role], "http://shop-%s.%s.svc.cluster.local:%d" % (
                role, svc["metadata"]["namespace"], svc["spec"]["ports"][0]["port"]))
        self.assertEqual(args["listen"], "0.0.0.0:%d" % PROXY_PORT)
        self.assertEqual(args["admin"], "0.0.0.0:%d" % ADMIN_PORT)
        self.assertEqual(args["respond"], "none")
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"proxy": PROXY_PORT, "admin": ADMIN_PORT})
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(c[probe]["httpGet"], {"path": "/healthz", "port": "admin"})
        # The admin port is not published by the Service.
        self.assertEqual([p["targetPort"] for p in svcs["diffd"]["spec"]["ports"]], ["proxy"])
        env = {e["name"]: e for e in c["env"]}
        self.assertIn("secretKeyRef", env["DIFFD_ADMIN_TOKEN"]["valueFrom"])
        # The rules ConfigMap lints.
        rules = objs[("ConfigMap", "diffd-rules")]["data"]
        for name, text in rules.items():
            p = subprocess.run([DIFFD_BIN, "rules", "lint", "/dev/stdin"], input=text, capture_output=True,
                               text=True, timeout=10)
            self.assertEqual(p.returncode, 0, "%s: %s" % (name, p.stdout + p.stderr))
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        self.assertIn("--rules=%s" % mounts["rules"], c["args"])
        self.assertEqual(os.path.dirname(args["state"]), mounts["state"])

    def test_github_actions_workflow_shape(self):
        (wf,) = load_yaml("github-actions.yml")
        on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
        self.assertIn("pull_request", on)
        (job,) = wf["jobs"].values()
        self.assertEqual(job["defaults"]["run"]["shell"], "bash")
        uses = [s["uses"] for s in job["steps"] if "uses" in s]
        self.assertEqual(uses, ["actions/checkout@v4", "actions/upload-artifact@v4"])
        upload = job["steps"][-1]
        self.assertEqual(upload.get("if"), "always()")
        # Its build packages are Debian packages the Makefile installs too.
        install = job["steps"][0]["run"]
        pkgs = set(re.search(r"--no-install-recommends\s*\\\n((?:.*\n?)*)", install).group(1)
                   .replace("\\", " ").split())
        self.assertLessEqual(pkgs - {"git", "make", "ca-certificates"}, makefile_deb_pkgs())


class DockerfileTest(unittest.TestCase):
    def packages(self, stage):
        text = read("Dockerfile")
        blocks = re.findall(r"^FROM (\S+).*?\n(.*?)(?=^FROM |\Z)", text, re.M | re.S)
        body = blocks[stage][1]
        m = re.search(r"--no-install-recommends\s*\\\n(.*?)&&", body, re.S)
        return blocks[stage][0], set(m.group(1).replace("\\", " ").split())

    def test_build_stage_packages_are_the_makefiles(self):
        base, pkgs = self.packages(0)
        self.assertEqual(base, "debian:12")
        self.assertLessEqual(pkgs, makefile_deb_pkgs())
        for need in ("libevent-dev", "node-llhttp", "libcjson-dev", "libcurl4-openssl-dev",
                     "libpcre2-dev", "zlib1g-dev", "python3"):
            self.assertIn(need, pkgs)

    @unittest.skipUnless(shutil.which("dpkg") and shutil.which("readelf"), "needs dpkg and readelf")
    def test_runtime_stage_has_the_libraries_diffd_links(self):
        base, pkgs = self.packages(1)
        self.assertEqual(base, "debian:12-slim")
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            subprocess.run(["readelf", "-d", DIFFD_BIN], capture_output=True,
                                           text=True).stdout)
        ldd = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", DIFFD_BIN], capture_output=True,
                                                                     text=True).stdout, re.M))
        owners = set()
        for lib in needed:
            if lib.startswith(("libc.so", "libm.so")):
                continue  # libc6: in every Debian image
            if lib.startswith(("libasan.", "libubsan.", "liblsan.", "libtsan.")):
                continue  # a sanitizer build (make SANITIZE=...), not what the image ships
            path = ldd[lib]
            for cand in (path, os.path.realpath(path), "/usr" + path):
                p = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
                if p.returncode == 0:
                    owners.add(p.stdout.split(":")[0])
                    break
            else:
                self.fail("no Debian package ships %s (%s)" % (lib, path))
        self.assertEqual(owners - pkgs, set(), "runtime libraries missing from the Dockerfile")


class GoReplayTest(TrioTest):
    SCRIPT = os.path.join(EX, "goreplay.sh")

    def test_script_syntax_and_gor_flags(self):
        p = subprocess.run(["sh", "-n", self.SCRIPT], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        if shutil.which("shellcheck"):
            p = subprocess.run(["shellcheck", self.SCRIPT], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout)
        text = read("goreplay.sh")
        gor_lines = re.findall(r'exec "\$GOR"((?:.*\\\n)*.*)', text)
        self.assertEqual(len(gor_lines), 2)
        for line in gor_lines:
            flags = set(re.findall(r"(--[a-z][a-z0-9-]*)", line))
            self.assertLessEqual(flags, GOR_FLAGS, line)
        self.assertIn("--output-file", gor_lines[1])
        self.assertIn('--output-http "$DIFFD"', gor_lines[0])
        self.assertIn("DIFFD=${DIFFD:-http://127.0.0.1:%d}" % PROXY_PORT, text)
        self.assertIn("DIFFD_ADMIN=${DIFFD_ADMIN:-http://127.0.0.1:%d}" % ADMIN_PORT, text)
        p = subprocess.run(["sh", self.SCRIPT, "bogus"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage:", p.stderr)

    def test_replay_mode_replays_a_gor_capture_through_diffd(self):
        p, s, c, d = self.trio("--respond", "primary", "--wait-all", "--min-compared", "1")
        env = dict(os.environ, DIFFD="http://127.0.0.1:%d" % d.port,
                   DIFFD_ADMIN="http://127.0.0.1:%d" % d.admin_port, DIFFD_BIN=DIFFD_BIN)
        r = subprocess.run(["sh", self.SCRIPT, "replay", GOR_DATA], cwd=self.tmp, env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"replay: 5 sent \(gor\), answered 5")
        self.assertIn("verdict: pass", r.stdout)
        for f in ("diffd-junit.xml", "diffd.md"):
            self.assertTrue(os.path.getsize(os.path.join(self.tmp, f)) > 0, f)
        # Every recorded request reached the primary, in the capture's methods and
        # paths; only the two GETs (no side effects) reached the other two.
        got = sorted((q["method"], q["target"]) for q in p.requests())
        self.assertEqual(got, sorted([("GET", "/api/products?category=sandals"), ("POST", "/api/cart"),
                                      ("GET", "/api/users/12/orders"), ("PUT", "/api/users/12/avatar"),
                                      ("DELETE", "/api/sessions/current")]))
        for b in (s, c):
            self.assertEqual(sorted(q["method"] for q in b.requests()), ["GET", "GET"])
        t = self.settle(d)["totals"]
        self.assertEqual((t["received"], t["compared"], t["skipped"]["side_effect"]), (5, 2, 3))


@unittest.skipUnless(yaml, "python3-yaml not installed (make deps installs it)")
class GithubActionsRunTest(TrioTest):
    """Runs the workflow's shell steps after the build, as the runner would."""

    def run_workflow(self, planted=False):
        (wf,) = load_yaml("github-actions.yml")
        (job,) = wf["jobs"].values()
        ws = os.path.join(self.tmp, "workspace")
        os.makedirs(ws)
        for d in ("examples", "rules"):
            os.symlink(os.path.join(REPO, d), os.path.join(ws, d))
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        os.symlink(DIFFD_BIN, os.path.join(bindir, "diffd"))
        summary = os.path.join(self.tmp, "summary.md")
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"], GITHUB_STEP_SUMMARY=summary,
                   CI="true")
        ports = {p: free_port() for p in (9001, 9002, 9003, 8880, 8888)}
        self.addCleanup(self.kill_started, ws)

        failed = False
        results = []
        build_seen = False
        for step in job["steps"]:
            if "uses" in step:
                continue
            script = step["run"]
            if not build_seen:
                # Installing packages and building: done by `make` before the tests.
                build_seen = "make install" in script
                continue
            if failed and step.get("if") != "always()":
                results.append((step["name"], None))
                continue
            for old, new in ports.items():
                script, _ = re.subn(r"(?<=[:\s])%d\b" % old, str(new), script)
            if planted:
                script = script.replace("--name candidate ", "--name candidate --change orders.total ")
            path = os.path.join(self.tmp, "step.sh")
            with open(path, "w") as f:
                f.write(script)
            p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", path], cwd=ws, env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=40)
            results.append((step["name"], p.returncode, p.stdout + p.stderr))
            if p.returncode != 0:
                failed = True
        self.assertTrue(build_seen, "the workflow builds and installs diffd")
        return ws, summary, results

    def kill_started(self, ws):
        """Whatever a step started and the stop step did not stop (a failed test)."""
        for name in ("diffd.pid", "pids"):
            try:
                with open(os.path.join(ws, "diffd-out", name)) as f:
                    pids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass

    def codes(self, results):
        return {r[0]: r[1] for r in results}

    def test_gate_passes_with_identical_backends(self):
        ws, summary, results = self.run_workflow()
        codes = self.codes(results)
        detail = "\n".join("%s: %s\n%s" % (r[0], r[1], r[2] if len(r) > 2 else "") for r in results)
        self.assertEqual(codes, {"Start the backends": 0, "Start diffd": 0, "Replay recorded traffic": 0,
                                 "Gate on the report": 0, "Report in the job summary": 0,
                                 "Stop diffd and the backends": 0}, detail)
        out = os.path.join(ws, "diffd-out")
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
        self.assertEqual(rep["verdict"], "pass")
        self.assertEqual(rep["totals"]["received"], 600)
        for name in ("junit.xml", "report.md", "report.html", "diffd.log", "primary.log"):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        with open(summary) as f:
            self.assertIn("diffd: ✅ pass", f.read())
        # The stop step stopped diffd cleanly (its summary is in the log).
        with open(os.path.join(out, "diffd.log")) as f:
            log = f.read()
        self.assertIn("diffd: stopped: 600 requests", log)
        self.assertIsNone(SANITIZER_RE.search(log), log[-4000:])

    def test_gate_fails_the_job_on_a_planted_regression(self):
        ws, summary, results = self.run_workflow(planted=True)
        codes = self.codes(results)
        detail = "\n".join("%s: %s\n%s" % (r[0], r[1], r[2] if len(r) > 2 else "") for r in results)
        self.assertEqual(codes["Gate on the report"], 1, detail)
        self.assertEqual(codes["Report in the job summary"], 0, detail)
        self.assertEqual(codes["Stop diffd and the backends"], 0, detail)
        gate = [r for r in results if r[0] == "Gate on the report"][0][2]
        self.assertIn("GET /orders/:id  field $.total", gate)
        with open(summary) as f:
            self.assertIn("fail", f.read())
        with open(os.path.join(ws, "diffd-out", "report.json")) as f:
            rep = json.load(f)
        self.assertEqual({(g["endpoint"], g.get("path")) for g in rep["regressions"]},
                         {("GET /orders/:id", "$.total")})


if __name__ == "__main__":
    unittest.main()
