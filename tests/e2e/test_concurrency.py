"""Many clients at once, keep-alive, both workers: every answer right, every trial
counted (also the test that gives ASan/UBSan builds some concurrency to chew on)."""
import concurrent.futures
import http.client
import json

from e2elib import LOCAL, TrioTest


class ConcurrencyTest(TrioTest):
    def test_parallel_keepalive_clients(self):
        p, s, c, d = self.trio("--allow-side-effects", threads=2)
        clients, per = 16, 12

        def client(k):
            conn = http.client.HTTPConnection(LOCAL, d.port, timeout=15)
            bad = []
            try:
                for j in range(per):
                    target = "/c/%d/%d?k=%d" % (k, j, k)
                    if j % 3 == 2:
                        body = ("payload-%d-%d" % (k, j)).encode() * 50
                        conn.request("POST", target, body=body)
                    else:
                        body = b""
                        conn.request("GET", target)
                    r = conn.getresponse()
                    doc = json.loads(r.read())
                    if r.status != 200 or doc["target"] != target or doc["body"].encode() != body:
                        bad.append((target, r.status, doc.get("target")))
            finally:
                conn.close()
            return bad

        with concurrent.futures.ThreadPoolExecutor(clients) as ex:
            bad = [b for result in ex.map(client, range(clients)) for b in result]
        self.assertEqual(bad, [])
        n = clients * per
        h = self.settle(d, timeout=15)
        self.assertEqual((h["totals"]["received"], h["totals"]["compared"]), (n, n), h)
        for leg in ("primary", "secondary", "candidate"):
            self.assertEqual(h["legs"][leg]["2xx"], n, h)
        self.assertEqual(len(c.requests()), n)
