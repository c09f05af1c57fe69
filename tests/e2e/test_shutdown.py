"""SIGTERM/SIGINT: stop accepting, finish trials in flight, exit 0."""
import signal
import socket
import time

from e2elib import TrioTest, wait_until


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
                socket.create_connection(("127.0.0.1", d.port), timeout=1).close()
                return False
            except ConnectionRefusedError:
                return True
        wait_until(refused, 1.5, what="proxy port to stop accepting after SIGTERM")
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
