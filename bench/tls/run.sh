#!/usr/bin/env bash
# bench/tls/run.sh: TLS in the host against nginx with the same certificate (RSA 2048, self-signed,
# made by the run) and OpenSSL's default ciphers (TLS 1.3, AES-256-GCM), one server at a time:
#   https       GET /1k.bin over HTTPS keep-alive (wrk): req/s, server CPU µs per request
#   handshakes  the same with `Connection: close`: every request is a new TCP connection and a full
#               TLS handshake (wrk reconnects): handshakes/s, server CPU µs per handshake
# then RTMPS fan-out on our server alone: N RTMP players (bench/rtmp-fanout's rtmp_load) of one
# 6 Mbit/s publication, plain, then through stunnel (client mode, TLS towards our `RTMP.tlsPort`):
# server CPU seconds per delivered GB, RTMPS / RTMP (the target is 1.5; stunnel's own CPU is not
# the server's and is not counted).
#
# Usage: bench/tls/run.sh [options]
#   --no-build              do not run swift build (binaries must already exist)
#   -c, --connections N     wrk connections                   (env CONNS, default 50)
#   -d, --seconds S         wrk duration and fan-out window, s (env DURATION, default 10)
#   -p, --players N         RTMPS players                     (env PLAYERS, default 100; 0 skips)
#   -h, --help
# Env: BIN=<dir> folder holding MonaServer, libMonaHTTP.so and libMonaRTMP.so; implies --no-build.
# Needs: wrk, curl, openssl, nginx-light, stunnel4, ffmpeg, cc, ss
#        (apt-get install -y wrk curl openssl nginx-light stunnel4 ffmpeg gcc iproute2).
# Exit status is non-zero if any run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
PLAYERS=${PLAYERS:-100}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -c | --connections) CONNS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -p | --players) PLAYERS=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 1 && $CONNS -le 5000 ]] || bench_die "connections must be in [1, 5000]"
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 600 ]] || bench_die "seconds must be in [1, 600]"
[[ $PLAYERS =~ ^[0-9]+$ && $PLAYERS -le 1000 ]] || bench_die "players must be in [0, 1000]"
for tool in wrk curl openssl nginx stunnel4 ffmpeg cc ss timeout; do
    command -v "$tool" >/dev/null || bench_die "no $tool (apt-get install -y wrk curl openssl nginx-light stunnel4 ffmpeg gcc iproute2)"
done
NEED_FDS=$((CONNS + 2 * PLAYERS + 256))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    ulimit -n "$NEED_FDS" 2>/dev/null || bench_die "cannot raise ulimit -n to $NEED_FDS"
fi

bench_init

if ((BUILD)); then
    echo "building MonaServer and its plugins (release)..." >&2
    (cd "$ROOT" && swift build -c release) >&2 || bench_die "swift build failed"
fi
[[ -n ${BIN:-} ]] || BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) || bench_die "set BIN=<dir>"
for file in MonaServer libMonaHTTP.so libMonaRTMP.so; do [[ -e $BIN/$file ]] || bench_die "no $BIN/$file"; done

CERT=$BENCH_TMP/cert.pem
KEY=$BENCH_TMP/key.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=127.0.0.1 2>/dev/null ||
    bench_die "openssl req failed"
WWW=$BENCH_TMP/www
mkdir -p "$WWW/live"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
echo 'function onConnection(client) end' >"$WWW/main.lua"
echo 'function onConnection(client) end' >"$WWW/live/main.lua"

# start_<server> PORT: sets SERVER_PID (tracked) and SERVER_LOG; returns once PORT accepts.
start_ours() {
    local mona=$BENCH_TMP/mona
    "$ROOT/scripts/assemble.sh" "$BIN" "$mona" >&2 || return 1
    rm -rf "$mona/www"
    cp -R "$WWW" "$mona/www"
    cat >"$mona/MonaServer.ini" <<EOF
RTMFP.port=0
RTSP.port=0
[TLS]
certificate=$CERT
key=$KEY
[RTMP]
host=127.0.0.1
port=${RTMP_PORT:-0}
tlsPort=${RTMPS_PORT:-0}
timeout=600
[HTTP]
host=127.0.0.1
port=0
tlsPort=$1
timeout=600
EOF
    SERVER_LOG=$BENCH_TMP/ours.log
    "$mona/MonaServer" --ini="$mona/MonaServer.ini" --dir="$mona" --log=4 >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$1" "$SERVER_PID"
}

start_nginx() {
    local prefix=$BENCH_TMP/nginx user=
    mkdir -p "$prefix"
    ((EUID == 0)) && user='user root root;'
    cat >"$prefix/nginx.conf" <<EOF
$user
worker_processes 1;
worker_rlimit_nofile $NEED_FDS;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections $NEED_FDS; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    ssl_session_cache off;
    ssl_session_tickets off;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $WWW;
    }
}
EOF
    SERVER_LOG=$prefix/error.log
    nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" -g 'daemon off;' >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$1" "$SERVER_PID" || return 1
    local pid
    for pid in $(bench_family "$SERVER_PID"); do [[ $pid == "$SERVER_PID" ]] || bench_track "$pid"; done
}

# cpu_ns PIDS...: on-CPU nanoseconds of every thread of PIDS.
cpu_ns() {
    local pid file sum=0 v
    for pid; do
        for file in /proc/"$pid"/task/*/schedstat; do
            { read -r v _ <"$file"; } 2>/dev/null || continue
            sum=$((sum + v))
        done
    done
    echo "$sum"
}

FAILED=0
declare -A RPS CPU_US TLSV

# wrk_case KEY LABEL CASE: a fresh server, one curl check, wrk, CPU before/after.
wrk_case() {
    local key=$1 label=$2 case=$3 port pids before after out rc=0 requests extra=()
    port=$(bench_free_port)
    if ! "start_$key" "$port"; then
        echo "[$label] did not come up; log: $(tail -n 5 "$SERVER_LOG")" >&2
        FAILED=1
        return 0
    fi
    read -r -a pids <<<"$(bench_family "$SERVER_PID" | tr '\n' ' ')"
    local url=https://127.0.0.1:$port/1k.bin
    if [[ $(curl -s --cacert "$CERT" "$url" | wc -c) != 1024 ]]; then
        echo "[$label] curl --cacert $url did not get the 1024 bytes" >&2
        FAILED=1
    else
        TLSV[$key]=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null |
            awk '/^New, / { print $2, $5; exit }') || true
        [[ $case == handshakes ]] && extra=(-H "Connection: close")
        echo "[$label] $case: wrk -t1 -c$CONNS -d${DURATION}s ${extra[*]} $url" >&2
        before=$(cpu_ns "${pids[@]}")
        out=$(timeout -k 5 $((DURATION + 30)) wrk -t1 -c"$CONNS" -d"${DURATION}s" "${extra[@]}" "$url" 2>&1) || rc=$?
        after=$(cpu_ns "${pids[@]}")
        requests=$(awk '/requests in/ { print $1 }' <<<"$out")
        if ((rc != 0)) || [[ -z $requests ]] || grep -q "Non-2xx" <<<"$out"; then
            echo "[$label] wrk failed (exit $rc): $out" >&2
            FAILED=1
        else
            RPS[$key:$case]=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
            CPU_US[$key:$case]=$(awk -v c=$((after - before)) -v r="$requests" 'BEGIN { printf "%.1f", c / 1000 / r }')
            grep -q "Socket errors" <<<"$out" && echo "[$label] $(grep 'Socket errors' <<<"$out")" >&2
        fi
    fi
    local pid
    for pid in "${pids[@]}"; do bench_alive "$pid" && bench_stop "$pid" 5 || true; done
}

for case in https handshakes; do
    wrk_case ours MonaServer "$case"
    wrk_case nginx nginx "$case"
done

# --- RTMPS fan-out ----------------------------------------------------------
declare -A FAN
if ((PLAYERS > 0)); then
    mkdir -p "$ROOT/bench/rtmp-fanout/bin"
    cc -O2 -Wall -Wextra -o "$ROOT/bench/rtmp-fanout/bin/rtmp_load" "$ROOT/bench/rtmp-fanout/rtmp_load.c" || bench_die "cc rtmp_load.c failed"
    SOURCE=$ROOT/bench/rtmp-fanout/bin/source.flv
    bench_source_flv "$SOURCE"
    RTMP_PORT=$(bench_free_port)
    RTMPS_PORT=$(bench_free_port)
    HTTPS_PORT=$(bench_free_port)
    TUNNEL_PORT=$(bench_free_port)
    start_ours "$HTTPS_PORT" || bench_die "our server did not start: $(tail -n 5 "$SERVER_LOG")"
    bench_wait_port "$RTMPS_PORT" "$SERVER_PID" || bench_die "no RTMPS listener"
    cat >"$BENCH_TMP/stunnel.conf" <<EOF
foreground = yes
pid =
[rtmps]
client = yes
accept = 127.0.0.1:$TUNNEL_PORT
connect = 127.0.0.1:$RTMPS_PORT
EOF
    stunnel4 "$BENCH_TMP/stunnel.conf" >"$BENCH_TMP/stunnel.log" 2>&1 &
    TUNNEL_PID=$!
    bench_track "$TUNNEL_PID"
    bench_wait_port "$TUNNEL_PORT" "$TUNNEL_PID" || bench_die "stunnel did not start: $(tail -n 5 "$BENCH_TMP/stunnel.log")"
    ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$SOURCE" -c copy -f flv \
        "rtmp://127.0.0.1:$RTMP_PORT/live/bench" >"$BENCH_TMP/publisher.log" 2>&1 &
    PUB_PID=$!
    bench_track "$PUB_PID"
    for kind in rtmp rtmps; do
        port=$RTMP_PORT
        [[ $kind == rtmps ]] && port=$TUNNEL_PORT
        bench_check_idle
        echo "[$kind] $PLAYERS players, 3s settle + ${DURATION}s window" >&2
        rc=0
        line=$(timeout -k 5 $((180 + DURATION)) "$ROOT/bench/rtmp-fanout/bin/rtmp_load" play "$port" live bench "$PLAYERS" 3 \
            "$DURATION" "$PUB_PID" "$SERVER_PID") || rc=$?
        echo "[$kind]   $line" >&2
        bytes=$(bench_kv bytes "$line" || echo 0)
        ns=$(bench_kv srv_ns "$line" || echo -1)
        if ((rc != 0)) || [[ $bytes == 0 || $ns == -1 ]]; then
            echo "[$kind] FAILED (exit $rc)" >&2
            FAILED=1
            continue
        fi
        FAN[$kind]=$(awk -v ns="$ns" -v b="$bytes" 'BEGIN { printf "%.3f", ns / 1e9 / (b / 1e9) }')
        FAN[$kind:deliv]=$(bench_kv delivered_pct "$line")
        sleep 1
    done
fi

echo
echo "tls: wrk -t1 -c$CONNS -d${DURATION}s, GET /1k.bin, RSA 2048 self-signed, 127.0.0.1, $(nproc) CPUs;" \
    "ours ${TLSV[ours]:-?}, $(nginx -v 2>&1 | sed 's/^nginx version: //') ${TLSV[nginx]:-?} (1 worker, no session cache or tickets)"
fmt='%-11s %-16s %10s %12s\n'
printf "$fmt" case server req/s cpu_us/req
for case in https handshakes; do
    printf "$fmt" "$case" "MonaServer" "${RPS[ours:$case]:-FAIL}" "${CPU_US[ours:$case]:--}"
    printf "$fmt" "$case" "nginx" "${RPS[nginx:$case]:-FAIL}" "${CPU_US[nginx:$case]:--}"
    printf "$fmt" "$case" "ratio ours/nginx" "$(bench_ratio "${RPS[ours:$case]:-}" "${RPS[nginx:$case]:-}")" \
        "$(bench_ratio "${CPU_US[ours:$case]:-}" "${CPU_US[nginx:$case]:-}")"
done
if ((PLAYERS > 0)); then
    echo
    echo "RTMPS fan-out: $PLAYERS players (rtmp_load, through stunnel for RTMPS), one 6 Mbit/s publication, our server"
    echo "(deliv% needs the publisher's port, which the RTMPS players do not use: n/a; the players must each get media all the same)"
    printf '%-7s %9s %8s\n' kind cpu_s/GB deliv%
    printf '%-7s %9s %8s\n' rtmp "${FAN[rtmp]:-FAIL}" "${FAN[rtmp:deliv]:--}"
    printf '%-7s %9s %8s\n' rtmps "${FAN[rtmps]:-FAIL}" "(n/a)"
    printf '%-7s %9s\n' ratio "$(bench_ratio "${FAN[rtmps]:-}" "${FAN[rtmp]:-}")"
fi
echo "targets (not asserted): https cpu_us/req ours/nginx <= 1.0; RTMPS cpu_s/GB <= 1.5 x RTMP (issue 19)."
exit "$FAILED"
