#!/usr/bin/env bash
# bench/rtsp-peer/run.sh: RTSP fan-out of one live publication (720p30 H.264 at 6 Mbit/s + AAC) to N
# players over TCP interleaved and to N players over UDP, on our server and on GStreamer's RTSP
# server (gst-rtsp-server through python3-gst's GstRtspServer, a shared media factory:
# gst_rtsp_server.py), one after the other under the same load: server CPU seconds per delivered GB,
# ours, theirs and the ratio ours/GStreamer.
#
# Usage: bench/rtsp-peer/run.sh [options]
#   --no-build              do not run swift build (binaries must already exist)
#   -p, --players "A B"     player counts                       (env PLAYERS, default "100")
#   -d, --seconds S         measuring window per run, seconds   (env DURATION, default 10)
#   -s, --settle S          wait after all players play, s      (env SETTLE, default 3)
#   -k, --kinds "K..."      kinds to run, among rtsp-tcp rtsp-udp (env KINDS, default both)
#   -h, --help
# Env: BIN=<dir> folder holding MonaServer and the plugins' .so; implies --no-build.
#      PYTHON=<python3 with python3-gst> (default /usr/bin/python3: Debian's, not a pyenv one).
#      GST_MTU=<bytes> largest RTP packet of GStreamer's payloaders (default 1472, our RTSP.mtu
#      default, so that both servers send packets of the same size; GStreamer's own default is 1400).
# Needs: ffmpeg, ffprobe, cc and GStreamer's RTSP server for Debian's python3 (apt-get install -y
#        ffmpeg gcc python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
#        gstreamer1.0-plugins-bad).
#
# Ours: MonaServer with the RTMP and RTSP plugins on loopback; the publisher is ffmpeg -re
# -stream_loop -1 -c copy of bench/rtmp-fanout's 30 s source (encoded once if missing) over RTMP.
# GStreamer: gst_rtsp_server.py; the same ffmpeg sends the same packets as MPEG-TS over UDP
# (udpsrc ! tsdemux ! h264parse/aacparse ! rtph264pay/rtpmp4gpay in the shared media), and also
# writes them as FLV to /dev/null, so that its -progress counts the same FLV bytes as ours'. Each
# server runs alone (started, checked with ffprobe over RTSP, loaded, stopped), ours first. Per
# player count and kind: media_load rtsp-tcp|rtsp-udp (bench/media-fanout/media_load.c, given the
# publisher's -progress file as @<file>) opens N players, waits until all get media, SETTLE s, then
# over DURATION s reads the bytes all players received (TCP payload; UDP: the RTP datagrams) and the
# server process' on-CPU time, all threads (/proc/<pid>/task/*/schedstat; for GStreamer the python3
# process, which runs the whole server). delivered % = bytes / (players x the publisher's FLV byte
# rate over the same window, the last total_size of its -progress). Exit status is non-zero if any
# run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

PLAYERS=${PLAYERS:-"100"}
DURATION=${DURATION:-10}
SETTLE=${SETTLE:-3}
KINDS=${KINDS:-"rtsp-tcp rtsp-udp"}
PYTHON=${PYTHON:-/usr/bin/python3}
GST_MTU=${GST_MTU:-1472}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
APP=live
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
((${#PLAYER_LIST[@]} && ${#KIND_LIST[@]})) || bench_die "no player count or no kind"
MAX_PLAYERS=$(bench_max_count player 2000 "${PLAYER_LIST[@]}")
for kind in "${KIND_LIST[@]}"; do
    [[ " rtsp-tcp rtsp-udp " == *" $kind "* ]] || bench_die "unknown kind $kind (rtsp-tcp or rtsp-udp)"
done
bench_check_window "$DURATION" "$SETTLE"
[[ $GST_MTU =~ ^[0-9]+$ && $GST_MTU -ge 400 && $GST_MTU -le 65000 ]] || bench_die "GST_MTU must be an integer in [400, 65000]"
for tool in ffmpeg ffprobe timeout cc; do
    command -v "$tool" >/dev/null || bench_die "no $tool (apt-get install -y ffmpeg gcc)"
done
GST_VERSION=$(timeout 60 "$PYTHON" - <<'EOF'
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
missing = [e for e in ("udpsrc", "tsdemux", "h264parse", "aacparse", "rtph264pay", "rtpmp4gpay", "queue")
           if Gst.ElementFactory.find(e) is None]
if missing:
    raise SystemExit("missing GStreamer elements: " + " ".join(missing))
print("%d.%d.%d" % Gst.version()[:3])
EOF
) || bench_die "$PYTHON cannot run GStreamer's RTSP server (apt-get install -y python3-gst-1.0" \
    "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad; PYTHON=<Debian's python3>)"

# RTSP over UDP: 4 sockets per player on the load's side.
bench_raise_nofile $((MAX_PLAYERS * 5 + 256))

bench_init

# --- build ------------------------------------------------------------------
mkdir -p "$HERE/bin"
LOAD=$HERE/bin/media_load
cc -O2 -Wall -Wextra -o "$LOAD" "$ROOT/bench/media-fanout/media_load.c" || bench_die "cc media_load.c failed"
if ((BUILD)); then
    echo "building MonaServer and its plugins (release)..." >&2
    (cd "$ROOT" && swift build -c release) >&2 || bench_die "swift build failed"
fi
if [[ -z ${BIN:-} ]]; then
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) || bench_die "cannot get the release bin path; set BIN=<dir>"
fi
for file in MonaServer libMonaRTMP.so libMonaRTSP.so; do
    [[ -e $BIN/$file ]] || bench_die "no $BIN/$file"
done

SOURCE=$ROOT/bench/rtmp-fanout/bin/source.flv
bench_source_flv "$SOURCE"

# Upper bound of one server's phase: every run's own limit plus start-up; the server (GStreamer's)
# and the publishers end by themselves after it if nothing stopped them.
RUN_LIMIT=$((120 + SETTLE + DURATION + 30))
LIFETIME=$((${#PLAYER_LIST[@]} * ${#KIND_LIST[@]} * (RUN_LIMIT + 10) + 300))

CLK_TCK=$(bench_clk_tck)
FAILED=0
SERVER_PID=
PUB_PID=
SERVER_LOG=
PUB_LOG=
PROGRESS=
declare -A MBPS DELIV UTIL CPUGB RSS LUTIL

untrack() {
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    BENCH_PIDS=("${keep[@]}")
}

# A UDP port nobody uses (bench_free_port looks at TCP only).
free_udp_port() {
    local port hex i
    for ((i = 0; i < 50; i++)); do
        port=$(bench_free_port)
        printf -v hex ':%04X ' "$port"
        grep -q "$hex" /proc/net/udp /proc/net/udp6 2>/dev/null || { echo "$port"; return 0; }
    done
    bench_die "no free UDP port found"
}

# start_publisher OUTPUT_ARGS...: ffmpeg -re -stream_loop -1 -c copy of the source, its -progress
# (total_size of the first output) written to $PROGRESS every 50 ms.
start_publisher() {
    PROGRESS=$BENCH_TMP/$1.progress
    PUB_LOG=$BENCH_TMP/$1.publisher.log
    shift
    ffmpeg -hide_banner -nostdin -loglevel error -y -progress "$PROGRESS" -stats_period 0.05 \
        -re -stream_loop -1 -i "$SOURCE" "$@" >"$PUB_LOG" 2>&1 &
    PUB_PID=$!
    bench_track "$PUB_PID"
}

# check_playable NAME PORT: ffprobe reads the publication back over RTSP (TCP), retried while the
# publisher connects; both tracks must be found.
check_playable() {
    local name=$1 port=$2 codecs
    codecs=$(bench_rtsp_codecs "rtsp://127.0.0.1:$port/$APP/$STREAM" "$PUB_PID" "$SERVER_PID")
    if [[ $codecs != aac,h264 ]]; then
        echo "[$name] ffprobe over RTSP found '$codecs'; publisher: $(tail -n 3 "$PUB_LOG")" >&2
        tail -n 20 "$SERVER_LOG" >&2
        return 1
    fi
    echo "[$name] publication checked with ffprobe over RTSP: $codecs" >&2
}

start_ours() {
    local mona=$BENCH_TMP/mona rtmp_port
    "$ROOT/scripts/assemble.sh" "$BIN" "$mona" RTSP >&2 || bench_die "scripts/assemble.sh failed"
    cp -f "$BIN/libMonaRTMP.so" "$mona/"
    rm -rf "$mona/www"
    mkdir -p "$mona/www/$APP"
    echo 'function onConnection(client) end' >"$mona/www/main.lua"
    echo 'function onConnection(client) end' >"$mona/www/$APP/main.lua"
    rtmp_port=$(bench_free_port)
    RTSP_PORT=$(bench_free_port)
    cat >"$mona/MonaServer.ini" <<EOF
RTMFP.port=0
HTTP.port=0
WebSocket.enabled=false
[RTMP]
host=127.0.0.1
port=$rtmp_port
timeout=600
[RTSP]
host=127.0.0.1
port=$RTSP_PORT
timeout=600
[HLS]
enabled=false
EOF
    SERVER_LOG=$BENCH_TMP/ours.server.log
    "$mona/MonaServer" --ini="$mona/MonaServer.ini" --dir="$mona" --log=4 >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    local p
    for p in "$rtmp_port" "$RTSP_PORT"; do
        bench_wait_port "$p" "$SERVER_PID" 200 || { tail -n 20 "$SERVER_LOG" >&2; bench_die "our server did not listen on $p"; }
    done
    start_publisher ours -t "$LIFETIME" -c copy -f flv "rtmp://127.0.0.1:$rtmp_port/$APP/$STREAM"
}

start_gst() {
    local ts_port
    ts_port=$(free_udp_port)
    RTSP_PORT=$(bench_free_port)
    SERVER_LOG=$BENCH_TMP/gst.server.log
    "$PYTHON" "$HERE/gst_rtsp_server.py" "$RTSP_PORT" "/$APP/$STREAM" "$ts_port" "$GST_MTU" "$LIFETIME" \
        >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$RTSP_PORT" "$SERVER_PID" 400 ||
        { tail -n 20 "$SERVER_LOG" >&2; bench_die "GStreamer's RTSP server did not listen on $RTSP_PORT"; }
    # first output: the FLV bytes ours' publisher would send (counted by -progress); second: the
    # same packets as MPEG-TS over UDP, to the server
    start_publisher gst -map 0 -c copy -t "$LIFETIME" -f flv /dev/null \
        -map 0 -c copy -t "$LIFETIME" -f mpegts "udp://127.0.0.1:$ts_port?pkt_size=1316"
}

stop_server() {
    local pid
    for pid in "$PUB_PID" "$SERVER_PID"; do
        [[ -n $pid ]] || continue
        bench_stop "$pid" 5 || true
        untrack "$pid"
    done
    PUB_PID=
    SERVER_PID=
}

# measure SERVER KIND N: one load run; fills the tables under "SERVER:KIND:N".
measure() {
    local server=$1 kind=$2 n=$3 key=$1:$2:$3 line rc=0 ns bytes
    bench_check_idle
    echo "[$server $kind] $n players, ${SETTLE}s settle + ${DURATION}s window" >&2
    line=$(timeout -k 5 "$RUN_LIMIT" "$LOAD" "$kind" "$RTSP_PORT" "/$APP/$STREAM" "$n" "$SETTLE" \
        "$DURATION" "@$PROGRESS" "$SERVER_PID") || rc=$?
    echo "[$server $kind]   $line" >&2
    bytes=$(bench_kv bytes "$line" || echo 0)
    ns=$(bench_kv srv_ns "$line" || echo -1)
    if ((rc != 0)) || [[ $bytes == 0 || $ns == -1 ]] || ! bench_alive "$SERVER_PID" || ! bench_alive "$PUB_PID"; then
        echo "[$server $kind]   $n players FAILED (exit $rc)" >&2
        FAILED=1
        bench_alive "$SERVER_PID" || { tail -n 20 "$SERVER_LOG" >&2; echo "[$server] the server died" >&2; return 1; }
        bench_alive "$PUB_PID" || { echo "[$server] the publisher died: $(tail -n 3 "$PUB_LOG")" >&2; return 1; }
        sleep 1
        return 0
    fi
    bench_record "$key" "$line"
    sleep 1 # the server drops the players before the next run
}

# phase SERVER: start it and its publisher, every run, stop them.
phase() {
    local server=$1 n kind
    echo "[$server] starting" >&2
    "start_$server"
    if check_playable "$server" "$RTSP_PORT"; then
        for n in "${PLAYER_LIST[@]}"; do
            for kind in "${KIND_LIST[@]}"; do
                measure "$server" "$kind" "$n" || break 2
            done
        done
    else
        FAILED=1
    fi
    stop_server
}

phase ours
phase gst

# --- report -----------------------------------------------------------------
echo
echo "rtsp-peer: 1 publisher (ffmpeg -re -c copy of a 6 Mbit/s 720p30 H.264+AAC source: to ours as FLV over RTMP," \
    "to GStreamer as MPEG-TS over UDP), N RTSP players per kind, ${SETTLE}s settle + ${DURATION}s window, 127.0.0.1, $(nproc) CPUs"
echo "peer: GStreamer $GST_VERSION RTSP server (python3-gst GstRtspServer, shared media factory, RTP mtu $GST_MTU)"
fmt='%-9s %7s %13s %12s %9s %11s %10s %12s %11s %9s %8s\n'
printf "$fmt" kind players ours_cpu_s/GB gst_cpu_s/GB ours/gst ours_deliv% gst_deliv% ours_rss_MiB gst_rss_MiB \
    ours_cpu% gst_cpu%
for n in "${PLAYER_LIST[@]}"; do
    for kind in "${KIND_LIST[@]}"; do
        o=ours:$kind:$n g=gst:$kind:$n
        printf "$fmt" "$kind" "$n" "${CPUGB[$o]:-FAIL}" "${CPUGB[$g]:-FAIL}" "$(bench_ratio "${CPUGB[$o]:-}" "${CPUGB[$g]:-}")" \
            "${DELIV[$o]:--}" "${DELIV[$g]:--}" "${RSS[$o]:--}" "${RSS[$g]:--}" "${UTIL[$o]:--}" "${UTIL[$g]:--}"
    done
done
echo "cpu_s/GB: server CPU seconds (all threads, schedstat) per 10^9 bytes the players received: lower is better;" \
    "ours/gst below 1: ours is cheaper."
echo "deliv%: bytes received / (players x the publisher's FLV byte rate in the window): about 100 when every player keeps up."
echo "The issue's target (not asserted) is against our RTMP fan-out: rtsp cpu_s/GB <= rtmp x 1.2 (bench/media-fanout)."
exit "$FAILED"
