#!/usr/bin/env python3
"""Test backend for diffd's end-to-end tests: a threaded HTTP/1.1 keep-alive server
that records every request and echoes it back as JSON.

    python3 backend.py --name primary [--port 0] [--delay-ms MS] [--fail MODE]

With --port 0 the kernel picks the port; the server prints `PORT <n>` on stdout once
it is listening. Only 127.0.0.1 is ever bound.

Control routes (not recorded, never delayed):
    GET    /__requests   JSON list of the requests received so far
    DELETE /__requests   forget them

Every other request is recorded (method, raw target, header pairs, body bytes) as soon
as it has been read, then answered. The behaviour is picked by the last path segment,
so a diffd backend URL with a path prefix (`/api/slow`) still selects it:

    /slow?ms=N          sleep N ms, then echo
    /status?code=N      echo with status N
    /reset              close the connection with a TCP RST, no answer
    /hang               never answer (sleeps 60 s, far past any test)
    /chunked            echo sent with Transfer-Encoding: chunked, in several chunks
    /gzip               echo gzip-compressed, Content-Encoding: gzip
    /bytes?n=N          N bytes of application/octet-stream (byte i = i % 256)
    /overlong           Content-Length 5 but more bytes follow (a fake second answer)
    /cl-and-te          both Content-Length and chunked framing
    /truncated          Content-Length 100, 10 bytes sent, connection closed
    /garbage            not an HTTP answer at all
    /chunked-ext        chunked answer with chunk extensions and a trailer
    /early              a 103 Early Hints interim answer, then the echo
    /bigjson?n=N        a JSON array of N objects (~75 bytes each) whose values come
                        from this backend's name and a per-request counter: every
                        answer differs from every other backend's (costly to compare)
    /eof                echo without Content-Length or chunking, ended by closing
    anything else       200 echo

Query parameters understood on any route:
    only=NAME[,NAME]    the route's behaviour applies only on these backends; the
                        others answer a plain echo (so one request can make only the
                        candidate slow)
    hdr=Name:Value      add a response header (may repeat)
    close=1             answer with Connection: close and close the connection

Per-backend behaviour from the command line:
    --delay-ms MS       sleep before every answer
    --fail status:N     answer every request with status N (echo body)
    --fail reset        reset every connection after reading the request
    --fail hang         never answer
    --tls CERT KEY      serve HTTPS

The echo body is JSON: {"backend", "method", "path", "target", "query", "headers":
[[name, value], ...], "body", "body_b64"}.
"""
import argparse
import base64
import gzip
import http.client
import http.server
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse

HANG_SECONDS = 60


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, item):
        with self.lock:
            self.items.append(item)

    def snapshot(self):
        with self.lock:
            return list(self.items)

    def clear(self):
        with self.lock:
            self.items.clear()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-backend"

    # BaseHTTPRequestHandler dispatches do_<METHOD>; route every method to one place.
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            body = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("eof in chunked body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # trailers until an empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                body += self.rfile.read(size)
                self.rfile.readline(3)
            return bytes(body)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_bytes(self, status, body, ctype="application/json", extra=(), chunked=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Backend-Name", self.server.name)
        for k, v in extra:
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = max(1, len(body) // 3)
            for i in range(0, len(body), step):
                part = body[i : i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        self.wfile.flush()

    def reset_connection(self):
        # SO_LINGER 0: close() sends RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def handle_any(self):
        split = urllib.parse.urlsplit(self.path)
        if split.path == "/__requests":
            if self.command == "DELETE":
                self.read_body()
                self.server.recorder.clear()
                self.send_bytes(200, b"{}")
            else:
                data = json.dumps(self.server.recorder.snapshot()).encode()
                self.send_bytes(200, data)
            return

        body = self.read_body()
        headers = [[k, v] for k, v in self.headers.items()]
        record = {
            "backend": self.server.name,
            "method": self.command,
            "target": self.path,
            "path": split.path,
            "query": split.query,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "body_b64": base64.b64encode(body).decode(),
            "time": time.time(),
        }
        self.server.recorder.add(record)

        params = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        extra = []
        for h in params.get("hdr", []):
            k, _, v = h.partition(":")
            extra.append((k.strip(), v.strip()))
        only = params.get("only")
        applies = only is None or self.server.name in ",".join(only).split(",")
        route = split.path.rstrip("/").rsplit("/", 1)[-1] if applies else ""

        if self.server.delay_ms:
            time.sleep(self.server.delay_ms / 1000.0)

        fail = self.server.fail
        if fail == "reset" or route == "reset":
            self.reset_connection()
            return
        if fail == "hang" or route == "hang":
            time.sleep(HANG_SECONDS)
            self.close_connection = True
            return
        if route == "overlong":
            # Broken framing: more body bytes than Content-Length, connection kept open.
            # The extra bytes look like an answer; a client must not take them as the
            # answer to its next request on this connection.
            junk = (b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\nX-Backend-Name: smuggled\r\n\r\n"
                    b'{"smuggled":1}\n')
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend-Name: %s\r\n"
                             b"Content-Length: 5\r\n\r\nhello%s" % (self.server.name.encode(), junk))
            self.wfile.flush()
            return
        if route == "cl-and-te":
            # Both Content-Length and chunked: chunked wins (RFC 9112 6.3).
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            self.wfile.flush()
            return
        if route == "truncated":
            # Promises 100 bytes, sends 10, closes.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
                             b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return
        if route == "garbage":
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if route == "chunked-ext":
            # Chunk extensions and a trailer field, both legal.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Sum\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n"
                             b"6;x\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n")
            self.wfile.flush()
            return
        if route == "early":
            # An interim 103 Early Hints before the real answer.
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n")
            self.wfile.flush()
        if route == "slow":
            time.sleep(int(params.get("ms", ["1000"])[0]) / 1000.0)

        status = 200
        if fail.startswith("status:"):
            status = int(fail.split(":", 1)[1])
        if route == "status":
            status = int(params.get("code", ["200"])[0])

        if route == "bigjson":
            n = int(params.get("n", ["1000"])[0])
            self.server.counter += 1
            salt = "%s-%d" % (self.server.name, self.server.counter)
            items = ",".join('{"id":%d,"name":"%s-%d","score":%d,"tags":["a%d","b%d"]}'
                             % (i, salt, i, hash((salt, i)) % 100000, i % 7, (i + len(salt)) % 5)
                             for i in range(n))
            self.send_bytes(status, ("[" + items + "]").encode(), "application/json", extra)
            return

        if route == "bytes":
            n = int(params.get("n", ["1024"])[0])
            data = bytes(i % 256 for i in range(n))
            self.send_bytes(status, data, "application/octet-stream", extra)
            return

        echo = {k: record[k] for k in ("backend", "method", "path", "target", "query", "headers", "body", "body_b64")}
        data = json.dumps(echo, sort_keys=True).encode()
        if route == "gzip":
            data = gzip.compress(data, mtime=0)
            extra.append(("Content-Encoding", "gzip"))
        if route == "eof":
            # HTTP/1.0 style: no length, the body ends when the connection closes.
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Backend-Name", self.server.name)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            return
        if params.get("close") == ["1"]:
            extra.append(("Connection", "close"))
        if status in (204, 304) or 100 <= status < 200:
            self.send_response(status)
            self.send_header("X-Backend-Name", self.server.name)
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            return
        self.send_bytes(status, data, "application/json", extra, chunked=(route == "chunked"))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--fail", default="", help="status:N | reset | hang")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS with this certificate")
    args = ap.parse_args()
    if args.fail and not (args.fail in ("reset", "hang") or args.fail.startswith("status:")):
        ap.error("--fail must be status:N, reset or hang")

    # Tests send requests with hundreds of headers (diffd's limit is 64 KiB in all).
    http.client._MAXHEADERS = 2000
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.name = args.name
    srv.delay_ms = args.delay_ms
    srv.fail = args.fail
    srv.recorder = Recorder()
    srv.counter = 0
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
