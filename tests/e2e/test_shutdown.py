"""SIGTERM/SIGINT: stop accepting, finish trials in flight, exit 0."""
import signal
import socket
import time

from e2elib import RawConn, TrioTest, raw_request, wait_until


class ShutdownTest(TrioTest):
    def test_sigterm_finishes_trial_in_flight(self):
        p, s, c, d = self.trio("--timeout", "5000", candidate=["--delay-ms", "2500"])
        r = d.request("GET", "/in-flight?k=v")
        self.assertEqual(r.status, 200, r)
        c.wait_requests(1)  # the candidate leg is running
        self.assertEqual(d.access_lines(), [], "trial cannot be complete yet")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        # Listeners close first: new connections are refused while the trial drains.
        def refused():
            try:
                socket.create_connection(("127.0.0.1", d.port), timeout=0.5).close()
                return False
            except ConnectionRefusedError:
                return True
            except OSError:  # a connect that timed out on a stalled machine: try again
                return False
        wait_until(refused, 2.0, what="proxy port to stop accepting after SIGTERM")
        # ...while the trial is still draining (the candidate answers 2.5 s after the request).
        self.assertEqual(d.access_lines(), [], "the trial ended before the port was closed")
        code = d.wait_exit(10)
        self.assertEqual(code, 0, d.output()[-2000:])
        self.assertLess(time.monotonic() - t0, 8)
        lines = d.access_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0]["target"], "/in-flight?k=v")
        self.assertEqual(lines[0]["legs"]["candidate"]["status"], 200,
                         "the in-flight candidate leg should have completed, not been cut")

    def test_sigint_idle_exits_0(self):
        p, s, c, d = self.trio()
        self.assertEqual(d.request("GET", "/x").status, 200)
        self.settle(d)
        d.signal(signal.SIGINT)
        self.assertEqual(d.wait_exit(5), 0, d.output()[-2000:])

    def test_sigterm_bounded_by_timeout_with_hanging_leg(self):
        p, s, c, d = self.trio("--timeout", "1500", candidate=["--fail", "hang"])
        self.assertEqual(d.request("GET", "/stuck").status, 200)
        c.wait_requests(1)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(10), 0, d.output()[-2000:])
        self.assertLess(time.monotonic() - t0, 6, "shutdown should wait at most about --timeout")
        lines = d.access_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0]["legs"]["candidate"]["status"], 0)
        self.assertTrue(lines[0]["legs"]["candidate"]["error"])

    def test_sigterm_not_held_by_idle_or_partial_client_connections(self):
        # nginx keeps idle upstream keep-alive connections open to diffd at all times.
        p, s, c, d = self.trio()
        idle = RawConn(d.port)
        self.addCleanup(idle.close)
        idle.send(raw_request("GET", "/then-idle"))
        self.assertEqual(idle.read_response().status, 200)
        partial = RawConn(d.port)
        self.addCleanup(partial.close)
        partial.send(b"GET /never-finished HTTP/1.1\r\nHost: a\r\n")
        self.settle(d)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(10), 0, d.output()[-2000:])
        self.assertLess(time.monotonic() - t0, 5, "idle connections held up the shutdown")
