#!/usr/bin/env python3
"""Helpers for tests/bench/proxy_bench.sh (python3 standard library only).

  bench_util.py ports N                 print N free TCP ports on 127.0.0.1
  bench_util.py wait-http URL SECONDS [PID]  wait until URL answers 200 (1: timeout,
                                        2: PID exited)
  bench_util.py parse-wrk FILE          print "rps p50_ms p99_ms non2xx requests"
  bench_util.py rss PID                 print VmHWM and VmRSS of PID in KiB
  bench_util.py cpu PID                 print CPU seconds used by PID and its children
  bench_util.py run OUT CMD...          run CMD with output to OUT; print its CPU seconds
                                        and the whole machine's busy CPU seconds meanwhile
  bench_util.py quiet PCT SECONDS       wait until the CPUs are less than PCT % busy over one
                                        second (exit 1 if that does not happen in SECONDS)
  bench_util.py totals ADMIN_URL        print "received compared" from diffd's report (- -
                                        when it cannot be read)
  bench_util.py report TSV MD [k=v...]  print the Markdown result table, also write MD
"""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

CONFIGS = {
    "a": "(a) nginx proxy",
    "b": "(b) nginx + 2 mirrors",
    "c": "(c) diffd --sample 0",
    "d": "(d) diffd --sample 100",
}

# Targets from the issue: (numerator, denominator, metric, op, bound, label).
RATIO_TARGETS = [
    ("d", "b", "rps", ">=", 1.5, "rps (d)/(b)"),
    ("d", "b", "p99", "<=", 1.0, "p99 (d)/(b)"),
    ("c", "a", "rps", ">=", 0.8, "rps (c)/(a)"),
]
RSS_LIMIT_MB = 100.0
NOISY_PCT = 20.0  # "other load" above this makes a warning


def cmd_ports(n):
    socks = []
    try:
        for _ in range(int(n)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()


def pid_alive(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def cmd_wait_http(url, seconds, pid=None):
    """Exit 0 once URL answers 200, 1 on timeout, 2 as soon as PID (if given) is gone."""
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            return 2
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return 0
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    return 1


def to_ms(value, unit):
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    return float(value) * scale


def cmd_parse_wrk(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    m_rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    m_req = re.search(r"^\s*(\d+) requests in ", text, re.M)
    lat = dict(
        (q, to_ms(v, u))
        for q, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    )
    if not m_rps or not m_req or "50" not in lat or "99" not in lat:
        sys.stderr.write("bench_util: cannot parse wrk output %s\n" % path)
        return 1
    bad = 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        bad += int(m.group(1))
    m = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if m:
        bad += sum(int(x) for x in m.groups())
    print("%s %.3f %.3f %d %s" % (m_rps.group(1), lat["50"], lat["99"], bad, m_req.group(1)))
    return 0


def cmd_rss(pid):
    hwm = rss = 0
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    print(hwm, rss)
    return 0


def cmd_cpu(pid):
    """utime+stime of PID (all its threads) and of its direct children (nginx workers)."""
    tick = float(os.sysconf("SC_CLK_TCK"))
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid ... utime(14) stime(15).
        rest = stat[stat.rindex(")") + 2:].split()
        if entry == str(pid) or rest[1] == str(pid):
            total += int(rest[11]) + int(rest[12])
    print("%.2f" % (total / tick))
    return 0


def machine_busy_seconds():
    """CPU seconds spent not idle by all CPUs since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    steal = v[7] if len(v) > 7 else 0
    return (sum(v[:8]) - idle - steal) / float(os.sysconf("SC_CLK_TCK"))


def cmd_quiet(pct, seconds):
    deadline = time.monotonic() + float(seconds)
    ncpu = os.cpu_count() or 1
    while True:
        b0, t0 = machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        busy = (machine_busy_seconds() - b0) / ((time.monotonic() - t0) * ncpu) * 100
        if busy < float(pct):
            return 0
        if time.monotonic() >= deadline:
            print("%.0f" % busy)
            return 1


def cmd_run(out, *cmd):
    """Run CMD (wrk) with stdout+stderr to OUT; print 'cmd_cpu_s machine_busy_s'.

    Exits with CMD's status, so the caller can fail on it."""
    busy0 = machine_busy_seconds()
    with open(out, "wb") as f:
        proc = subprocess.Popen(list(cmd), stdout=f, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    busy = machine_busy_seconds() - busy0
    print("%.2f %.2f" % (ru.ru_utime + ru.ru_stime, busy))
    return proc.returncode


def cmd_totals(admin_url):
    try:
        with urllib.request.urlopen(admin_url.rstrip("/") + "/api/v1/report", timeout=5) as r:
            totals = json.load(r)["totals"]
        print(int(totals["received"]), int(totals["compared"]))
    except (OSError, ValueError, KeyError, TypeError):
        print("- -")
    return 0


def fmt_ms(v):
    return "%.2f" % v if v < 100 else "%.0f" % v


def cmd_report(tsv, md, *meta):
    # TSV columns: config round rps p50_ms p99_ms non2xx requests rss_hwm_kib cpu_s other_pct
    # backends_cpu_s diffd_received diffd_compared
    runs = {}
    for line in open(tsv):
        f = line.split()
        if len(f) < 8 or f[0] not in CONFIGS:
            continue
        runs.setdefault(f[0], []).append(
            dict(rps=float(f[2]), p50=float(f[3]), p99=float(f[4]), bad=int(f[5]),
                 req=int(f[6]), rss=int(f[7]),
                 cpu_us=(float(f[8]) * 1e6 / int(f[6])) if len(f) > 8 and int(f[6]) else 0.0,
                 other=float(f[9]) if len(f) > 9 else 0.0,
                 bcpu_us=(float(f[10]) * 1e6 / int(f[6])) if len(f) > 10 and int(f[6]) else 0.0,
                 received=int(f[11]) if len(f) > 12 and f[11].isdigit() else None,
                 compared=int(f[12]) if len(f) > 12 and f[12].isdigit() else None)
        )
    med = {}
    for c, rs in runs.items():
        med[c] = dict(
            rps=statistics.median(r["rps"] for r in rs),
            p50=statistics.median(r["p50"] for r in rs),
            p99=statistics.median(r["p99"] for r in rs),
            bad=sum(r["bad"] for r in rs),
            req=sum(r["req"] for r in rs),
            rss=max(r["rss"] for r in rs),
            cpu_us=statistics.median(r["cpu_us"] for r in rs),
            other=max(r["other"] for r in rs),
            bcpu_us=statistics.median(r["bcpu_us"] for r in rs),
            received=None if any(r["received"] is None for r in rs)
            else sum(r["received"] for r in rs),
            compared=None if any(r["compared"] is None for r in rs)
            else sum(r["compared"] for r in rs),
            n=len(rs),
        )

    out = []
    kv = dict(m.split("=", 1) for m in meta if "=" in m)
    if kv:
        out.append("Setup: " + ", ".join("%s %s" % (k, v) for k, v in kv.items()) + ".")
        out.append("")
    out.append("| config | rps | p50 ms | p99 ms | non-2xx | proxy CPU µs/req"
               " | backends CPU µs/req | requests | runs | other load % |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in CONFIGS:
        if c in med:
            m = med[c]
            out.append("| %s | %.0f | %s | %s | %d | %.0f | %.0f | %d | %d | %.0f |" % (
                CONFIGS[c], m["rps"], fmt_ms(m["p50"]), fmt_ms(m["p99"]), m["bad"],
                m["cpu_us"], m["bcpu_us"], m["req"], m["n"], m["other"]))
    out.append("")
    out.append("rps, p50, p99 and CPU per request: medians over the runs. non-2xx (wrk's \"Non-2xx"
               " or 3xx responses\" plus socket errors) and requests: totals. Proxy CPU: user +"
               " system time of the proxy (nginx master and workers, or all diffd threads) during"
               " the measured run, per request; it moves less than rps when the machine is busy."
               " Backends CPU: the same for the three backends together."
               " Other load: the largest share, over the runs, of all CPUs used by anything but"
               " the proxy, the backends and wrk; when it is high, rps and latency are noisy.")
    out.append("")

    verdicts = []
    for num, den, metric, op, bound, label in RATIO_TARGETS:
        if num in med and den in med and med[den][metric] > 0:
            r = med[num][metric] / med[den][metric]
            ok = r >= bound if op == ">=" else r <= bound
            verdicts.append(ok)
            out.append("- %s = %.2f (target %s %.1f): %s" % (
                label, r, op, bound, "PASS" if ok else "MISS"))
        else:
            out.append("- %s: n/a (config not run)" % label)
    bad = sum(m["bad"] for m in med.values())
    out.append("- non-2xx, all configs = %d (target 0): %s" % (bad, "PASS" if bad == 0 else "MISS"))
    rss = [(c, med[c]["rss"]) for c in ("c", "d") if c in med]
    if rss:
        peak = max(v for _, v in rss) / 1024.0
        detail = ", ".join("%s %.1f MB" % (c, v / 1024.0) for c, v in rss)
        out.append("- diffd peak RSS (VmHWM) = %.1f MB [%s] (target < %.0f MB): %s" % (
            peak, detail, RSS_LIMIT_MB, "PASS" if peak < RSS_LIMIT_MB else "MISS"))
    else:
        out.append("- diffd peak RSS: n/a (diffd not run)")
    for c, share in (("c", 0.0), ("d", 1.0)):
        if c not in med:
            continue
        m = med[c]
        if m["received"] is None:
            out.append("- %s diffd trials: n/a (admin /api/v1/report unreadable)" % CONFIGS[c])
            continue
        ok = abs(m["compared"] - share * m["received"]) <= 0.01 * m["received"]
        out.append("- %s compared %d of the %d requests it received, warm-ups included"
                   " (expected %s): %s" % (CONFIGS[c], m["compared"], m["received"],
                                           "all" if share else "none", "OK" if ok else "CHECK"))
    noisy = max((m["other"] for m in med.values()), default=0.0)
    if noisy > NOISY_PCT:
        out.append("- warning: other processes used up to %.0f%% of the CPUs during a run;"
                   " rps and latency (and their ratios) are unreliable: rerun on a quieter"
                   " machine" % noisy)
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(md, "w") as f:
        f.write(text)
    return 0


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    fn = {"ports": cmd_ports, "wait-http": cmd_wait_http, "parse-wrk": cmd_parse_wrk,
          "rss": cmd_rss, "cpu": cmd_cpu, "run": cmd_run, "totals": cmd_totals, "quiet": cmd_quiet, "report": cmd_report}.get(cmd)
    if fn is None:
        sys.stderr.write(__doc__)
        return 2
    return fn(*args) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
