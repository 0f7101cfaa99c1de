#!/usr/bin/env bash
# bench/rtmfp-fanout/run.sh: one publication (720p30 H.264 at 6 Mbit/s + AAC, published over RTMP by
# ffmpeg) played by N RTMFP players (rtmfp-cpp's tcconn), against the same publication played by N
# RTMP players (bench/rtmp-fanout's rtmp_load) on our own server: our RTMP path is the reference
# (MonaServer 1.x is not part of the run), one after the other on a fresh server each. Then the memory
# of idle RTMFP sessions.
#
# Usage: RTMFP_CPP=<dir> bench/rtmfp-fanout/run.sh [options]
#   --no-build              do not run swift build (binaries must already exist)
#   -p, --players "A B"     player counts                       (env PLAYERS, default "10 100")
#   -d, --seconds S         measuring window per count, seconds (env DURATION, default 10)
#   -s, --settle S          wait after all players play, s      (env SETTLE, default 3)
#   -i, --idle N            idle RTMFP sessions for the RSS figure
#                           (env IDLE, default 1000; 0 skips that part)
#   -h, --help
# Env: RTMFP_CPP=<dir>   the folder of rtmfp-cpp's test programs (`tcconn`), built by you outside this
#                        repository from github.com/zenomt/rtmfp-cpp (`make`, then `make -C test tcconn`).
#                        This script never builds it.
#      TCCONN_ARGS="-H -S" options given to every tcconn (default none: tcconn's defaults, which
#                        require HMACs and session sequence numbers, the costliest case for the server).
#      BIN=<dir>         folder holding MonaServer, libMonaRTMP.so and libMonaRTMFP.so; implies --no-build.
# Needs: ffmpeg, ffprobe, stdbuf, cc (apt-get install -y ffmpeg coreutils gcc).
#
# Fan-out, per player count, RTMP then RTMFP, each on a fresh server with a fresh publisher
# (ffmpeg -re -stream_loop -1 -c copy of bench/rtmp-fanout's 30 s source, encoded once if missing):
# - RTMP: rtmp_load play (see bench/rtmp-fanout): bytes received by all players (TCP payload).
# - RTMFP: N `stdbuf -oL tcconn rtmfp://127.0.0.1:P/live#bench`, each printing one line per audio or
#   video message with its length; once every player printed both, SETTLE s, then over DURATION s the
#   media bytes all players received (the sum of those lengths: RTMFP's framing, acknowledgements and
#   encryption padding are not counted, which favours RTMP by ~1%), and every player must have
#   received some.
# Both: the server's on-CPU time over the window (/proc/<pid>/task/*/schedstat), CPU seconds per
# delivered GB, VmRSS at the end, delivered % of players x the source's bit rate.
# Idle: a fresh server, one tcconn connected (warm-up), VmRSS after 1 s; then IDLE more tcconn
# (connected, playing a stream nobody publishes: no media), started 50 at a time; once every one has
# its `NetConnection.Connect.Success`, 2 s, VmRSS again: (after - before) / IDLE.
# Exit status is non-zero if any run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

PLAYERS=${PLAYERS:-"10 100"}
DURATION=${DURATION:-10}
SETTLE=${SETTLE:-3}
IDLE=${IDLE:-1000}
TCCONN_ARGS=${TCCONN_ARGS:-}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
CPU_TARGET=1.3 # RTMFP's CPU per delivered GB / RTMP's
IDLE_TARGET_KIB=16
STREAM=bench

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -p | --players) PLAYERS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -s | --settle) SETTLE=${2:?}; shift ;;
    -i | --idle) IDLE=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
read -r -a PLAYER_LIST <<<"$PLAYERS"
for n in "${PLAYER_LIST[@]}"; do
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 500 ]] || bench_die "player counts must be integers in [1, 500]: $PLAYERS"
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 600 ]] ||
    bench_die "seconds must be an integer in [1, 600]: $DURATION"
[[ $SETTLE =~ ^[0-9]+$ && $SETTLE -le 60 ]] || bench_die "settle must be an integer in [0, 60]: $SETTLE"
[[ $IDLE =~ ^[0-9]+$ && $IDLE -le 5000 ]] || bench_die "idle sessions must be an integer in [0, 5000]: $IDLE"

TCCONN=${RTMFP_CPP:+$RTMFP_CPP/tcconn}
[[ -n $TCCONN && -x $TCCONN ]] ||
    bench_die "set RTMFP_CPP to the folder of rtmfp-cpp's built test programs (tcconn); see --help"
for tool in ffmpeg ffprobe stdbuf timeout cc; do
    command -v "$tool" >/dev/null || bench_die "no $tool (apt-get install -y ffmpeg coreutils gcc)"
done
read -r -a TCCONN_OPTS <<<"$TCCONN_ARGS"

bench_init

# --- build ------------------------------------------------------------------
mkdir -p "$HERE/bin"
cc -O2 -Wall -Wextra -o "$HERE/bin/rtmp_load" "$ROOT/bench/rtmp-fanout/rtmp_load.c" || bench_die "cc rtmp_load.c failed"
LOAD=$HERE/bin/rtmp_load
if ((BUILD)); then
    echo "building MonaServer, MonaRTMP and MonaRTMFP (release)..." >&2
    (cd "$ROOT" && swift build -c release --product MonaServer && swift build -c release --product MonaRTMP &&
        swift build -c release --product MonaRTMFP) >&2 || bench_die "swift build failed"
fi
if [[ -z ${BIN:-} ]]; then
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) || bench_die "cannot get the release bin path; set BIN=<dir>"
fi
for file in MonaServer libMonaRTMP.so libMonaRTMFP.so; do
    [[ -e $BIN/$file ]] || bench_die "no $BIN/$file"
done

# --- source -----------------------------------------------------------------
SOURCE=$ROOT/bench/rtmp-fanout/bin/source.flv
bench_source_flv "$SOURCE"
SOURCE_BPS=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$SOURCE") ||
    bench_die "ffprobe cannot read $SOURCE"

# --- server -----------------------------------------------------------------
MONA=$BENCH_TMP/mona
"$ROOT/scripts/assemble.sh" "$BIN" "$MONA" >&2 || bench_die "scripts/assemble.sh failed"
rm -f "$MONA"/libMona*.so
cp -f "$BIN/libMonaRTMP.so" "$BIN/libMonaRTMFP.so" "$MONA/"
rm -rf "$MONA/www"
mkdir -p "$MONA/www/live"
echo 'function onConnection(client) end' >"$MONA/www/main.lua"
echo 'function onConnection(client) end' >"$MONA/www/live/main.lua"
FAILED=0

# start_ours: a fresh server with RTMP on a free TCP port and RTMFP on a free UDP port; sets
# SERVER_PID (tracked), SERVER_LOG, RTMP_PORT and RTMFP_PORT.
start_ours() {
    RTMP_PORT=$(bench_free_port)
    RTMFP_PORT=$(bench_free_port)
    cat >"$MONA/MonaServer.ini" <<EOF
; RTMP and RTMFP only, on loopback
HTTP.port=0
RTSP.port=0
[RTMP]
host=127.0.0.1
port=$RTMP_PORT
timeout=600
[RTMFP]
host=127.0.0.1
port=$RTMFP_PORT
EOF
    SERVER_LOG=$BENCH_TMP/ours.$RTMP_PORT.log
    "$MONA/MonaServer" --ini="$MONA/MonaServer.ini" --dir="$MONA" --log=4 >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$RTMP_PORT" "$SERVER_PID" && return 0
    echo "the server did not come up; log tail:" >&2
    tail -n 20 "$SERVER_LOG" >&2 || true
    FAILED=1
    bench_stop "$SERVER_PID" 3 || true
    return 1
}

stop_ours() {
    bench_stop "$SERVER_PID" 5 || echo "the server exited with a non-zero status after SIGTERM" >&2
}

# start_publisher: ffmpeg publishing rtmp://127.0.0.1:RTMP_PORT/live/bench, checked with ffprobe
# (H.264 and AAC, up to 5 tries); sets PUB_PID (tracked).
start_publisher() {
    local codecs= try
    PUB_LOG=$BENCH_TMP/publisher.$RTMP_PORT.log
    ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$SOURCE" -c copy -f flv \
        "rtmp://127.0.0.1:$RTMP_PORT/live/$STREAM" >"$PUB_LOG" 2>&1 &
    PUB_PID=$!
    bench_track "$PUB_PID"
    for ((try = 1; try <= 5; try++)); do
        sleep 1
        codecs=$(timeout 15 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 \
            "rtmp://127.0.0.1:$RTMP_PORT/live/$STREAM" 2>/dev/null | sort | paste -sd, -) || true
        [[ $codecs == aac,h264 ]] && return 0
        bench_alive "$PUB_PID" || break
    done
    echo "publisher check: expected H.264 and AAC, ffprobe found '$codecs'; $(tail -n 3 "$PUB_LOG" | tr '\n' ' ')" >&2
    return 1
}

# server_cpu_ns: on-CPU nanoseconds of all the server's threads.
server_cpu_ns() {
    local total=0 file ns rest
    for file in /proc/"$SERVER_PID"/task/*/schedstat; do
        { read -r ns rest <"$file"; } 2>/dev/null || continue
        total=$((total + ns))
    done
    echo "$total"
}

server_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }

# media_bytes DIR: "<file> <bytes>" per player log: the lengths of the audio and video messages.
media_bytes() {
    awk '/^stream on(Video|Audio) ts: [0-9]+ len: [0-9]+$/ { s[FILENAME] += $NF } END { for (f in s) print f, s[f] }' \
        "$1"/p*.log 2>/dev/null || true
}

# stop_players PIDS...: SIGTERM each tcconn, then wait (bounded) for all.
stop_players() {
    local pid
    for pid; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid; do bench_stop "$pid" 3 >/dev/null 2>&1 || true; done
}

declare -A MBPS DELIV UTIL CPUGB RSS

# record KEY CPU_NS BYTES SECONDS RSS_KB N: the figures of one window.
record() {
    local key=$1 ns=$2 bytes=$3 secs=$4 rss=$5 n=$6
    MBPS[$key]=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b * 8 / s / 1e6 }')
    DELIV[$key]=$(awk -v b="$bytes" -v s="$secs" -v n="$n" -v r="$SOURCE_BPS" 'BEGIN { printf "%.0f", b * 8 / s / n / r * 100 }')
    UTIL[$key]=$(awk -v c="$ns" -v s="$secs" 'BEGIN { printf "%.0f", c / 1e9 / s * 100 }')
    CPUGB[$key]=$(awk -v c="$ns" -v b="$bytes" 'BEGIN { printf "%.3f", (b > 0 ? c / 1e9 / (b / 1e9) : 0) }')
    RSS[$key]=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
}

run_rtmp() {
    local n=$1 line rc=0 ns
    start_ours || return 0
    if ! start_publisher; then
        FAILED=1
        stop_ours
        return 0
    fi
    echo "[RTMP] $n players, ${SETTLE}s settle + ${DURATION}s window" >&2
    line=$(timeout -k 5 $((120 + SETTLE + DURATION + 30)) \
        "$LOAD" play "$RTMP_PORT" live "$STREAM" "$n" "$SETTLE" "$DURATION" "$PUB_PID" "$SERVER_PID") || rc=$?
    echo "[RTMP]   $line" >&2
    ns=$(bench_kv srv_ns "$line" || echo -1)
    if ((rc != 0)) || ((ns < 0)) || ! bench_alive "$SERVER_PID"; then
        echo "[RTMP]   $n players FAILED (rtmp_load exit $rc)" >&2
        FAILED=1
    else
        record "rtmp:$n" "$ns" "$(bench_kv bytes "$line")" "$(bench_kv seconds "$line")" "$(bench_kv srv_rss_kb "$line")" "$n"
    fi
    bench_stop "$PUB_PID" 3 || true
    stop_ours
}

run_rtmfp() {
    local n=$1 dir=$BENCH_TMP/rtmfp.$1 pids=() i playing=0 deadline b0 b1 ns0 ns1 t0 t1 bytes moved
    start_ours || return 0
    if ! start_publisher; then
        FAILED=1
        stop_ours
        return 0
    fi
    mkdir -p "$dir"
    echo "[RTMFP] $n players (tcconn ${TCCONN_ARGS:-with its defaults}), ${SETTLE}s settle + ${DURATION}s window" >&2
    for ((i = 0; i < n; i++)); do
        stdbuf -oL "$TCCONN" "${TCCONN_OPTS[@]}" "rtmfp://127.0.0.1:$RTMFP_PORT/live#$STREAM" >"$dir/p$i.log" 2>&1 &
        pids+=($!)
        bench_track "$!"
    done
    deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
        playing=$({ grep -l "^stream onVideo" "$dir"/p*.log 2>/dev/null || true; } | { xargs -r grep -l "^stream onAudio" || true; } | wc -l)
        ((playing >= n)) && break
        sleep 0.5
    done
    if ((playing < n)); then
        echo "[RTMFP]   only $playing of $n players got audio and video in 120 s; one log: $(tail -n 5 "$dir/p0.log" | tr '\n' ' ')" >&2
        FAILED=1
    else
        sleep "$SETTLE"
        b0=$(media_bytes "$dir")
        ns0=$(server_cpu_ns)
        t0=$(date +%s.%N)
        sleep "$DURATION"
        b1=$(media_bytes "$dir")
        ns1=$(server_cpu_ns)
        t1=$(date +%s.%N)
        bytes=$(awk 'NR == FNR { a[$1] = $2; next } { d += $2 - a[$1] } END { print d + 0 }' <(echo "$b0") <(echo "$b1"))
        moved=$(awk 'NR == FNR { a[$1] = $2; next } $2 > a[$1] { m++ } END { print m + 0 }' <(echo "$b0") <(echo "$b1"))
        echo "[RTMFP]   bytes=$bytes players_receiving=$moved srv_ns=$((ns1 - ns0))" >&2
        if ((moved < n)) || ! bench_alive "$SERVER_PID"; then
            echo "[RTMFP]   $n players FAILED: $moved received media in the window" >&2
            FAILED=1
        else
            record "rtmfp:$n" $((ns1 - ns0)) "$bytes" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(server_rss_kb)" "$n"
        fi
    fi
    stop_players "${pids[@]}"
    bench_stop "$PUB_PID" 3 || true
    stop_ours
}

# count_connected DIR: the player logs holding a successful connect.
count_connected() { { grep -l "NetConnection.Connect.Success" "$1"/p*.log 2>/dev/null || true; } | wc -l; }

IDLE_BEFORE= IDLE_AFTER= IDLE_KIB= IDLE_SETUP=
run_idle() {
    local dir=$BENCH_TMP/idle pids=() i connected=0 deadline before after start batch
    start_ours || return 0
    mkdir -p "$dir"
    stdbuf -oL "$TCCONN" "${TCCONN_OPTS[@]}" "rtmfp://127.0.0.1:$RTMFP_PORT/live#idle" >"$dir/warmup.log" 2>&1 &
    pids+=($!)
    bench_track "$!"
    deadline=$((SECONDS + 30))
    until grep -q "NetConnection.Connect.Success" "$dir/warmup.log" 2>/dev/null || ((SECONDS >= deadline)); do sleep 0.2; done
    sleep 1
    before=$(server_rss_kb)
    echo "[RTMFP] idle: $IDLE sessions (tcconn ${TCCONN_ARGS:-with its defaults}), RSS 2 s after the last connects" >&2
    start=$SECONDS
    for ((i = 0; i < IDLE; i++)); do
        stdbuf -oL "$TCCONN" "${TCCONN_OPTS[@]}" "rtmfp://127.0.0.1:$RTMFP_PORT/live#idle" >"$dir/p$i.log" 2>&1 &
        pids+=($!)
        bench_track "$!"
        if (((i + 1) % 50 == 0)); then
            batch=$((i + 1))
            deadline=$((SECONDS + 60))
            while ((SECONDS < deadline)); do
                connected=$(count_connected "$dir")
                ((connected >= batch)) && break
                sleep 0.2
            done
        fi
    done
    deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
        connected=$(count_connected "$dir")
        ((connected >= IDLE)) && break
        sleep 0.5
    done
    IDLE_SETUP=$((SECONDS - start))
    if ((connected < IDLE)) || ! bench_alive "$SERVER_PID"; then
        echo "[RTMFP] idle FAILED: $connected of $IDLE connected" >&2
        FAILED=1
        IDLE_KIB=FAIL
    else
        sleep 2
        after=$(server_rss_kb)
        IDLE_BEFORE=$(awk -v k="$before" 'BEGIN { printf "%.1f", k / 1024 }')
        IDLE_AFTER=$(awk -v k="$after" 'BEGIN { printf "%.1f", k / 1024 }')
        IDLE_KIB=$(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.1f", (a - b) / n }')
    fi
    stop_players "${pids[@]}"
    stop_ours
}

for n in "${PLAYER_LIST[@]}"; do
    bench_check_idle
    run_rtmp "$n"
    run_rtmfp "$n"
done
((IDLE > 0)) && run_idle

# --- report -----------------------------------------------------------------
echo
echo "rtmfp-fanout: 1 RTMP publisher (ffmpeg -re -c copy, $((SOURCE_BPS / 1000)) kbit/s), N players, ${SETTLE}s settle +" \
    "${DURATION}s window, 127.0.0.1, $(nproc) CPUs; RTMFP players: rtmfp-cpp tcconn ${TCCONN_ARGS:-(defaults: HMAC + session sequence numbers)}"
fmt='%-7s %-22s %8s %7s %9s %9s %8s\n'
printf "$fmt" players path Mbit/s deliv% srv_cpu% cpu_s/GB rss_MiB
for n in "${PLAYER_LIST[@]}"; do
    printf "$fmt" "$n" "RTMP (reference)" "${MBPS[rtmp:$n]:-FAIL}" "${DELIV[rtmp:$n]:--}" "${UTIL[rtmp:$n]:--}" \
        "${CPUGB[rtmp:$n]:--}" "${RSS[rtmp:$n]:--}"
    printf "$fmt" "$n" "RTMFP" "${MBPS[rtmfp:$n]:-FAIL}" "${DELIV[rtmfp:$n]:--}" "${UTIL[rtmfp:$n]:--}" \
        "${CPUGB[rtmfp:$n]:--}" "${RSS[rtmfp:$n]:--}"
    printf "$fmt" "$n" "ratio RTMFP/RTMP" "$(bench_ratio "${MBPS[rtmfp:$n]:-}" "${MBPS[rtmp:$n]:-}")" "" \
        "$(bench_ratio "${UTIL[rtmfp:$n]:-}" "${UTIL[rtmp:$n]:-}")" \
        "$(bench_ratio "${CPUGB[rtmfp:$n]:-}" "${CPUGB[rtmp:$n]:-}")" \
        "$(bench_ratio "${RSS[rtmfp:$n]:-}" "${RSS[rtmp:$n]:-}")"
done
echo "Mbit/s: delivered to all players together; deliv%: of players x the source's bit rate (near 100: every player keeps up)."
echo "cpu_s/GB: server CPU seconds (all threads' on-CPU time, schedstat) per 10^9 bytes delivered: lower is better."
if ((IDLE > 0)); then
    echo
    echo "idle: $IDLE RTMFP sessions (handshake, connect, play of an unpublished stream), VmRSS 2 s after the last one"
    fmt='%-10s %15s %14s %12s %8s\n'
    printf "$fmt" sessions rss_before_MiB rss_after_MiB KiB/session setup_s
    printf "$fmt" "$IDLE" "${IDLE_BEFORE:--}" "${IDLE_AFTER:--}" "${IDLE_KIB:-FAIL}" "${IDLE_SETUP:--}"
fi
echo
echo "targets (not asserted): cpu_s/GB RTMFP/RTMP <= $CPU_TARGET; KiB per idle RTMFP session <= $IDLE_TARGET_KIB."
exit "$FAILED"
