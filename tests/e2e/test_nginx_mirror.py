"""examples/nginx-mirror.conf with a real nginx: client -> nginx -> primary, and nginx
mirror -> diffd (--respond none) -> primary/secondary/candidate."""
import os
import re
import shutil
import socket
import sys
import time
import unittest

from e2elib import (REPO, Proc, TrioTest, free_port, hdr, refused_port, request, role_of,
                    run_wrk, wait_until)

CONF = os.path.join(REPO, "examples", "nginx-mirror.conf")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


@unittest.skipUnless(NGINX, "nginx not installed")
class NginxMirrorTest(TrioTest):
    def start_nginx(self, primary_port, diffd_port):
        """Template the example's addresses with this test's ports and run nginx with
        every path (pid, logs, temp files) inside the test's tmpdir. Returns its port."""
        with open(CONF) as f:
            conf = f.read()
        port = free_port()
        subs = [(r"listen 8000;", "listen 127.0.0.1:%d;" % port),
                (r"127\.0\.0\.1:9001", "127.0.0.1:%d" % primary_port),
                (r"127\.0\.0\.1:8880", "127.0.0.1:%d" % diffd_port)]
        for pat, rep in subs:
            conf, n = re.subn(pat, rep, conf)
            self.assertGreater(n, 0, "examples/nginx-mirror.conf no longer contains %r" % pat)
        ngx = os.path.join(self.tmp, "nginx")
        os.makedirs(ngx)
        os.chmod(self.tmp, 0o755)
        os.chmod(ngx, 0o755)
        paths = "".join("    %s_temp_path %s/%s;\n" % (k, ngx, k)
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = conf.replace("http {\n", "http {\n%s    access_log %s/access.log;\n" % (paths, ngx), 1)
        path = os.path.join(ngx, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        argv = [NGINX, "-p", ngx, "-c", path, "-e", os.path.join(ngx, "error.log"),
                "-g", "daemon off; pid %s/nginx.pid;" % ngx]
        proc = Proc(argv, os.path.join(ngx, "stdout.log"))
        # SIGTERM to the master (only): it stops its workers, then exits.
        self.addCleanup(lambda: (proc.terminate(5), proc.kill()))

        def up():
            if proc.p.poll() is not None:
                raise AssertionError("nginx exited %s:\n%s\n%s" % (
                    proc.p.returncode, proc.output(), self._read(os.path.join(ngx, "error.log"))))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(up, 10, what="nginx to listen")
        self.nginx_dir = ngx
        return port

    def tearDown(self):
        super().tearDown()
        outcome = getattr(self, "_outcome", None)
        ngx = getattr(self, "nginx_dir", None)
        if ngx and outcome is not None and not getattr(outcome, "success", True):
            sys.stderr.write("---- nginx error.log ----\n%s\n"
                             % self._read(os.path.join(ngx, "error.log"))[-3000:])

    def _read(self, path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def test_mirror_to_diffd_legs_get_original_uri(self):
        p, s, c, d = self.trio("--respond", "none", "--preserve-host", "--allow-side-effects")
        port = self.start_nginx(p.port, d.port)

        r = request(port, "GET", "/orders/42?currency=EUR&x=1", headers={"Host": "shop.example"})
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["backend"], doc["target"]), ("primary", "/orders/42?currency=EUR&x=1"))

        r = request(port, "POST", "/cart?add=1", body=b'{"sku":"A-1","qty":2}',
                    headers={"Host": "shop.example", "Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body"], '{"sku":"A-1","qty":2}')

        h = wait_until(lambda: (lambda h: h if h["totals"]["compared"] >= 2 else None)(d.healthz()),
                       8, what="2 mirrored trials compared")
        self.assertEqual(h["totals"]["received"], 2, h)

        # The legs replay the client's path, query, body and Host.
        for b in (s, c):
            recs = sorted(b.requests(), key=lambda x: x["method"])
            self.assertEqual([(x["method"], x["target"]) for x in recs],
                             [("GET", "/orders/42?currency=EUR&x=1"), ("POST", "/cart?add=1")], b.name)
            for x in recs:
                self.assertEqual(role_of(x), b.name)
                self.assertEqual(hdr(x, "Host"), "shop.example", "the -shadow suffix should be gone")
            self.assertEqual(recs[1]["body"], '{"sku":"A-1","qty":2}')

        # The access log names the original request, not the mirror location.
        lines = wait_until(lambda: (lambda l: l if len(l) >= 2 else None)(d.access_lines()), 5,
                           what="2 access log lines")
        self.assertEqual(sorted((l["method"], l["target"]) for l in lines),
                         [("GET", "/orders/42?currency=EUR&x=1"), ("POST", "/cart?add=1")])

        # The primary saw each request twice: straight from nginx, and as diffd's leg.
        recs = p.requests()
        direct = sorted((x["method"], x["target"]) for x in recs if role_of(x) is None)
        leg = sorted((x["method"], x["target"]) for x in recs if role_of(x) == "primary")
        want = [("GET", "/orders/42?currency=EUR&x=1"), ("POST", "/cart?add=1")]
        self.assertEqual(direct, want)
        self.assertEqual(leg, want)

    def test_clients_served_when_diffd_is_down(self):
        p = self.start_backend("primary")
        dead, sock = refused_port()
        self.addCleanup(sock.close)
        port = self.start_nginx(p.port, dead)
        for i in range(3):
            t0 = time.monotonic()
            r = request(port, "GET", "/still/%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["backend"], "primary")
            self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(len(p.requests()), 3)

    @unittest.skipUnless(shutil.which("wrk"), "wrk not installed")
    def test_mirror_under_load_every_request_arrives_once(self):
        p, s, c, d = self.trio("--respond", "none")
        port = self.start_nginx(p.port, d.port)
        n, out = run_wrk(self, "http://127.0.0.1:%d/load?item=3" % port, 2, 8)
        h = wait_until(lambda: (lambda h: h if h["totals"]["received"] >= n and h["inflight"] == 0
                                else None)(d.healthz()), 20, what="all mirrored requests at diffd")
        self.assertLessEqual(h["totals"]["received"], n + 8, (out, h))
        self.assertEqual(h["legs"]["candidate"]["error"], 0, h)
        self.assertEqual(h["legs"]["candidate"]["2xx"], h["totals"]["received"], h)
