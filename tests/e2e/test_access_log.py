"""--access-log: one JSON line per completed trial."""
from e2elib import TrioTest, hdr, refused_port, wait_until


class AccessLogTest(TrioTest):
    def test_one_line_per_trial_with_leg_details(self):
        port, sock = refused_port()
        self.addCleanup(sock.close)
        p = self.start_backend("primary")
        s = self.start_backend("secondary")
        d = self.start_diffd(p, s, "http://127.0.0.1:%d" % port)
        targets = ["/x?y=1", "/users/7", "/search?q=a%20b&page=2"]
        for t in targets:
            self.assertEqual(d.request("GET", t).status, 200)
        self.settle(d)
        lines = wait_until(lambda: (lambda l: l if len(l) >= 3 else None)(d.access_lines()), 5,
                           what="3 access log lines")
        self.assertEqual(len(lines), 3, lines)
        trial_of = {x["target"]: hdr(x, "X-Diffd-Trial") for x in p.requests()}
        self.assertEqual(sorted(l["target"] for l in lines), sorted(targets))
        for line in lines:
            self.assertEqual(line["method"], "GET")
            self.assertRegex(line["trial"], r"^t-\S+$")
            self.assertEqual(line["trial"], trial_of[line["target"]],
                             "access log trial id must be the X-Diffd-Trial the legs got")
            legs = line["legs"]
            for name in ("primary", "secondary"):
                leg = legs[name]
                self.assertEqual(leg["status"], 200, line)
                self.assertIsNone(leg["error"], line)
                self.assertGreater(leg["bytes"], 0, line)
                self.assertIsInstance(leg["latency_ms"], (int, float))
                self.assertGreaterEqual(leg["latency_ms"], 0)
                self.assertLess(leg["latency_ms"], 5000)
            cand = legs["candidate"]
            self.assertEqual(cand["status"], 0, line)
            self.assertIsInstance(cand["error"], str, line)
            self.assertIn("refus", cand["error"].lower(), line)
        self.assertEqual(len({l["trial"] for l in lines}), 3)

    def test_only_trials_are_logged(self):
        p, s, c, d = self.trio()
        self.assertEqual(d.request("POST", "/not-a-trial", body=b"x").status, 200)
        self.assertEqual(d.request("GET", "/a-trial").status, 200)
        self.settle(d)
        lines = wait_until(lambda: d.access_lines(), 5, what="an access log line")
        self.assertEqual([(l["method"], l["target"]) for l in lines], [("GET", "/a-trial")])
        for name in ("primary", "secondary", "candidate"):
            self.assertEqual(lines[0]["legs"][name]["status"], 200)
