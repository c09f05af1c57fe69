"""`diffd serve` command line: --help, usage errors, the listening line."""
import os
import re
import socket
import subprocess

from e2elib import DIFFD_BIN, LISTEN_RE, E2ETest, Proc, request

# option -> regex the default must match somewhere on the option's help text
OPTIONS = {
    "--primary": None,
    "--secondary": None,
    "--candidate": None,
    "--listen": r"8880",
    "--admin": r"8888",
    "--sample": r"\b100\b",
    "--sample-key": None,
    "--respond": r"primary",
    "--wait-all": None,
    "--allow-side-effects": None,
    "--timeout": r"10000|10 ?s\b",
    "--connect-timeout": r"\b1000\b|\b1 ?s\b",
    "--max-body": r"(?i)8388608|\b8 ?mi?b?\b",
    "--max-inflight": r"4096",
    "--threads": r"cpu|CPU|online|processors|cores",
    "--preserve-host": None,
    "--access-log": None,
}


def serve_args(port_p=1, port_s=2, port_c=3):
    return ["serve", "--primary", "http://127.0.0.1:%d" % port_p,
            "--secondary", "http://127.0.0.1:%d" % port_s,
            "--candidate", "http://127.0.0.1:%d" % port_c,
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]


class CliTest(E2ETest):
    def run_expect_exit(self, args, timeout=8.0):
        """Run diffd; fail clearly if it keeps running (it accepted bad input)."""
        try:
            return self.run_diffd(*args, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail("diffd %s did not exit within %.0fs (accepted the arguments?)"
                      % (" ".join(args), timeout))

    def help_entry(self, text, opt):
        """The help text for opt: its line plus continuation lines (indented, not
        starting another option)."""
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if re.match(r"\s*(-\w,\s*)?%s(?![\w-])" % re.escape(opt), line):
                out = [line]
                for nxt in lines[i + 1:]:
                    if not nxt.strip() or re.match(r"\s*--?[a-z]", nxt):
                        break
                    out.append(nxt)
                return "\n".join(out)
        return None

    def test_help_lists_every_option_with_default(self):
        code, out, err = self.run_expect_exit(["serve", "--help"])
        self.assertEqual(code, 0, err)
        self.assertTrue(out.strip(), "serve --help should print to stdout")
        for opt, default in OPTIONS.items():
            with self.subTest(option=opt):
                entry = self.help_entry(out, opt)
                self.assertIsNotNone(entry, "%s missing from serve --help:\n%s" % (opt, out))
                if default:
                    self.assertRegex(entry, default, "default of %s not shown" % opt)

    def test_unknown_flag_exits_2_naming_it(self):
        code, out, err = self.run_expect_exit(serve_args() + ["--no-such-flag"])
        self.assertEqual(code, 2, (out, err))
        self.assertIn("--no-such-flag", err)

    def test_bad_values_exit_2_naming_the_flag(self):
        cases = [
            ("--sample", "150"),
            ("--sample", "abc"),
            ("--sample", "-1"),
            ("--sample-key", "cookie:session"),
            ("--respond", "tertiary"),
            ("--timeout", "abc"),
            ("--timeout", "-5"),
            ("--connect-timeout", "soon"),
            ("--max-body", "lots"),
            ("--max-inflight", "many"),
            ("--threads", "x"),
            ("--listen", "127.0.0.1:99999"),
            ("--admin", "not-an-address:port"),
            ("--primary", "ftp://127.0.0.1:21"),
            ("--candidate", "not a url"),
        ]
        for flag, value in cases:
            with self.subTest(flag=flag, value=value):
                code, out, err = self.run_expect_exit(serve_args() + [flag, value])
                self.assertEqual(code, 2, "%s %s: exit %s, stderr %r" % (flag, value, code, err))
                self.assertIn(flag, err, "%s %s: stderr should name the flag" % (flag, value))
                self.assertLessEqual(len(err.strip().splitlines()), 3,
                                     "a usage error should be a short message, got:\n" + err)

    def test_flag_missing_its_value_exits_2(self):
        code, out, err = self.run_expect_exit(serve_args() + ["--timeout"])
        self.assertEqual(code, 2, (out, err))
        self.assertIn("--timeout", err)

    def test_required_backends(self):
        for missing in ("--primary", "--candidate"):
            with self.subTest(missing=missing):
                args = serve_args()
                i = args.index(missing)
                del args[i:i + 2]
                code, out, err = self.run_expect_exit(args)
                self.assertEqual(code, 2, (out, err))
                self.assertIn(missing, err)

    def test_listen_address_in_use_exits_2_naming_it(self):
        # A plain listener (no SO_REUSEPORT) owns the port, so diffd's bind must fail.
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        args = serve_args()
        args[args.index("--listen") + 1] = "127.0.0.1:%d" % port
        code, out, err = self.run_expect_exit(args)
        self.assertEqual(code, 2, (out, err))
        self.assertIn(str(port), err, "the error should name the address that failed")

    def test_listening_line_reports_real_ports_and_threads(self):
        p = self.start_backend("primary")
        c = self.start_backend("candidate")
        d = self.start_diffd(p, None, c, threads=3)
        self.assertNotEqual(d.port, 0)
        self.assertNotEqual(d.admin_port, 0)
        self.assertNotEqual(d.port, d.admin_port)
        self.assertEqual(d.threads, 3)
        self.assertEqual(d.healthz()["status"], "ok")
        # Without --secondary, requests are still proxied and compared.
        r = d.request("GET", "/no-secondary")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "primary")
        c.wait_requests(1)

    def test_listen_with_port_only(self):
        p = self.start_backend("primary")
        c = self.start_backend("candidate")
        args = ["--primary", p.url, "--candidate", c.url, "--listen", "0", "--admin", "0",
                "--threads", "1"]
        proc = self.start_raw_diffd(args)
        m = proc.wait_for(LISTEN_RE, 10, "listening line")
        port = int(m.group("pport"))
        self.assertNotEqual(port, 0)
        self.assertEqual(request(port, "GET", "/port-only").status, 200)

    def start_raw_diffd(self, args):
        proc = Proc([DIFFD_BIN, "serve"] + args, os.path.join(self.tmp, "raw-diffd.log"))
        # SIGTERM only this pid, then make sure it is gone.
        self.addCleanup(lambda: (proc.terminate(10), proc.kill()))
        return proc
