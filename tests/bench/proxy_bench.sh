#!/bin/sh
# Proxy benchmark behind `make bench` (see tests/bench/README.md).
# Three nginx-served JSON backends; wrk through (a) an nginx reverse proxy, (b) nginx with
# two `mirror` subrequests, (c) diffd --sample 0, (d) diffd --sample 100 --respond primary.
# Configs alternate a,b,c,d within each round; every proxy is started fresh for each run.
# Everything listens on 127.0.0.1 on ports picked at run time; only processes this
# script started are stopped (trap on exit). Exit status: 0 when every run completed
# (missed targets are reported, not failed), 1 when a component fails to start or wrk fails.

# Word splitting is wanted where variables are unquoted: "set -- $ports" splits helper
# output into fields, and BENCH_DIFFD_ARGS is a list of flags.
# shellcheck disable=SC2086

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
PY=${PYTHON:-python3}
DIFFD_BIN=${DIFFD_BIN:-$ROOT/build/diffd}
WORKERS=${BENCH_WORKERS:-1}                 # proxy nginx worker_processes = diffd --threads
BACKEND_WORKERS=${BENCH_BACKEND_WORKERS:-1} # worker_processes of the backends' nginx
CONNS=${BENCH_CONNS:-64}                    # wrk -c
THREADS=${BENCH_THREADS:-1}                 # wrk -t
DURATION=${BENCH_DURATION:-10}              # seconds per measured run
WARMUP=${BENCH_WARMUP:-2}                   # seconds of unmeasured load before each run
ROUNDS=${BENCH_ROUNDS:-3}
ONLY=${BENCH_ONLY:-a,b,c,d}
REQ_PATH=${BENCH_PATH:-/api/v1/users/48213?fields=orders}
DIFFD_ARGS=${BENCH_DIFFD_ARGS:-}            # extra diffd serve flags (word-split)
PERF=${BENCH_PERF:-0}                       # configs to profile after the rounds (1 = d)
PERF_CALLGRAPH=${BENCH_PERF_CALLGRAPH:-fp}  # perf record --call-graph: fp or dwarf
MAX_OTHER=${BENCH_MAX_OTHER:-25}            # rerun a run when other load exceeded this %
RETRIES=${BENCH_RETRIES:-2}                 # at most this many reruns per run
QUIET_WAIT=${BENCH_QUIET_WAIT:-30}          # seconds to wait for an idle machine per run
OUT=${BENCH_OUT:-$ROOT/build/bench}

UTIL="$PY $HERE/bench_util.py"
JSON_DOC=$HERE/user.json

log() {
    echo "bench: $*" >&2
}

die() {
    echo "bench: error: $*" >&2
    exit 1
}

# ---- process tracking -------------------------------------------------------------

PIDS=""

alive() {
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# stop PID: SIGTERM (nginx: fast shutdown; diffd: graceful), SIGKILL after 10 s.
stop() {
    pid=$1
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        i=0
        while alive "$pid" && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if alive "$pid"; then
            log "pid $pid did not stop on SIGTERM, killing it"
            pkill -KILL -P "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    rest=""
    for p in $PIDS; do
        [ "$p" = "$pid" ] || rest="$rest $p"
    done
    PIDS=$rest
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    for p in $PIDS; do
        stop "$p"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- helpers -------------------------------------------------------------------------

wanted() {
    case ",$ONLY," in
    *",$1,"*) return 0 ;;
    esac
    return 1
}

# nginx workers run as root when we are root: the run directory is private (mktemp -d),
# and the default worker user (nobody) could not read the document in it.
if [ "$(id -u)" = 0 ]; then USER_LINE="user root;"; else USER_LINE=""; fi

render() { # TEMPLATE DIR LISTEN_PORT > DIR/nginx.conf
    mkdir -p "$2/tmp" "$2/www"
    sed -e "s|@DIR@|$2|g" -e "s|@LISTEN_PORT@|$3|g" \
        -e "s|@WORKERS@|$WORKERS|g" -e "s|@BACKEND_WORKERS@|$BACKEND_WORKERS|g" \
        -e "s|@PRIMARY_PORT@|$P_PRIMARY|g" -e "s|@SECONDARY_PORT@|$P_SECONDARY|g" \
        -e "s|@CANDIDATE_PORT@|$P_CANDIDATE|g" -e "s|@UPSTREAM_KEEPALIVE@|$CONNS|g" \
        -e "s|@USER_LINE@|$USER_LINE|g" \
        "$HERE/$1" >"$2/nginx.conf"
}

# start_nginx DIR: starts nginx in the foreground (tracked), sets NGINX_PID.
start_nginx() {
    "$NGINX" -t -q -p "$1" -c "$1/nginx.conf" -g 'daemon off;' 2>"$1/nginx-t.log" ||
        die "nginx config $1/nginx.conf rejected: $(cat "$1/nginx-t.log")"
    "$NGINX" -p "$1" -c "$1/nginx.conf" -g 'daemon off;' >"$1/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS="$PIDS $NGINX_PID"
}

# check_body URL NAME: the proxied answer must be the backends' document, byte for byte.
check_body() {
    curl -sS --max-time 5 -o "$WORK/body.check" "$1" ||
        die "$2: GET $1 failed"
    cmp -s "$WORK/body.check" "$JSON_DOC" ||
        die "$2: GET $1 did not return the backend document ($(head -c 200 "$WORK/body.check"))"
}

start_backends() {
    ports=$($UTIL ports 3) || die "cannot pick free ports"
    set -- $ports
    P_PRIMARY=$1 P_SECONDARY=$2 P_CANDIDATE=$3
    dir=$WORK/backends
    render backends.conf.in "$dir" 0
    cp "$JSON_DOC" "$dir/www/user.json"
    start_nginx "$dir"
    BACKENDS_PID=$NGINX_PID
    for p in $P_PRIMARY $P_SECONDARY $P_CANDIDATE; do
        $UTIL wait-http "http://127.0.0.1:$p/healthcheck" 10 "$BACKENDS_PID" ||
            die "backend nginx did not answer on port $p (see $dir/error.log: $(tail -n 3 "$dir/error.log" 2>/dev/null))"
    done
    check_body "http://127.0.0.1:$P_PRIMARY$REQ_PATH" backends
    log "backends: nginx pid $BACKENDS_PID on ports $P_PRIMARY $P_SECONDARY $P_CANDIDATE ($BACKEND_WORKERS worker(s))"
}

# start_proxy CONFIG RUN_DIR: sets PROXY_PID, PROXY_PORT and ADMIN_PORT (diffd).
start_proxy() {
    cfg=$1 dir=$2
    ports=$($UTIL ports 2) || die "cannot pick free ports"
    set -- $ports
    PROXY_PORT=$1 ADMIN_PORT=$2
    mkdir -p "$dir"
    case $cfg in
    a | b)
        [ "$cfg" = a ] && tpl=proxy_plain.conf.in || tpl=proxy_mirror.conf.in
        render "$tpl" "$dir" "$PROXY_PORT"
        start_nginx "$dir"
        PROXY_PID=$NGINX_PID
        $UTIL wait-http "http://127.0.0.1:$PROXY_PORT$REQ_PATH" 10 "$PROXY_PID" ||
            die "($cfg) nginx proxy did not come up (see $dir/error.log)"
        ;;
    c | d)
        [ "$cfg" = c ] && sample=0 || sample=100
        "$DIFFD_BIN" serve \
            --primary "http://127.0.0.1:$P_PRIMARY" \
            --secondary "http://127.0.0.1:$P_SECONDARY" \
            --candidate "http://127.0.0.1:$P_CANDIDATE" \
            --listen "127.0.0.1:$PROXY_PORT" --admin "127.0.0.1:$ADMIN_PORT" \
            --sample "$sample" --respond primary --threads "$WORKERS" $DIFFD_ARGS \
            >"$dir/diffd.log" 2>&1 &
        PROXY_PID=$!
        PIDS="$PIDS $PROXY_PID"
        if ! $UTIL wait-http "http://127.0.0.1:$ADMIN_PORT/healthz" 10 "$PROXY_PID"; then
            if ! alive "$PROXY_PID"; then
                wait "$PROXY_PID"
                die "($cfg) diffd exited at start (status $?): $(tail -n 5 "$dir/diffd.log")"
            fi
            die "($cfg) diffd admin /healthz not ready within 10 s (see $dir/diffd.log)"
        fi
        $UTIL wait-http "http://127.0.0.1:$PROXY_PORT$REQ_PATH" 10 "$PROXY_PID" ||
            die "($cfg) diffd proxy port $PROXY_PORT does not answer 200 (see $dir/diffd.log)"
        ;;
    esac
    check_body "http://127.0.0.1:$PROXY_PORT$REQ_PATH" "($cfg)"
}

# run_wrk SECONDS URL OUTFILE: sets WRK_CPU (wrk's CPU seconds) and MACHINE_BUSY (CPU
# seconds all processes on the machine used meanwhile).
run_wrk() {
    usage=$($UTIL run "$3" "$WRK" -t "$THREADS" -c "$CONNS" -d "${1}s" --latency "$2") ||
        die "wrk failed (exit $?): $(tail -n 5 "$3")"
    set -- $usage
    WRK_CPU=$1 MACHINE_BUSY=$2
}

# ---- checks --------------------------------------------------------------------------

[ -x "$NGINX" ] || die "nginx not found at $NGINX (make deps)"
command -v "$WRK" >/dev/null 2>&1 || die "wrk not found (make deps)"
command -v curl >/dev/null 2>&1 || die "curl not found (make deps)"
CONFIGS=""
for c in a b c d; do
    wanted "$c" && CONFIGS="$CONFIGS $c"
done
[ -n "$CONFIGS" ] || die "BENCH_ONLY=$ONLY selects none of a,b,c,d"
if wanted c || wanted d; then
    [ -x "$DIFFD_BIN" ] || die "diffd binary not found at $DIFFD_BIN (make)"
fi
PERF_CONFIGS=""
case $PERF in
0 | "") ;;
1) PERF_CONFIGS=d ;;
*) PERF_CONFIGS=$(echo "$PERF" | tr ',' ' ') ;;
esac
for c in $PERF_CONFIGS; do
    case $c in
    a | b | c | d) ;;
    *) die "BENCH_PERF=$PERF: expected 0, 1 or configs among a,b,c,d" ;;
    esac
done
if [ -n "$PERF_CONFIGS" ]; then
    command -v perf >/dev/null 2>&1 || die "BENCH_PERF=$PERF needs perf (linux-perf)"
    case " $PERF_CONFIGS " in
    *" c "* | *" d "*) [ -x "$DIFFD_BIN" ] || die "diffd binary not found at $DIFFD_BIN (make)" ;;
    esac
fi
for v in WORKERS=$WORKERS BACKEND_WORKERS=$BACKEND_WORKERS CONNS=$CONNS THREADS=$THREADS \
    DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS MAX_OTHER=$MAX_OTHER RETRIES=$RETRIES \
    QUIET_WAIT=$QUIET_WAIT; do
    case ${v#*=} in
    "" | *[!0-9]*) die "BENCH_${v%%=*}=${v#*=}: expected a whole number" ;;
    esac
done
[ "$THREADS" -le "$CONNS" ] || die "BENCH_THREADS ($THREADS) > BENCH_CONNS ($CONNS)"

mkdir -p "$OUT" || die "cannot create $OUT"
# Raw logs of earlier runs are removed, except those of a run still going on (its owner.pid
# is a live proxy_bench.sh, or it was created in the last minute and has none yet).
for d in "$OUT"/run.*; do
    [ -d "$d" ] || continue
    owner=$(cat "$d/owner.pid" 2>/dev/null) || owner=""
    if [ -n "$owner" ] && alive "$owner" && grep -q proxy_bench "/proc/$owner/cmdline" 2>/dev/null; then
        log "warning: another proxy_bench.sh (pid $owner) is running; both runs' numbers will suffer"
    elif [ -z "$owner" ] && [ -n "$(find "$d" -maxdepth 0 -mmin -1)" ]; then
        :
    else
        rm -rf "$d"
    fi
done
WORK=$(mktemp -d "$OUT/run.XXXXXX") || die "cannot create a run directory under $OUT"
echo $$ >"$WORK/owner.pid"
RESULTS=$WORK/results.tsv
: >"$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
NCPU=$(nproc)

log "run directory $WORK"
log "configs:$CONFIGS; $ROUNDS round(s) x ${DURATION}s (+${WARMUP}s warm-up); wrk -t$THREADS -c$CONNS; proxy workers $WORKERS"

start_backends

# measure CONFIG DIR: one run (fresh proxy, warm-up, measured wrk run, proxy stopped).
# Sets RESULT (a results.tsv line without config and round) and OTHER (other load %).
measure() {
    cfg=$1 dir=$2
    # Other users of the machine disturb the numbers: start once it is idle, if it gets
    # idle within QUIET_WAIT seconds.
    if [ "$QUIET_WAIT" -gt 0 ] && ! busy=$($UTIL quiet 15 "$QUIET_WAIT"); then
        log "machine still ${busy}% busy after ${QUIET_WAIT}s of waiting; running anyway"
    fi
    start_proxy "$cfg" "$dir"
    url="http://127.0.0.1:$PROXY_PORT$REQ_PATH"
    [ "$WARMUP" -gt 0 ] && run_wrk "$WARMUP" "$url" "$dir/warmup.txt"
    cpu0=$($UTIL cpu "$PROXY_PID")
    bcpu0=$($UTIL cpu "$BACKENDS_PID")
    run_wrk "$DURATION" "$url" "$dir/wrk.txt"
    cpu1=$($UTIL cpu "$PROXY_PID")
    bcpu1=$($UTIL cpu "$BACKENDS_PID")
    alive "$PROXY_PID" || die "($cfg) proxy died during the run (see $dir)"
    line=$($UTIL parse-wrk "$dir/wrk.txt") || die "($cfg) unreadable wrk output $dir/wrk.txt"
    hwm=0 trials="- -"
    case $cfg in
    c | d)
        mem=$($UTIL rss "$PROXY_PID") || die "($cfg) cannot read /proc/$PROXY_PID/status"
        set -- $mem
        hwm=$1
        trials=$($UTIL totals "http://127.0.0.1:$ADMIN_PORT")
        ;;
    esac
    stop "$PROXY_PID"
    cpu=$(echo "$cpu0 $cpu1" | awk '{printf "%.2f", $2 - $1}')
    bcpu=$(echo "$bcpu0 $bcpu1" | awk '{printf "%.2f", $2 - $1}')
    # CPU time the machine spent on anything but this run, as a share of all CPUs.
    OTHER=$(echo "$MACHINE_BUSY $WRK_CPU $cpu $bcpu $DURATION $NCPU" | awk '{
        o = ($1 - $2 - $3 - $4) / ($5 * $6) * 100; printf "%.0f", (o < 0 ? 0 : o) }')
    RESULT="$line $hwm $cpu $OTHER $bcpu $trials"
    set -- $line
    log "round $round ($cfg): $1 rps, p50 $2 ms, p99 $3 ms, non-2xx $4, proxy CPU ${cpu}s," \
        "other load ${OTHER}%$([ "$hwm" -gt 0 ] && echo ", VmHWM $((hwm / 1024)) MB")"
}

round=1
while [ $round -le "$ROUNDS" ]; do
    for cfg in $CONFIGS; do
        attempt=0
        measure "$cfg" "$WORK/$cfg.$round"
        best=$RESULT best_other=$OTHER
        # A run disturbed by other load is done again (same place in the alternation); the
        # attempt with the least other load is kept, whatever its numbers.
        while [ "$OTHER" -gt "$MAX_OTHER" ] && [ $attempt -lt "$RETRIES" ]; do
            attempt=$((attempt + 1))
            log "round $round ($cfg): other load ${OTHER}% > ${MAX_OTHER}%: again ($attempt/$RETRIES)"
            measure "$cfg" "$WORK/$cfg.$round.again$attempt"
            if [ "$OTHER" -lt "$best_other" ]; then
                best=$RESULT best_other=$OTHER
            fi
        done
        echo "$cfg $round $best" >>"$RESULTS"
    done
    round=$((round + 1))
done

echo
$UTIL report "$RESULTS" "$OUT/proxy_bench.md" \
    "cpus=$NCPU" "proxy workers=$WORKERS" "backend workers=$BACKEND_WORKERS" \
    "wrk=-t$THREADS -c$CONNS" "duration=${DURATION}s x $ROUNDS rounds (+${WARMUP}s warm-up)" \
    "nginx=$("$NGINX" -v 2>&1 | sed 's|.*/||')" \
    "load avg before/after=$LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)" || die "report failed"
cp "$RESULTS" "$OUT/proxy_bench.tsv"
log "table written to $OUT/proxy_bench.md, raw runs in $OUT/proxy_bench.tsv and $WORK"

# Optional: one more run of each config in BENCH_PERF under `perf record` (attached to diffd,
# all threads, or to nginx's workers), not counted in the table.
for cfg in $PERF_CONFIGS; do
    dir=$WORK/$cfg.perf
    start_proxy "$cfg" "$dir"
    url="http://127.0.0.1:$PROXY_PORT$REQ_PATH"
    [ "$WARMUP" -gt 0 ] && run_wrk "$WARMUP" "$url" "$dir/warmup.txt"
    targets=$PROXY_PID
    case $cfg in
    a | b) targets=$(pgrep -d, -P "$PROXY_PID") || die "($cfg) no nginx workers found" ;;
    esac
    perf record --call-graph "$PERF_CALLGRAPH" -o "$dir/perf.data" -p "$targets" \
        -- sleep "$DURATION" >"$dir/perf.log" 2>&1 &
    perf_pid=$!
    PIDS="$PIDS $perf_pid"
    run_wrk "$DURATION" "$url" "$dir/wrk.txt"
    wait "$perf_pid" || die "perf record failed: $(tail -n 3 "$dir/perf.log")"
    PIDS=$(echo "$PIDS" | sed "s/ $perf_pid//")
    stop "$PROXY_PID"
    echo
    echo "perf ($cfg) while serving $(sed -n 's/^Requests\/sec: *//p' "$dir/wrk.txt") rps;" \
        "data: $dir/perf.data"
    echo "self time by object:"
    perf report -i "$dir/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep '%' | grep -v '^#' | head -n 8
    echo "top 15 symbols by self time:"
    perf report -i "$dir/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
        grep '%' | grep -v '^#' | head -n 15
done
exit 0
