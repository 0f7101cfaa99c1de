#!/usr/bin/env bash
# bench/churn/run.sh: many HTTP connections opened, then closed at once, through MonaServer's HTTP
# plugin (ours) vs nginx (peer, 1 worker), one server at a time: is the server still responsive while
# it tears them down, and does its memory come back?
#
# Usage: bench/churn/run.sh [options]
#   --no-build            do not run swift build (binaries must already exist)
#   -n, --connections N   connections opened, then closed together (env CONNS, default 15000)
#   -s, --settle S        seconds between the last close and the end RSS  (env SETTLE, default 10)
#   -h, --help
# Env: BIN=<dir>  folder holding MonaServer and libMonaHTTP.so; implies --no-build.
# Needs: python3, curl, nginx (apt-get install -y nginx-light curl); a file-descriptor limit above N
# for both the server and the client (the script raises its soft limit to the hard one).
#
# Per server: RSS after one warm-up request (start); churn_load.py opens N keep-alive connections,
# each doing one GET /hello.txt and reading the answer (setup time); RSS with all open (peak); then
# the client closes all of them at once and, at the same moment, a probe `curl` times one request
# (probe_ms: how long a newcomer waits while the server handles N closes); the script then waits until
# the server holds no more than 16 descriptors above its start (drain_s) and reads RSS SETTLE s later
# (end: an idle server collects Lua's garbage and trims its heap on 2 s ticks).
# It prints every figure and the ratio ours/nginx; `back%` is how much of the growth was given back.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

CONNS=${CONNS:-15000}
SETTLE=${SETTLE:-10}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -n | --connections) CONNS=${2:?}; shift ;;
    -s | --settle) SETTLE=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $CONNS =~ ^[0-9]+$ ]] && ((CONNS > 0)) || bench_die "connections must be a positive integer: $CONNS"
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) > CONNS + 64)) || bench_die "the descriptor limit $(ulimit -n) is too low for $CONNS connections"
for tool in python3 curl nginx; do command -v "$tool" >/dev/null || bench_die "no $tool"; done

bench_init
if ((BUILD)); then
    (cd "$ROOT" && swift build -c release --product MonaServer && swift build -c release --product MonaHTTP) >&2 ||
        bench_die "swift build failed"
fi
BIN=${BIN:-$(cd "$ROOT" && swift build -c release --show-bin-path)}
[[ -x $BIN/MonaServer && -f $BIN/libMonaHTTP.so ]] || bench_die "no MonaServer and libMonaHTTP.so in $BIN"

rss_kb() { # sum of VmRSS of the given pids
    local total=0 pid value
    for pid in "$@"; do
        value=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
fds() { # descriptors held by the given pids
    local total=0 pid
    for pid in "$@"; do total=$((total + $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l))); done
    echo "$total"
}

start_ours() {
    local port=$1 dir=$BENCH_TMP/ours
    "$ROOT/scripts/assemble.sh" "$BIN" "$dir" HTTP >&2
    echo hello >"$dir/www/hello.txt"
    printf '[HTTP]\nhost=127.0.0.1\nport=%s\ntimeout=600\n' "$port" >>"$dir/MonaServer.ini"
    "$dir/MonaServer" --ini="$dir/MonaServer.ini" --dir="$dir" --log=4 >"$BENCH_TMP/ours.log" 2>&1 &
    SERVER_PIDS=($!)
    bench_track "$!"
}

start_nginx() {
    local port=$1 prefix=$BENCH_TMP/nginx user=
    mkdir -p "$prefix/temp" "$prefix/www"
    echo hello >"$prefix/www/hello.txt"
    ((EUID == 0)) && user='user root root;'
    cat >"$prefix/nginx.conf" <<EOF
$user
worker_processes 1;
worker_rlimit_nofile $(ulimit -Hn);
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections $((CONNS + 64)); }
http {
    access_log off;
    keepalive_timeout 600;
    client_body_temp_path $prefix/temp/body;
    proxy_temp_path $prefix/temp/proxy;
    fastcgi_temp_path $prefix/temp/fastcgi;
    uwsgi_temp_path $prefix/temp/uwsgi;
    scgi_temp_path $prefix/temp/scgi;
    server { listen 127.0.0.1:$port; root $prefix/www; }
}
EOF
    nginx -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' >"$BENCH_TMP/nginx.log" 2>&1 &
    bench_track "$!"
    bench_wait_port "$port" "$!" || return 1
    mapfile -t SERVER_PIDS < <(bench_family "$!")
}

declare -A R
run() {
    local name=$1 port start peak end setup probe drain base_fds t0 i line
    port=$(bench_free_port)
    "start_$name" "$port"
    bench_wait_port "$port" "${SERVER_PIDS[0]}" || { tail "$BENCH_TMP/$name.log" >&2; bench_die "$name did not start"; }
    curl -fsS "http://127.0.0.1:$port/hello.txt" -o /dev/null || bench_die "$name: warm-up request failed"
    start=$(rss_kb "${SERVER_PIDS[@]}")
    base_fds=$(fds "${SERVER_PIDS[@]}")
    coproc CHURN { python3 "$HERE/churn_load.py" "$port" "$CONNS" /hello.txt; }
    bench_track "$CHURN_PID"
    read -r -t 180 line <&"${CHURN[0]}" || bench_die "$name: the client did not get its $CONNS answers"
    setup=${line#ready }
    peak=$(rss_kb "${SERVER_PIDS[@]}")
    echo close >&"${CHURN[1]}"
    probe=$(curl -fsS -o /dev/null -w '%{time_total}' --max-time 30 "http://127.0.0.1:$port/hello.txt") ||
        bench_die "$name: the probe request failed"
    read -r -t 60 line <&"${CHURN[0]}" || true
    t0=$(date +%s.%N)
    for ((i = 0; i < 600; i++)); do
        (($(fds "${SERVER_PIDS[@]}") <= base_fds + 16)) && break
        sleep 0.05
    done
    drain=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    sleep "$SETTLE"
    end=$(rss_kb "${SERVER_PIDS[@]}")
    R[$name]="$setup $start $peak $end $(awk -v p="$probe" 'BEGIN { printf "%.1f", p * 1000 }') $drain"
    echo "[$name] setup_s=$setup rss_start_kb=$start rss_peak_kb=$peak rss_end_kb=$end probe_s=$probe drain_s=$drain" >&2
    for pid in "${SERVER_PIDS[@]}"; do bench_stop "$pid" 10 || true; done
}

bench_check_idle
run ours
run nginx

printf '\nchurn: %s HTTP keep-alive connections (one GET each) opened, then closed at once; end RSS %s s after; 127.0.0.1, %s CPUs\n' \
    "$CONNS" "$SETTLE" "$(nproc)"
fmt='%-20s %8s %10s %10s %10s %7s %9s %8s\n'
printf "$fmt" server setup_s start_MiB peak_MiB end_MiB back% probe_ms drain_s
for name in ours nginx; do
    read -r setup start peak end probe drain <<<"${R[$name]}"
    back=$(awk -v s="$start" -v p="$peak" -v e="$end" 'BEGIN { printf "%.0f", (p > s ? 100 * (p - e) / (p - s) : 100) }')
    printf "$fmt" "$([[ $name == ours ]] && echo 'MonaServer (ours)' || echo 'nginx (peer)')" "$setup" \
        "$((start / 1024))" "$((peak / 1024))" "$((end / 1024))" "$back" "$probe" "$drain"
done
echo "back%: share of the growth (peak - start) given back at the end; probe_ms: one request sent as the $CONNS close."
