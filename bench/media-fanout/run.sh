#!/usr/bin/env bash
# bench/media-fanout/run.sh: one publication (720p30 H.264 at 6 Mbit/s + AAC, published over RTMP by
# ffmpeg) played by N players of each kind our server offers besides RTMP — RTSP over TCP
# interleaved, RTSP over UDP, WebSocket fMP4 (the browser player's path), HTTP-FLV — against N RTMP
# players of the same publication on the same server: our RTMP path is the reference the issues
# give (RTSP and WebSocket fMP4 ≤ RTMP × 1.2; HTTP-FLV is reported).
#
# Usage: bench/media-fanout/run.sh [options]
#   --no-build              do not run swift build (binaries must already exist)
#   -p, --players "A B"     player counts                       (env PLAYERS, default "100")
#   -d, --seconds S         measuring window per count, seconds (env DURATION, default 10)
#   -s, --settle S          wait after all players play, s      (env SETTLE, default 3)
#   -k, --kinds "K..."      kinds to run, among rtmp rtsp-tcp rtsp-udp ws flv
#                           (env KINDS, default all five, rtmp first)
#   -h, --help
# Env: BIN=<dir> folder holding MonaServer and the plugins' .so; implies --no-build.
#      WRITE_DELAY=<ms> sets RTMP.writeDelay (default 50: merged writes for every media player).
# Needs: ffmpeg, ffprobe, cc, ss (apt-get install -y ffmpeg gcc iproute2).
#
# One server (RTMP, HTTP, WebSocket and RTSP on loopback) and one publisher (ffmpeg -re -stream_loop
# -1 -c copy of bench/rtmp-fanout's 30 s source, encoded once if missing) for the whole run; per
# player count, each kind in turn: bench/rtmp-fanout's rtmp_load (rtmp) or media_load (the others,
# see media_load.c) opens N players, waits until all get media, SETTLE s, then over DURATION s reads
# the bytes all players received (TCP payload; RTSP over UDP: RTP payload with its headers) and the
# server's on-CPU time (/proc/<pid>/task/*/schedstat). Figures: CPU seconds per delivered GB, the
# ratio to the RTMP figure of the same run, delivered % of players x the publisher's rate.
# Exit status is non-zero if any run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

PLAYERS=${PLAYERS:-"100"}
DURATION=${DURATION:-10}
SETTLE=${SETTLE:-3}
KINDS=${KINDS:-"rtmp rtsp-tcp rtsp-udp ws flv"}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
STREAM=bench

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -p | --players) PLAYERS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -s | --settle) SETTLE=${2:?}; shift ;;
    -k | --kinds) KINDS=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
read -r -a PLAYER_LIST <<<"$PLAYERS"
read -r -a KIND_LIST <<<"$KINDS"
MAX_PLAYERS=$(bench_max_count player 2000 "${PLAYER_LIST[@]}")
for kind in "${KIND_LIST[@]}"; do
    [[ " rtmp rtsp-tcp rtsp-udp ws flv " == *" $kind "* ]] || bench_die "unknown kind $kind"
done
bench_check_window "$DURATION" "$SETTLE"
for tool in ffmpeg ffprobe timeout cc ss; do
    command -v "$tool" >/dev/null || bench_die "no $tool (apt-get install -y ffmpeg gcc iproute2)"
done

# RTSP over UDP: 4 sockets per player on the load's side.
bench_raise_nofile $((MAX_PLAYERS * 5 + 256))

bench_init

# --- build ------------------------------------------------------------------
mkdir -p "$HERE/bin" "$ROOT/bench/rtmp-fanout/bin"
cc -O2 -Wall -Wextra -o "$HERE/bin/media_load" "$HERE/media_load.c" || bench_die "cc media_load.c failed"
cc -O2 -Wall -Wextra -o "$HERE/bin/rtmp_load" "$ROOT/bench/rtmp-fanout/rtmp_load.c" || bench_die "cc rtmp_load.c failed"
if ((BUILD)); then
    echo "building MonaServer and its plugins (release)..." >&2
    (cd "$ROOT" && swift build -c release) >&2 || bench_die "swift build failed"
fi
if [[ -z ${BIN:-} ]]; then
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) || bench_die "cannot get the release bin path; set BIN=<dir>"
fi
for file in MonaServer libMonaRTMP.so libMonaHTTP.so libMonaWebSocket.so libMonaRTSP.so; do
    [[ -e $BIN/$file ]] || bench_die "no $BIN/$file"
done

SOURCE=$ROOT/bench/rtmp-fanout/bin/source.flv
bench_source_flv "$SOURCE"

# --- server and publisher ---------------------------------------------------
MONA=$BENCH_TMP/mona
"$ROOT/scripts/assemble.sh" "$BIN" "$MONA" >&2 || bench_die "scripts/assemble.sh failed"
rm -rf "$MONA/www"
mkdir -p "$MONA/www/live"
echo 'function onConnection(client) end' >"$MONA/www/main.lua"
echo 'function onConnection(client) end' >"$MONA/www/live/main.lua"
RTMP_PORT=$(bench_free_port)
HTTP_PORT=$(bench_free_port)
RTSP_PORT=$(bench_free_port)
cat >"$MONA/MonaServer.ini" <<EOF
RTMFP.port=0
[RTMP]
host=127.0.0.1
port=$RTMP_PORT
timeout=600
${WRITE_DELAY:+writeDelay=$WRITE_DELAY}
[HTTP]
host=127.0.0.1
port=$HTTP_PORT
timeout=600
[RTSP]
host=127.0.0.1
port=$RTSP_PORT
timeout=600
[HLS]
enabled=false
EOF
SERVER_LOG=$BENCH_TMP/server.log
"$MONA/MonaServer" --ini="$MONA/MonaServer.ini" --dir="$MONA" --log=4 >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
bench_track "$SERVER_PID"
for p in "$RTMP_PORT" "$HTTP_PORT" "$RTSP_PORT"; do
    bench_wait_port "$p" "$SERVER_PID" || { tail -n 20 "$SERVER_LOG" >&2; bench_die "the server did not listen on $p"; }
done
ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$SOURCE" -c copy -f flv \
    "rtmp://127.0.0.1:$RTMP_PORT/live/$STREAM" >"$BENCH_TMP/publisher.log" 2>&1 &
PUB_PID=$!
bench_track "$PUB_PID"

# The publication must be there and decodable: ffprobe reads it back over RTSP (retried while
# ffmpeg connects).
codecs=$(bench_rtsp_codecs "rtsp://127.0.0.1:$RTSP_PORT/live/$STREAM" "$PUB_PID")
[[ $codecs == aac,h264 ]] || bench_die "ffprobe over RTSP found '$codecs'; publisher: $(tail -n 3 "$BENCH_TMP/publisher.log")"
echo "publication checked with ffprobe over RTSP: $codecs" >&2

CLK_TCK=$(bench_clk_tck)
FAILED=0
declare -A MBPS DELIV UTIL CPUGB RSS LUTIL

# measure KIND N: one load run; fills the tables under "KIND:N".
measure() {
    local kind=$1 n=$2 line rc=0 ns bytes
    bench_check_idle
    echo "[$kind] $n players, ${SETTLE}s settle + ${DURATION}s window" >&2
    local limit=$((120 + SETTLE + DURATION + 30))
    case $kind in
    rtmp) line=$(timeout -k 5 $limit "$HERE/bin/rtmp_load" play "$RTMP_PORT" live "$STREAM" "$n" "$SETTLE" "$DURATION" \
        "$PUB_PID" "$SERVER_PID") || rc=$? ;;
    rtsp-tcp | rtsp-udp) line=$(timeout -k 5 $limit "$HERE/bin/media_load" "$kind" "$RTSP_PORT" "/live/$STREAM" "$n" \
        "$SETTLE" "$DURATION" "$PUB_PID" "$SERVER_PID") || rc=$? ;;
    ws) line=$(timeout -k 5 $limit "$HERE/bin/media_load" ws "$HTTP_PORT" "/live/$STREAM" "$n" "$SETTLE" "$DURATION" \
        "$PUB_PID" "$SERVER_PID") || rc=$? ;;
    flv) line=$(timeout -k 5 $limit "$HERE/bin/media_load" flv "$HTTP_PORT" "/live/$STREAM.flv" "$n" "$SETTLE" \
        "$DURATION" "$PUB_PID" "$SERVER_PID") || rc=$? ;;
    esac
    echo "[$kind]   $line" >&2
    bytes=$(bench_kv bytes "$line" || echo 0)
    ns=$(bench_kv srv_ns "$line" || echo -1)
    if ((rc != 0)) || [[ $bytes == 0 || $ns == -1 ]] || ! bench_alive "$SERVER_PID" || ! bench_alive "$PUB_PID"; then
        echo "[$kind]   $n players FAILED (exit $rc)" >&2
        FAILED=1
        MBPS[$kind:$n]=FAIL
        bench_alive "$SERVER_PID" || { tail -n 20 "$SERVER_LOG" >&2; bench_die "the server died"; }
        bench_alive "$PUB_PID" || bench_die "the publisher died: $(tail -n 3 "$BENCH_TMP/publisher.log")"
        return 0
    fi
    bench_record "$kind:$n" "$line"
    sleep 1 # the server drops the players before the next run
}

for n in "${PLAYER_LIST[@]}"; do
    for kind in "${KIND_LIST[@]}"; do
        measure "$kind" "$n"
    done
done

# --- report -----------------------------------------------------------------
echo
echo "media-fanout: 1 publisher (ffmpeg -re -c copy of a 6 Mbit/s 720p30 H.264+AAC FLV over RTMP), N players per kind" \
    "on one server, ${SETTLE}s settle + ${DURATION}s window, 127.0.0.1, $(nproc) CPUs"
fmt='%-7s %-10s %8s %7s %9s %9s %11s %8s %10s\n'
printf "$fmt" players kind Mbit/s deliv% srv_cpu% cpu_s/GB ratio/RTMP rss_MiB load_cpu%
for n in "${PLAYER_LIST[@]}"; do
    for kind in "${KIND_LIST[@]}"; do
        printf "$fmt" "$n" "$kind" "${MBPS[$kind:$n]:-FAIL}" "${DELIV[$kind:$n]:--}" "${UTIL[$kind:$n]:--}" \
            "${CPUGB[$kind:$n]:--}" "$(bench_ratio "${CPUGB[$kind:$n]:-}" "${CPUGB[rtmp:$n]:-}")" "${RSS[$kind:$n]:--}" \
            "${LUTIL[$kind:$n]:--}"
    done
done
echo "cpu_s/GB: server CPU seconds (all threads, schedstat) per 10^9 bytes the players received: lower is better."
echo "targets (not asserted): rtsp-tcp, rtsp-udp and ws <= 1.2 x rtmp (issues 17 and 18)."
exit "$FAILED"
