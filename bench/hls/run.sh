#!/usr/bin/env bash
# bench/hls/run.sh: HLS viewers of one live publication (720p30 H.264 at 6 Mbit/s + AAC, published
# over RTMP by ffmpeg): our server, which cuts MPEG-TS segments in memory and serves them from there
# (`/live/bench.ts.m3u8`), against nginx with nginx-rtmp-module cutting the same stream into files
# (`hls on`) that nginx serves as static files (`/hls/bench.m3u8`), one server at a time.
#
# Usage: bench/hls/run.sh [options]
#   --no-build              do not run swift build (binaries must already exist)
#   -p, --viewers "A B"     viewer counts                       (env VIEWERS, default "100 1000")
#   -d, --seconds S         measuring window per count, seconds (env DURATION, default 20)
#   -s, --settle S          wait after every viewer got a segment, s (env SETTLE, default 4)
#   -r, --rounds R          runs of both servers, alternating (env ROUNDS, default 1): with more than
#                           one, every round's figures and the median ratio per viewer count
#   --shmem-thp MODE        the kernel's transparent_hugepage/shmem_enabled for the run (never, advise,
#                           within_size or always; root), put back at the end. Our segments are
#                           moved into 2 MiB pages at their first send whatever this is (MADV_COLLAPSE,
#                           Linux 6.1+); nginx's files get large folios from ext4 whatever this is.
#                           Default: leave it as it is.
#   -h, --help
# Env: BIN=<dir> folder holding MonaServer, libMonaRTMP.so and libMonaHTTP.so; implies --no-build.
# Needs: ffmpeg, cc, ss, nginx and libnginx-mod-rtmp (apt-get install -y ffmpeg gcc iproute2
#        nginx-light libnginx-mod-rtmp).
#
# Both sides: 2 s segments cut on key frames (the source has one every 2 s), a 6-segment window.
# Viewers: media_load hls (see bench/media-fanout/media_load.c): each polls the playlist on its
# keep-alive connection every half target duration and fetches each new segment once. Figures: the
# server's CPU seconds (schedstat; nginx: master + worker; both include cutting the segments) per GB
# the viewers received, delivered % of viewers x the publisher's rate (below 100: the viewers, on the
# same 2 cores, did not keep up). Figures of one run move by ±15% on a 2-CPU VM: compare medians of
# rounds. Exit status is non-zero if any run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

VIEWERS=${VIEWERS:-"100 1000"}
DURATION=${DURATION:-20}
SETTLE=${SETTLE:-4}
ROUNDS=${ROUNDS:-1}
SHMEM_THP=
THP_KNOB=/sys/kernel/mm/transparent_hugepage/shmem_enabled
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
NGINX_RTMP=${NGINX_RTMP:-/usr/lib/nginx/modules/ngx_rtmp_module.so}
STREAM=bench

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -p | --viewers) VIEWERS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -s | --settle) SETTLE=${2:?}; shift ;;
    -r | --rounds) ROUNDS=${2:?}; shift ;;
    --shmem-thp) SHMEM_THP=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
read -r -a VIEWER_LIST <<<"$VIEWERS"
MAX=0
for n in "${VIEWER_LIST[@]}"; do
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 5000 ]] || bench_die "viewer counts must be integers in [1, 5000]: $VIEWERS"
    ((n > MAX)) && MAX=$n
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 600 ]] || bench_die "seconds must be an integer in [1, 600]"
[[ $SETTLE =~ ^[0-9]+$ && $SETTLE -le 60 ]] || bench_die "settle must be an integer in [0, 60]"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 && $ROUNDS -le 10 ]] || bench_die "rounds must be an integer in [1, 10]"
for tool in ffmpeg timeout cc ss nginx; do
    command -v "$tool" >/dev/null || bench_die "no $tool (apt-get install -y ffmpeg gcc iproute2 nginx-light libnginx-mod-rtmp)"
done
[[ -f $NGINX_RTMP ]] || bench_die "no $NGINX_RTMP (apt-get install -y libnginx-mod-rtmp)"
NEED_FDS=$((MAX + 256))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    ulimit -n "$NEED_FDS" 2>/dev/null || bench_die "cannot raise ulimit -n to $NEED_FDS"
fi

bench_init
# the knob reads "always within_size advise [never] deny force": the word in brackets is in effect
thp_mode() { sed -n 's/.*\[\([a-z_]*\)\].*/\1/p' "$THP_KNOB" 2>/dev/null || echo unknown; }
if [[ -n $SHMEM_THP ]]; then
    [[ $SHMEM_THP =~ ^(never|advise|within_size|always)$ ]] || bench_die "--shmem-thp: never, advise, within_size or always"
    [[ -w $THP_KNOB ]] || bench_die "--shmem-thp needs root and $THP_KNOB"
    THP_BEFORE=$(thp_mode)
    trap 'echo "$THP_BEFORE" >"$THP_KNOB" 2>/dev/null || true; bench_cleanup' EXIT
    echo "$SHMEM_THP" >"$THP_KNOB" || bench_die "cannot set $THP_KNOB to $SHMEM_THP"
fi

mkdir -p "$ROOT/bench/media-fanout/bin"
LOAD=$ROOT/bench/media-fanout/bin/media_load
cc -O2 -Wall -Wextra -o "$LOAD" "$ROOT/bench/media-fanout/media_load.c" || bench_die "cc media_load.c failed"
if ((BUILD)); then
    echo "building MonaServer and its plugins (release)..." >&2
    (cd "$ROOT" && swift build -c release) >&2 || bench_die "swift build failed"
fi
[[ -n ${BIN:-} ]] || BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) || bench_die "set BIN=<dir>"
for file in MonaServer libMonaRTMP.so libMonaHTTP.so; do [[ -e $BIN/$file ]] || bench_die "no $BIN/$file"; done

SOURCE=$ROOT/bench/rtmp-fanout/bin/source.flv
bench_source_flv "$SOURCE"

# start_<server> RTMP_PORT HTTP_PORT: sets SERVER_PID (tracked), SERVER_LOG, PLAYLIST; returns once both ports accept.
start_ours() {
    local mona=$BENCH_TMP/mona
    "$ROOT/scripts/assemble.sh" "$BIN" "$mona" >&2 || return 1
    rm -rf "$mona/www"
    mkdir -p "$mona/www/live"
    echo 'function onConnection(client) end' >"$mona/www/main.lua"
    echo 'function onConnection(client) end' >"$mona/www/live/main.lua"
    cat >"$mona/MonaServer.ini" <<EOF
RTMFP.port=0
RTSP.port=0
[RTMP]
host=127.0.0.1
port=$1
timeout=600
[HTTP]
host=127.0.0.1
port=$2
timeout=600
[HLS]
segmentDuration=2
window=6
EOF
    SERVER_LOG=$BENCH_TMP/ours.log
    "$mona/MonaServer" --ini="$mona/MonaServer.ini" --dir="$mona" --log=4 >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    PLAYLIST=/live/$STREAM.ts.m3u8
    bench_wait_port "$1" "$SERVER_PID" && bench_wait_port "$2" "$SERVER_PID"
}

start_nginx() {
    local prefix=$BENCH_TMP/nginx user=
    mkdir -p "$prefix/hls"
    ((EUID == 0)) && user='user root root;'
    cat >"$prefix/nginx.conf" <<EOF
load_module $NGINX_RTMP;
$user
worker_processes 1;
worker_rlimit_nofile $NEED_FDS;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections $NEED_FDS; }
rtmp {
    server {
        listen 127.0.0.1:$1;
        application live {
            live on;
            hls on;
            hls_path $prefix/hls;
            hls_fragment 2s;
            hls_playlist_length 12s;
        }
    }
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    server {
        listen 127.0.0.1:$2;
        location /hls/ { root $prefix; add_header Cache-Control no-cache; }
    }
}
EOF
    SERVER_LOG=$prefix/error.log
    nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" -g 'daemon off;' >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    PLAYLIST=/hls/$STREAM.m3u8
    bench_wait_port "$1" "$SERVER_PID" && bench_wait_port "$2" "$SERVER_PID" || return 1
    local pid
    for pid in $(bench_family "$SERVER_PID"); do [[ $pid == "$SERVER_PID" ]] || bench_track "$pid"; done
}

FAILED=0
declare -A MBPS DELIV UTIL CPUGB RSS LUTIL

# run KEY LABEL ROUND: a fresh server and publisher, each viewer count, stop.
run() {
    local key=$1 label=$2 round=$3 rtmp http pids n line rc ns bytes try
    rtmp=$(bench_free_port)
    http=$(bench_free_port)
    echo "[$label] round $round: starting on 127.0.0.1:$rtmp (RTMP) and :$http (HTTP)" >&2
    if ! "start_$key" "$rtmp" "$http"; then
        echo "[$label] did not come up; log tail:" >&2
        tail -n 20 "$SERVER_LOG" >&2 || true
        FAILED=1
        return 0
    fi
    read -r -a pids <<<"$(bench_family "$SERVER_PID" | tr '\n' ' ')"
    [[ $key == ours ]] && pids=("$SERVER_PID")
    ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$SOURCE" -c copy -f flv \
        "rtmp://127.0.0.1:$rtmp/live/$STREAM" >"$BENCH_TMP/publisher.$key.log" 2>&1 &
    local pub=$!
    bench_track "$pub"
    # the playlist must list segments before viewers come (up to 20 s)
    for ((try = 0; try < 100; try++)); do
        curl -sf "http://127.0.0.1:$http$PLAYLIST" 2>/dev/null | grep -q '\.ts' && break
        sleep 0.2
    done
    for n in "${VIEWER_LIST[@]}"; do
        bench_check_idle
        echo "[$label] $n viewers, ${SETTLE}s settle + ${DURATION}s window (server pids ${pids[*]})" >&2
        rc=0
        line=$(timeout -k 5 $((120 + SETTLE + DURATION + 30)) "$LOAD" hls "$http" "$PLAYLIST" "$n" "$SETTLE" "$DURATION" \
            "$pub" "${pids[@]}") || rc=$?
        echo "[$label]   $line" >&2
        bytes=$(bench_kv bytes "$line" || echo 0)
        ns=$(bench_kv srv_ns "$line" || echo -1)
        if ((rc != 0)) || [[ $bytes == 0 || $ns == -1 ]] || ! bench_alive "$SERVER_PID"; then
            echo "[$label]   $n viewers FAILED (exit $rc)" >&2
            FAILED=1
            MBPS[$key:$n:$round]=FAIL
            bench_alive "$SERVER_PID" || { tail -n 20 "$SERVER_LOG" >&2; break; }
            continue
        fi
        bench_record "$key:$n:$round" "$line"
        sleep 1
    done
    bench_stop "$pub" 3 || true
    local pid
    for pid in "${pids[@]}"; do bench_alive "$pid" && bench_stop "$pid" 5 || true; done
}

for ((round = 1; round <= ROUNDS; round++)); do
    run ours MonaServer "$round"
    run nginx nginx-rtmp "$round"
done

echo
echo "hls: 1 publisher (ffmpeg -re -c copy of a 6 Mbit/s 720p30 H.264+AAC FLV over RTMP), N HLS viewers (media_load hls)," \
    "MPEG-TS segments of 2 s, ${SETTLE}s settle + ${DURATION}s window, 127.0.0.1, $(nproc) CPUs, shmem THP $(thp_mode); peer $(nginx -v 2>&1 | sed 's/^nginx version: //') + nginx-rtmp hls, 1 worker, sendfile"
fmt='%-8s %-6s %-18s %8s %7s %9s %9s %8s %10s\n'
printf "$fmt" viewers round server Mbit/s deliv% srv_cpu% cpu_s/GB rss_MiB load_cpu%
declare -A RATIOS
for n in "${VIEWER_LIST[@]}"; do
    for ((round = 1; round <= ROUNDS; round++)); do
        o=ours:$n:$round g=nginx:$n:$round
        printf "$fmt" "$n" "$round" "MonaServer (ours)" "${MBPS[$o]:-FAIL}" "${DELIV[$o]:--}" "${UTIL[$o]:--}" \
            "${CPUGB[$o]:--}" "${RSS[$o]:--}" "${LUTIL[$o]:--}"
        printf "$fmt" "$n" "$round" "nginx-rtmp (peer)" "${MBPS[$g]:-FAIL}" "${DELIV[$g]:--}" "${UTIL[$g]:--}" \
            "${CPUGB[$g]:--}" "${RSS[$g]:--}" "${LUTIL[$g]:--}"
        ratio=$(bench_ratio "${CPUGB[$o]:-}" "${CPUGB[$g]:-}")
        printf "$fmt" "$n" "$round" "ratio ours/nginx" "$(bench_ratio "${MBPS[$o]:-}" "${MBPS[$g]:-}")" "" \
            "$(bench_ratio "${UTIL[$o]:-}" "${UTIL[$g]:-}")" "$ratio" "$(bench_ratio "${RSS[$o]:-}" "${RSS[$g]:-}")" ""
        [[ $ratio == n/a ]] || RATIOS[$n]+="$ratio "
    done
done
if ((ROUNDS > 1)); then
    for n in "${VIEWER_LIST[@]}"; do
        read -r -a list <<<"${RATIOS[$n]:-}"
        ((${#list[@]})) || continue
        median=$(printf '%s\n' "${list[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        echo "$n viewers: cpu_s/GB ratio ours/nginx, median of ${#list[@]} rounds: $median (rounds: ${list[*]})"
    done
fi
echo "cpu_s/GB: server CPU seconds per 10^9 bytes the viewers received (playlists, segments, HTTP heads): lower is better."
echo "target (not asserted): cpu_s/GB ours/nginx <= 1.0 (issue 18)."
exit "$FAILED"
