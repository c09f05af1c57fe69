#!/usr/bin/env python3
"""A small, realistically noisy shop API for trying diffd (make demo, e2e tests).

    python3 server.py [--port 0] [--name NAME] [--change ENDPOINT.FIELD]...
                      [--slow ENDPOINT:FACTOR]... [--error-rate ENDPOINT:PCT]...

Routes (JSON everywhere):
    GET  /users/<id>       a user: name, email, address, tags, score
    GET  /orders/<id>      an order: items, subtotal, discount, tax, total, tags
    GET  /search?q=TEXT    up to 5 products with a relevance score
    GET  /health           {"status": "ok", ...}
    POST /orders           create an order from {"user_id": N, "items": [{"sku", "qty"}]};
                           answers 201 with the created order (ids count up per instance)

Content is deterministic (derived from the id or the query) except for the noise every
response carries, which differs between any two calls, even between two instances of
the same version:
    $.request_id           a random UUID (also sent as the X-Request-Id header)
    $.generated_at         the current time, ISO 8601 with microseconds
    Date header            the current second (http.server's own)
    $.tags                 shuffled on every response (users, orders)
    $.score                relative jitter of about 1e-9 (users, and each of
                           $.results[*].score in search)

Base latency (sleep before answering): users 5 ms, orders 6 ms, search 8 ms,
health 1 ms, POST /orders 5 ms.

Switches that make a *candidate* misbehave on purpose (each may repeat); ENDPOINT is
one of users, orders, search, health, create (POST /orders):
    --change ENDPOINT.FIELD   that field of that endpoint's answers is wrong: a number
                              grows by 10% (+1 for integers), a string is upper-cased
                              (or gets a "!"), a boolean flips, a list loses its last
                              element, an object gets an extra key. FIELD is a dotted
                              path; a list on the way applies to each element
                              (search.results.price). Checked at start.
    --slow ENDPOINT:FACTOR    multiply that endpoint's base latency by FACTOR
    --error-rate ENDPOINT:PCT answer 500 on PCT% of that endpoint's requests. The choice
                              is deterministic per key (the id, or q for search): the
                              same id always fails, on every run and every instance, and
                              about PCT% of distinct ids do. Requests without a key
                              (health, create) fail at random with probability PCT%.

Binds 127.0.0.1 only. With --port 0 the kernel picks the port; `PORT <n>` is printed on
stdout once listening. Python 3 standard library only.
"""
import argparse
import datetime
import http.server
import json
import random
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

VERSION = "1.4.2"
ENDPOINTS = ("users", "orders", "search", "health", "create")
BASE_MS = {"users": 5.0, "orders": 6.0, "search": 8.0, "health": 1.0, "create": 5.0}
MAX_ID = 1_000_000
JITTER = 1e-9

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Ken", "Dennis", "Frances",
         "John", "Margaret", "Niklaus", "Radia", "Leslie", "Tony", "Shafi"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Thompson", "Ritchie",
        "Allen", "McCarthy", "Hamilton", "Wirth", "Perlman", "Lamport", "Hoare", "Goldwasser"]
CITIES = [("Lyon", "FR"), ("Porto", "PT"), ("Ghent", "BE"), ("Turin", "IT"), ("Leipzig", "DE"),
          ("Malmo", "SE"), ("Cork", "IE"), ("Brno", "CZ")]
USER_TAGS = ["newsletter", "vip", "beta", "mobile", "returning", "gift-cards", "reviews",
             "early-bird", "wholesale", "eu"]
ORDER_TAGS = ["gift", "express", "fragile", "insured", "eco-pack", "pickup", "priority",
              "bundle"]
PRODUCTS = [  # sku, name, price
    ("SKU-1001", "blue mug", 9.5), ("SKU-1002", "red mug", 9.5), ("SKU-1003", "teapot", 24.0),
    ("SKU-1004", "espresso cup", 6.25), ("SKU-1005", "french press", 31.9),
    ("SKU-1006", "coffee grinder", 58.0), ("SKU-1007", "milk jug", 12.4),
    ("SKU-1008", "tea strainer", 4.75), ("SKU-1009", "travel mug", 18.0),
    ("SKU-1010", "kettle", 44.5), ("SKU-1011", "coaster set", 7.2),
    ("SKU-1012", "green tea 100g", 8.9), ("SKU-1013", "dark roast 1kg", 21.0),
    ("SKU-1014", "cold brew bottle", 16.5), ("SKU-1015", "sugar bowl", 11.0),
    ("SKU-1016", "scale", 27.3),
]
PRICE = {sku: price for sku, _, price in PRODUCTS}
TAX_RATE = 0.2

_sysrand = random.SystemRandom()


def rng(*key):
    """A generator seeded from key: the same content in every process and run."""
    return random.Random("|".join(str(k) for k in key))


def jitter(x):
    return x * (1.0 + _sysrand.uniform(-JITTER, JITTER))


def shuffled(items):
    return _sysrand.sample(items, len(items))


def money(x):
    return round(x + 1e-9, 2)


# ---- content ------------------------------------------------------------------


def user_doc(uid):
    r = rng("user", uid)
    first, last = r.choice(FIRST), r.choice(LAST)
    city, country = r.choice(CITIES)
    return {
        "id": uid,
        "name": "%s %s" % (first, last),
        "email": "%s.%s%d@example.com" % (first.lower(), last.lower(), uid % 100),
        "created": "20%02d-%02d-%02dT%02d:%02d:00Z" % (r.randint(15, 25), r.randint(1, 12),
                                                     r.randint(1, 28), r.randint(0, 23),
                                                     r.randint(0, 59)),
        "address": {"city": city, "country": country, "zip": "%05d" % r.randint(1000, 99999)},
        "active": r.random() < 0.9,
        "tags": shuffled(r.sample(USER_TAGS, r.randint(5, 7))),
        "score": jitter(round(r.uniform(1, 100), 6)),
    }


def priced_order(oid, user_id, lines, status):
    items = []
    subtotal = 0.0
    for sku, qty in lines:
        unit = PRICE[sku]
        items.append({"sku": sku, "qty": qty, "unit_price": unit, "line_total": money(unit * qty)})
        subtotal += unit * qty
    subtotal = money(subtotal)
    discount = money(subtotal * 0.1) if subtotal >= 100 else 0.0
    tax = money((subtotal - discount) * TAX_RATE)
    return {
        "id": oid,
        "user_id": user_id,
        "status": status,
        "currency": "EUR",
        "items": items,
        "subtotal": subtotal,
        "discount": discount,
        "tax": tax,
        "total": money(subtotal - discount + tax),
    }


def order_doc(oid):
    r = rng("order", oid)
    lines = [(r.choice(PRODUCTS)[0], r.randint(1, 4)) for _ in range(r.randint(1, 4))]
    doc = priced_order(oid, r.randint(1, 5000), lines, r.choice(["paid", "shipped", "delivered"]))
    doc["tags"] = shuffled(r.sample(ORDER_TAGS, r.randint(5, 6)))
    return doc


def search_doc(q):
    r = rng("search", q.lower())
    picks = r.sample(PRODUCTS, r.randint(1, 5)) if q else []
    scored = sorted(((round(r.uniform(0.5, 20.0), 6), p) for p in picks), key=lambda t: -t[0])
    return {
        "query": q,
        "count": len(scored),
        "results": [{"sku": sku, "name": name, "price": price, "score": jitter(s)}
                    for s, (sku, name, price) in scored],
    }


def health_doc():
    return {"status": "ok", "version": VERSION}


# ---- candidate misbehaviour -----------------------------------------------------


def mutate(v):
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 1
    if isinstance(v, float):
        return money(v * 1.1) if v else 1.0
    if isinstance(v, str):
        return v.upper() if v.upper() != v else v + "!"
    if isinstance(v, list):
        return v[:-1] if v else ["changed"]
    if isinstance(v, dict):
        return dict(v, changed=True)
    return "changed"


def apply_change(node, keys):
    """Mutate node at the dotted key path; lists on the way apply to each element.
    Returns how many values were changed."""
    if isinstance(node, list):
        return sum(apply_change(e, keys) for e in node)
    if not isinstance(node, dict) or keys[0] not in node:
        return 0
    if len(keys) == 1:
        node[keys[0]] = mutate(node[keys[0]])
        return 1
    return apply_change(node[keys[0]], keys[1:])


def key_fails(endpoint, key, pct):
    if pct <= 0:
        return False
    if key is None:
        return _sysrand.random() * 100 < pct
    return zlib.crc32(("%s:%s" % (endpoint, key)).encode()) % 10000 < pct * 100


# ---- HTTP -----------------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "shop-api/" + VERSION
    disable_nagle_algorithm = True  # TCP_NODELAY on every accepted socket

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.log:
            sys.stderr.write("%s %s\n" % (self.server.name, fmt % args))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def answer(self, status, doc, rid):
        doc = dict(doc)
        doc["request_id"] = rid
        doc["generated_at"] = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        body = json.dumps(doc).encode()
        self.send_response(status)  # adds Server and Date
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", rid)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def route(self, method, path, query):
        """(endpoint, key, builder) for a request, or (None, status, message)."""
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] in ("users", "orders"):
            endpoint = parts[0]
            if method not in ("GET", "HEAD"):
                return None, 405, "method not allowed"
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= MAX_ID:
                return None, 404, "no such %s" % endpoint[:-1]
            ident = int(parts[1])
            build = user_doc if endpoint == "users" else order_doc
            return endpoint, ident, lambda: build(ident)
        if parts == ["search"] and method in ("GET", "HEAD"):
            q = urllib.parse.parse_qs(query).get("q", [""])[0]
            return "search", q, lambda: search_doc(q)
        if parts == ["health"] and method in ("GET", "HEAD"):
            return "health", None, health_doc
        if parts == ["orders"] and method == "POST":
            return "create", None, None
        if parts in (["search"], ["health"], ["orders"]):
            return None, 405, "method not allowed"
        return None, 404, "not found"

    def create_order(self, body):
        try:
            req = json.loads(body.decode("utf-8"))
            user_id = int(req["user_id"])
            lines = [(str(i["sku"]), int(i.get("qty", 1))) for i in req["items"]]
            if not lines or any(sku not in PRICE or qty < 1 for sku, qty in lines):
                raise ValueError("unknown sku or bad qty")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return 400, {"error": "bad order: %s" % e}
        with self.server.lock:
            self.server.next_order += 1
            oid = self.server.next_order
        return 201, priced_order(oid, user_id, lines, "created")

    def dispatch(self):
        rid = str(uuid.uuid4())
        split = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        endpoint, key, build = self.route(self.command, split.path, split.query)
        if endpoint is None:
            self.answer(key, {"error": build}, rid)
            return
        srv = self.server
        time.sleep(BASE_MS[endpoint] * srv.slow.get(endpoint, 1.0) / 1000.0)
        if key_fails(endpoint, key, srv.error_rate.get(endpoint, 0.0)):
            self.answer(500, {"error": "internal server error"}, rid)
            return
        if endpoint == "create":
            status, doc = self.create_order(body)
        else:
            status, doc = 200, build()
        if status < 400:
            for keys in srv.changes.get(endpoint, []):
                apply_change(doc, keys)
        self.answer(status, doc, rid)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def sample_doc(endpoint):
    """A representative answer per endpoint, to check --change paths at start."""
    if endpoint == "users":
        return user_doc(1)
    if endpoint == "orders":
        return order_doc(1)
    if endpoint == "search":
        return {"query": "mug", "count": 1,
                "results": [{"sku": "SKU-1001", "name": "blue mug", "price": 9.5, "score": 1.0}]}
    if endpoint == "health":
        return health_doc()
    return priced_order(100001, 1, [("SKU-1001", 1)], "created")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="shop", help="label for --log lines")
    ap.add_argument("--change", action="append", default=[], metavar="ENDPOINT.FIELD")
    ap.add_argument("--slow", action="append", default=[], metavar="ENDPOINT:FACTOR")
    ap.add_argument("--error-rate", action="append", default=[], metavar="ENDPOINT:PCT")
    ap.add_argument("--log", action="store_true", help="log each request on stderr")
    args = ap.parse_args(argv)

    def endpoint_of(spec, name):
        if name not in ENDPOINTS:
            ap.error("%s: unknown endpoint %r (one of %s)" % (spec, name, ", ".join(ENDPOINTS)))
        return name

    args.changes = {}
    for spec in args.change:
        name, _, path = spec.partition(".")
        endpoint_of(spec, name)
        keys = path.split(".") if path else []
        if not keys or not all(keys) or not apply_change(sample_doc(name), keys):
            ap.error("--change %s: no field %r in %s answers" % (spec, path, name))
        args.changes.setdefault(name, []).append(keys)

    def number_map(specs, flag, lo, hi):
        out = {}
        for spec in specs:
            name, _, val = spec.partition(":")
            endpoint_of(spec, name)
            try:
                x = float(val)
            except ValueError:
                x = float("nan")
            if not lo <= x <= hi:
                ap.error("%s %s: want ENDPOINT:NUMBER with NUMBER in [%g, %g]" % (flag, spec, lo, hi))
            out[name] = x
        return out

    args.slow_map = number_map(args.slow, "--slow", 0, 1000)
    args.error_map = number_map(args.error_rate, "--error-rate", 0, 100)
    return args


def main(argv=None):
    args = parse_args(argv)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.name = args.name
    srv.log = args.log
    srv.changes = args.changes
    srv.slow = args.slow_map
    srv.error_rate = args.error_map
    srv.lock = threading.Lock()
    srv.next_order = 100000
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
