#!/bin/sh
# GoReplay (gor) as diffd's traffic source, two ways:
#
#   live     gor captures the service's traffic off the network interface and sends a
#            copy of each request to diffd's proxy port at once;
#   capture  gor records the requests to a file; later (in CI, on a laptop) diffd
#            replays the file with `diffd replay --format gor`.
#
#   examples/goreplay.sh live                     # on the service's host, as root
#   examples/goreplay.sh capture [FILE]           # same, records until Ctrl-C
#   examples/goreplay.sh replay  FILE             # anywhere diffd runs
#
# Settings (environment): SERVICE_PORT [8080] the port your service listens on (gor
# sniffs it: the service itself is not touched); DIFFD [http://127.0.0.1:8880] diffd's
# proxy (--listen); DIFFD_ADMIN [http://127.0.0.1:8888] its admin address; GOR [gor].
#
# In the live mode diffd runs as a mirror target (answers 202 at once, never holding
# gor up):
#
#   diffd serve --listen 127.0.0.1:8880 --respond none \
#       --primary http://127.0.0.1:8080 --secondary http://10.0.0.6:8080 \
#       --candidate http://10.0.0.7:8080
#
# For a replay, the same with --respond primary --wait-all (each request answered once
# all three backends did: the replay is paced by the slowest one instead of being shed).
#
# What is run by the test suite: tests/e2e/test_examples.py runs this script's `replay`
# mode for real — `diffd replay --format gor` of a GoReplay capture file through a real
# diffd and three backends — and `sh -n` (plus shellcheck when installed) on the whole
# script. gor itself is not installed on the test machine: the gor command lines are
# checked statically (flags from GoReplay 1.3's --help).
#
# Things to know:
# - gor needs root (or CAP_NET_RAW) to capture, and sees only plain HTTP: terminate TLS
#   before the port it sniffs.
# - Only GET and HEAD are sent live (--http-allow-method): diffd would not compare the
#   others without --allow-side-effects anyway, and they would cost it work.
# - gor replaces the Host header with the --output-http host; diffd sets each leg's
#   Host to that backend's own unless --preserve-host.
# - "|20%" after the output URL sends a share of the requests (diffd's --sample or
#   --sample-key can sample on its side too, consistently per user).
# - A capture file holds the responses as well when gor runs with
#   --input-raw-track-response; diffd replay skips them.
set -eu

GOR=${GOR:-gor}
SERVICE_PORT=${SERVICE_PORT:-8080}
DIFFD=${DIFFD:-http://127.0.0.1:8880}
DIFFD_ADMIN=${DIFFD_ADMIN:-http://127.0.0.1:8888}
DIFFD_BIN=${DIFFD_BIN:-diffd}

usage() {
    echo "usage: $0 live | capture [FILE] | replay FILE" >&2
    exit 2
}

live() {
    # 8 fixed workers and a 2 s timeout: diffd answers at once (--respond none), so
    # more only helps when diffd is down — then requests are dropped, not queued.
    exec "$GOR" --input-raw ":$SERVICE_PORT" \
        --http-allow-method GET --http-allow-method HEAD \
        --output-http "$DIFFD" \
        --output-http-workers 8 \
        --output-http-timeout 2s \
        --output-http-stats
}

capture() {
    # One file (--output-file-append), with the responses skipped by `diffd replay`.
    file=${1:-requests.gor}
    echo "recording requests to port $SERVICE_PORT into $file until Ctrl-C" >&2
    exec "$GOR" --input-raw ":$SERVICE_PORT" \
        --output-file "$file" --output-file-append
}

replay() {
    [ $# -eq 1 ] || usage
    "$DIFFD_BIN" replay --target "$DIFFD" --input "$1" --format gor --concurrency 8
    "$DIFFD_BIN" check --url "$DIFFD_ADMIN" --junit diffd-junit.xml --markdown diffd.md
}

[ $# -ge 1 ] || usage
mode=$1
shift
case $mode in
live) live ;;
capture) capture "$@" ;;
replay) replay "$@" ;;
*) usage ;;
esac
