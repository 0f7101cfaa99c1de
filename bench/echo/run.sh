#!/usr/bin/env bash
# bench/echo/run.sh: TCP echo through MonaServer's echo plugin (ours) vs a
# single-threaded C epoll echo server (peer), same load, one after the other.
#
# Usage: bench/echo/run.sh [options]
#   --no-build            do not run swift build (binaries must already exist)
#   --peer-only           benchmark only the C epoll peer (checks the plumbing)
#   -c, --connections N   concurrent connections          (env CONNS, default 32)
#   -d, --seconds S       load duration per run, seconds  (env DURATION, default 5)
#   -s, --sizes "A B"     message sizes in bytes          (env SIZES, default "64 16384")
#   -h, --help
# Env: BIN=<dir>  folder holding MonaServer and libMonaEcho.so; implies --no-build.
#      Without it the folder is `swift build -c release --show-bin-path`.
#
# For each server (ours first, then the peer) and each message size it runs
# bin/echo_load for the duration, reads the server's CPU time (utime+stime of
# all its threads, /proc/<pid>/stat) just before and just after, and prints
# round trips per second and server CPU microseconds per round trip, then the
# ratios ours/peer. Exit status is non-zero if any run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

CONNS=${CONNS:-32}
DURATION=${DURATION:-5}
SIZES=${SIZES:-"64 16384"}
BUILD=1
OURS=1
[[ -n ${BIN:-} ]] && BUILD=0

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    --peer-only) OURS=0 ;;
    -c | --connections) CONNS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -s | --sizes) SIZES=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $CONNS =~ ^[0-9]+$ ]] || bench_die "connections must be an integer: $CONNS"
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || bench_die "seconds must be a number: $DURATION"
awk -v d="$DURATION" 'BEGIN { exit !(d > 0 && d <= 600) }' ||
    bench_die "seconds must be in (0, 600]: $DURATION"
read -r -a SIZE_LIST <<<"$SIZES"
for s in "${SIZE_LIST[@]}"; do
    [[ $s =~ ^[0-9]+$ ]] || bench_die "sizes must be integers: $SIZES"
done

bench_init

# --- build ------------------------------------------------------------------
mkdir -p "$HERE/bin"
for prog in epoll_echo echo_load; do
    cc -O2 -Wall -Wextra -o "$HERE/bin/$prog" "$HERE/$prog.c" || bench_die "cc $prog.c failed"
done

if ((OURS)); then
    if ((BUILD)); then
        echo "building MonaServer + MonaEcho (release)..." >&2
        (cd "$ROOT" && swift build -c release --product MonaServer &&
            swift build -c release --product MonaEcho) >&2 || bench_die "swift build failed"
    fi
    if [[ -z ${BIN:-} ]]; then
        BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) ||
            bench_die "cannot get the release bin path; set BIN=<dir>"
    fi
    [[ -x $BIN/MonaServer ]] || bench_die "no executable $BIN/MonaServer"
    [[ -f $BIN/libMonaEcho.so ]] || bench_die "no $BIN/libMonaEcho.so"
fi

CLK_TCK=$(bench_clk_tck)
FAILED=0
bench_check_idle

# --- servers ----------------------------------------------------------------
# start_<server> PORT sets SERVER_PID (tracked) and returns once the port
# accepts connections.

start_ours() {
    local port=$1 dir=$BENCH_TMP/mona
    mkdir -p "$dir"
    cat >"$dir/MonaServer.ini" <<EOF
; every built-in protocol off, only the echo plugin
RTMFP.port=0
RTMP.port=0
HTTP.port=0
RTSP.port=0
[echo]
library=libMonaEcho.so
host=127.0.0.1
port=$port
udpPort=0
EOF
    SERVER_LOG=$BENCH_TMP/ours.log
    "$BIN/MonaServer" --ini="$dir/MonaServer.ini" --dir="$dir" --log=4 >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$port" "$SERVER_PID"
}

start_peer() {
    local port=$1
    SERVER_LOG=$BENCH_TMP/peer.log
    "$HERE/bin/epoll_echo" "$port" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$port" "$SERVER_PID"
}

# Results, keyed "<server>:<size>": rt/s, CPU µs per round trip, server CPU %,
# average round-trip time µs.
declare -A RT CPU UTIL RTT

# run_server KEY LABEL: start, load every size, stop.
run_server() {
    local key=$1 label=$2 port size t0 t1 line rc rt secs rate ticks
    port=$(bench_free_port)
    echo "[$label] starting on 127.0.0.1:$port" >&2
    if ! "start_$key" "$port"; then
        echo "[$label] did not come up on port $port; log tail:" >&2
        tail -n 20 "$SERVER_LOG" >&2 || true
        FAILED=1
        bench_stop "$SERVER_PID" 3 || true
        return 0
    fi
    for size in "${SIZE_LIST[@]}"; do
        echo "[$label] $CONNS connections x ${size} B for ${DURATION}s" >&2
        t0=$(bench_cpu_ticks "$SERVER_PID") || t0=
        rc=0
        line=$("$HERE/bin/echo_load" "$port" "$CONNS" "$DURATION" "$size") || rc=$?
        t1=$(bench_cpu_ticks "$SERVER_PID") || t1=
        echo "[$label]   $line" >&2
        if ((rc != 0)) || [[ -z $t0 || -z $t1 ]]; then
            echo "[$label]   FAILED (echo_load exit $rc)" >&2
            FAILED=1
            RT[$key:$size]=FAIL CPU[$key:$size]=FAIL UTIL[$key:$size]=- RTT[$key:$size]=-
            bench_alive "$SERVER_PID" || { echo "[$label] server died; log tail:" >&2
                tail -n 20 "$SERVER_LOG" >&2 || true; break; }
            continue
        fi
        rt=$(bench_kv round_trips "$line")
        secs=$(bench_kv seconds "$line")
        rate=$(bench_kv rt_per_s "$line")
        ticks=$((t1 - t0))
        RT[$key:$size]=$rate
        RTT[$key:$size]=$(bench_kv avg_rtt_us "$line")
        CPU[$key:$size]=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$rt" \
            'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        UTIL[$key:$size]=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v s="$secs" \
            'BEGIN { printf "%.0f", (s > 0 ? t / hz / s * 100 : 0) }')
    done
    if ! bench_stop "$SERVER_PID" 5; then
        echo "[$label] exited with a non-zero status after SIGTERM" >&2
    fi
    return 0
}

((OURS)) && run_server ours MonaServer
run_server peer epoll_echo

# --- report -----------------------------------------------------------------
echo
echo "echo: TCP ping-pong, $CONNS connections, ${DURATION}s per run, 127.0.0.1, $(nproc) CPUs"
fmt='%-7s %-18s %12s %11s %9s %11s\n'
printf "$fmt" size server rt/s cpu_us/rt srv_cpu% avg_rtt_us
for size in "${SIZE_LIST[@]}"; do
    if ((OURS)); then
        printf "$fmt" "$size" "MonaServer (ours)" "${RT[ours:$size]:-FAIL}" "${CPU[ours:$size]:-FAIL}" \
            "${UTIL[ours:$size]:--}" "${RTT[ours:$size]:--}"
    fi
    printf "$fmt" "$size" "epoll_echo (peer)" "${RT[peer:$size]:-FAIL}" "${CPU[peer:$size]:-FAIL}" \
        "${UTIL[peer:$size]:--}" "${RTT[peer:$size]:--}"
    if ((OURS)); then
        printf "$fmt" "$size" "ratio ours/peer" "$(bench_ratio "${RT[ours:$size]:-}" "${RT[peer:$size]:-}")" \
            "$(bench_ratio "${CPU[ours:$size]:-}" "${CPU[peer:$size]:-}")" "" ""
    fi
done
echo "rt/s: higher is better; cpu_us/rt (server CPU per round trip, CLK_TCK=$CLK_TCK): lower is better."
((OURS)) || echo "(--peer-only: ours not run, no ratios)"
exit "$FAILED"
