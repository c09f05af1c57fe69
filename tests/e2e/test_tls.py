"""https:// backends: the certificate is verified (a self-signed one is refused, as a leg
error), and a failing TLS leg behaves like any failing leg."""
import os
import shutil
import subprocess
import unittest

from e2elib import TrioTest

OPENSSL = shutil.which("openssl")


@unittest.skipUnless(OPENSSL, "openssl not installed")
class TlsTest(TrioTest):
    def self_signed_backend(self, name):
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        if not os.path.exists(cert):
            subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True, timeout=30)
        b = self.start_backend(name, "--tls", cert, key)
        return b.url, b

    def test_untrusted_certificate_is_refused(self):
        url, b = self.self_signed_backend("primary")
        s = self.start_backend("secondary")
        c = self.start_backend("candidate")
        d = self.start_diffd(url, s, c)
        doc = self.assertJsonError(d.request("GET", "/tls"), 502)
        self.assertRegex(doc["error"].lower(), r"certificate|ssl|tls")
        self.assertEqual(b.requests(), [], "no request may be sent over an unverified connection")
        h = self.settle(d)
        self.assertEqual(h["legs"]["primary"]["error"], 1, h)
        self.assertEqual(h["legs"]["candidate"]["2xx"], 1, h)

    def test_untrusted_candidate_is_a_leg_error(self):
        p = self.start_backend("primary")
        s = self.start_backend("secondary")
        url, b = self.self_signed_backend("candidate")
        d = self.start_diffd(p, s, url)
        r = d.request("GET", "/tls")
        self.assertEqual((r.status, r.json()["backend"]), (200, "primary"))
        h = self.settle(d)
        self.assertEqual(h["legs"]["candidate"]["error"], 1, h)
        self.assertEqual(b.requests(), [])

    def test_ca_file_trusts_a_private_ca(self):
        # --ca-file: the same self-signed certificate, now trusted, carries real
        # traffic over TLS (libcurl's path) and is compared like any leg.
        url, b = self.self_signed_backend("primary")
        s = self.start_backend("secondary")
        c = self.start_backend("candidate")
        d = self.start_diffd(url, s, c, "--ca-file", os.path.join(self.tmp, "cert.pem"))
        r = d.request("GET", "/tls?x=1", headers={"X-Trace": "t1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["backend"], "primary")
        [rec] = b.wait_requests(1)
        self.assertEqual(rec["target"], "/tls?x=1")
        h = self.settle(d)
        self.assertEqual(h["legs"]["primary"]["2xx"], 1, h)
        self.assertEqual(h["legs"]["primary"]["error"], 0, h)
