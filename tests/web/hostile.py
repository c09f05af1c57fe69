#!/usr/bin/env python3
"""A backend whose JSON answers carry markup and script in keys and values, for the
dashboard's escaping test. The candidate's answer differs from the primary's (and the
secondary's) in hostile keys, so those paths are highlighted in the sample view.

    python3 hostile.py --port 0 [--role primary|secondary|candidate]

Prints `PORT <n>` once listening on 127.0.0.1. Python standard library only.
"""
import argparse
import http.server
import json
import socketserver
import sys

IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT = "</script><script>window.__pwned=2</script>"


def doc(role, path):
    cand = role == "candidate"
    return {
        IMG: SCRIPT if not cand else SCRIPT + "<b>changed</b>",
        "odd key's \"quote\" \\ " + SCRIPT: {"<svg onload=window.__pwned=3>": 1 if not cand else 2},
        "html": "<iframe srcdoc='<script>parent.__pwned=4</script>'></iframe>",
        "list": ["<a href=javascript:window.__pwned=5>x</a>", {"x-" + IMG: cand}],
        "path": path,
        "javascript:alert(1)": "javascript:window.__pwned=6",
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    role = "primary"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        body = json.dumps(doc(self.role, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # A hostile header too (name and value are shown in the sample view).
        self.send_header("X-Evil", IMG if self.role != "candidate" else SCRIPT)
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--role", default="primary")
    a = ap.parse_args()
    Handler.role = a.role
    srv = Server(("127.0.0.1", a.port), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
