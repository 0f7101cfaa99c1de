#!/usr/bin/env bash
# bench/instructions/run.sh: user-space instructions per operation of MonaServer builds, counted by
# valgrind's callgrind (deterministic: the same binary and load give the same count whatever else
# the machine does). Compares builds side by side, e.g. before and after a change of the reactor.
#
# Usage: bench/instructions/run.sh LABEL=BIN[,metrics] [LABEL=BIN[,metrics] ...]
#   LABEL   a name for the column (before, after, nio, libuv...)
#   BIN     a folder holding MonaServer, libMonaEcho.so, libMonaHTTP.so, libMonaWebSocket.so and
#           libMonaRTMP.so
#           (`swift build -c release --show-bin-path`)
#   ,metrics  that server runs with `[metrics] enabled = true` (what the metrics cost: the same BIN
#           twice, e.g. off=BIN on=BIN,metrics)
# Env: DURATION=<s> length of each load under valgrind (default 3).
# Needs: valgrind, wrk, curl, ffmpeg; bench/echo and bench/websocket's C load tools (built here).
#
# Each build is copied, stripped of its DWARF (valgrind cannot read the toolchain's DWARF 5; the
# symbol names stay), laid out with the echo, HTTP and WebSocket plugins, and run under callgrind.
# Per case, after a warm-up: the counters are zeroed (callgrind_control -z), one connection runs
# the load for DURATION seconds, the counters are dumped (-d), and instructions / operations are
# printed:
#   echo64  64-byte ping-pong through the echo plugin (bench/echo/echo_load, 1 connection)
#   static  GET /1k.bin, keep-alive (wrk -c1)
#   rpc     GET /info -> client:info() as JSON (wrk -c1)
#   ws      ["echo", n, "payload"] over WebSocket (bench/websocket/ws_load ws, 1 connection)
#   hls     GET /live/bench.ts.m3u8, keep-alive (wrk -c1), a live HLS playlist: the request misses
#           www/, onRead runs, the playlist is answered from memory. The publication (a small
#           320x240 stream, ~260 kbit/s, pushed over RTMP by ffmpeg) runs meanwhile: its cost is
#           counted too (a few hundred instructions per request).
# Operations per second under valgrind are no figure of speed; only the instruction counts are.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${DURATION:-3}
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
(($#)) || { usage >&2; exit 2; }
[[ $1 == -h || $1 == --help ]] && { usage; exit 0; }
for spec in "$@"; do
    bin=${spec#*=}
    [[ $spec == *=* && -x ${bin%,metrics}/MonaServer ]] || bench_die "not LABEL=BIN[,metrics] with BIN/MonaServer: $spec"
done
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || bench_die "valgrind is needed"
command -v wrk >/dev/null || bench_die "wrk is needed"
command -v ffmpeg >/dev/null || bench_die "ffmpeg is needed"

bench_init
mkdir -p "$ROOT/bench/echo/bin" "$ROOT/bench/websocket/bin"
cc -O2 -Wall -Wextra -o "$ROOT/bench/echo/bin/echo_load" "$ROOT/bench/echo/echo_load.c" || bench_die "cc echo_load.c"
cc -O2 -Wall -Wextra -o "$ROOT/bench/websocket/bin/ws_load" "$ROOT/bench/websocket/ws_load.c" || bench_die "cc ws_load.c"

CASES=(echo64 static rpc ws hls)
# The hls case's publication: small, so that valgrind's server keeps up with it in real time.
SMALL=$ROOT/bench/instructions/bin/small.flv
if [[ ! -s $SMALL ]]; then
    mkdir -p "$(dirname "$SMALL")"
    timeout 120 ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=30 \
        -f lavfi -i sine=frequency=440:sample_rate=44100 -t 20 -c:v libx264 -preset ultrafast -g 60 -b:v 200k \
        -c:a aac -b:a 64k -f flv "$SMALL.part" >&2 && mv "$SMALL.part" "$SMALL" || bench_die "encoding $SMALL failed"
fi
declare -A RESULT

# count LABEL CASE PID OUT: zero, run the case's load, dump; stores instructions per operation.
count() {
    local label=$1 case=$2 pid=$3 out=$4 ops line dumps total
    callgrind_control -z "$pid" >/dev/null
    case $case in
    echo64)
        line=$("$ROOT/bench/echo/bin/echo_load" "$ECHO_PORT" 1 "$DURATION" 64) || return 1
        ops=$(bench_kv round_trips "$line") ;;
    static | rpc | hls)
        local path=/1k.bin
        [[ $case == rpc ]] && path=/info
        [[ $case == hls ]] && path=/live/bench.ts.m3u8
        line=$(wrk -t1 -c1 -d"${DURATION}s" "http://127.0.0.1:$HTTP_PORT$path") || return 1
        [[ $line != *"Non-2xx"* && $line != *"Socket errors"* ]] || { echo "$line" >&2; return 1; }
        ops=$(awk '/requests in/ { print $1 }' <<<"$line") ;;
    ws)
        line=$("$ROOT/bench/websocket/bin/ws_load" ws "$HTTP_PORT" 1 "$DURATION") || return 1
        ops=$(bench_kv round_trips "$line") ;;
    esac
    callgrind_control -d "$pid" >/dev/null
    dumps=$(find "$out" -name 'cg.out*' -newer "$out/zero.mark" | sort)
    (($(wc -l <<<"$dumps") > 0)) || return 1
    total=0
    for dump in $dumps; do
        local n
        n=$(awk '/^summary:/ { print $2 }' "$dump")
        total=$((total + ${n:-0}))
        rm -f "$dump"
    done
    touch "$out/zero.mark"
    RESULT[$label.$case]=$(awk -v t="$total" -v o="$ops" 'BEGIN { printf "%.1f", (o > 0 ? t / o / 1000 : 0) }')
    echo "[$label] $case: $ops operations, $total instructions" >&2
}

for spec in "$@"; do
    label=${spec%%=*}
    bin=${spec#*=}
    metrics=false
    [[ $bin == *,metrics ]] && metrics=true
    bin=${bin%,metrics}
    dir="$BENCH_TMP/$label"
    "$ROOT/scripts/assemble.sh" "$bin" "$dir" >&2
    rm -f "$dir"/libMona*.so
    for lib in libMonaEcho.so libMonaHTTP.so libMonaWebSocket.so libMonaRTMP.so; do
        [[ -f $bin/$lib ]] || bench_die "no $bin/$lib"
        cp "$bin/$lib" "$dir/"
    done
    strip --strip-debug "$dir/MonaServer" "$dir"/libMona*.so
    head -c 1024 /dev/urandom >"$dir/www/1k.bin"
    cat >"$dir/www/main.lua" <<'EOF'
function onConnection(client)
	function client:info() return {name = "mona", id = 42, ok = true, list = {1, 2, 3}} end
	function client:echo(...) return ... end
end
EOF
    mkdir -p "$dir/www/live"
    echo 'function onConnection(client) end' >"$dir/www/live/main.lua"
    HTTP_PORT=$(bench_free_port)
    ECHO_PORT=$(bench_free_port)
    RTMP_PORT=$(bench_free_port)
    cat >"$dir/MonaServer.ini" <<EOF
[RTMFP]
port = 0
[RTMP]
host = 127.0.0.1
port = $RTMP_PORT
[RTSP]
port = 0
[HTTP]
host = 127.0.0.1
port = $HTTP_PORT
[WebSocket]
timeout = 3600
[echo]
library = libMonaEcho.so
host = 127.0.0.1
port = $ECHO_PORT
udpPort = 0
[HLS]
segmentDuration = 2
window = 6
[metrics]
enabled = $metrics
EOF
    out="$dir/callgrind"
    mkdir -p "$out"
    touch "$out/zero.mark"
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out.%p" \
        "$dir/MonaServer" --ini="$dir/MonaServer.ini" --dir="$dir" --log=4 >"$dir/server.log" 2>&1 &
    pid=$!
    bench_track "$pid"
    bench_wait_port "$HTTP_PORT" "$pid" 600 0.1 && bench_wait_port "$ECHO_PORT" "$pid" 600 0.1 ||
        { tail -20 "$dir/server.log" >&2; bench_die "[$label] server did not start"; }
    # warm-up: code paths, caches, the Lua state
    curl -fsS "http://127.0.0.1:$HTTP_PORT/1k.bin" -o /dev/null
    curl -fsS "http://127.0.0.1:$HTTP_PORT/info" -o /dev/null
    "$ROOT/bench/echo/bin/echo_load" "$ECHO_PORT" 1 1 64 >/dev/null
    "$ROOT/bench/websocket/bin/ws_load" ws "$HTTP_PORT" 1 1 >/dev/null
    ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$SMALL" -c copy -f flv \
        "rtmp://127.0.0.1:$RTMP_PORT/live/bench" >"$dir/publisher.log" 2>&1 &
    publisher=$!
    bench_track "$publisher"
    for ((try = 0; try < 300; try++)); do # the playlist lists a segment (up to 60 s under valgrind)
        curl -sf "http://127.0.0.1:$HTTP_PORT/live/bench.ts.m3u8" 2>/dev/null | grep -q '\.ts' && break
        sleep 0.2
    done
    for case in "${CASES[@]}"; do
        count "$label" "$case" "$pid" "$out" || bench_die "[$label] $case failed"
    done
    bench_stop "$publisher" 5 || true
    bench_stop "$pid" 30 || true
done

printf '\ninstructions per operation (thousands, user space, callgrind; one connection, after a warm-up)\n'
printf '%-8s' case
for spec in "$@"; do printf '%12s' "${spec%%=*}"; done
(($# == 2)) && printf '%12s' ratio
printf '\n'
for case in "${CASES[@]}"; do
    printf '%-8s' "$case"
    for spec in "$@"; do printf '%12s' "${RESULT[${spec%%=*}.$case]}"; done
    if (($# == 2)); then
        printf '%12s' "$(bench_ratio "${RESULT[${2%%=*}.$case]}" "${RESULT[${1%%=*}.$case]}")"
    fi
    printf '\n'
done
(($# == 2)) && echo "ratio: ${2%%=*} / ${1%%=*} (below 1: fewer instructions)"
exit 0
