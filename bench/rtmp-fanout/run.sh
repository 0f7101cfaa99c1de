#!/usr/bin/env bash
# bench/rtmp-fanout/run.sh: one RTMP publisher (720p30 H.264 at 6 Mbit/s + AAC) played by many RTMP
# players, through MonaServer's RTMP plugin (ours) vs nginx with nginx-rtmp-module (peer,
# Debian's libnginx-mod-rtmp), one server at a time; then the memory of idle RTMP connections.
#
# Usage: bench/rtmp-fanout/run.sh [options]
#   --no-build              do not run swift build (binaries must already exist)
#   --peer-only             benchmark only nginx-rtmp (checks the plumbing)
#   --ours-only             benchmark only MonaServer (quick iterations; no ratios)
#   -p, --players "A B"     player counts                       (env PLAYERS, default "10 100 300")
#   -d, --seconds S         measuring window per count, seconds (env DURATION, default 10)
#   -s, --settle S          wait after all players play, s      (env SETTLE, default 3)
#   -i, --idle N            idle RTMP connections for the RSS figure
#                           (env IDLE, default 10000; 0 skips that part)
#   --live-encode           the publisher encodes testsrc2 live (libx264 ultrafast) instead of
#                           sending the pre-encoded file with -c copy (env LIVE_ENCODE=1)
#   -h, --help
# Env: WRITE_DELAY=<ms> sets RTMP.writeDelay of ours (merged writes; default 50, 0 = off).
#      BIN=<dir>  folder holding MonaServer and libMonaRTMP.so; implies --no-build.
#      Without it the folder is `swift build -c release --show-bin-path`.
# Needs: ffmpeg, ffprobe, rtmpdump, nginx and libnginx-mod-rtmp
#      (apt-get install -y ffmpeg rtmpdump nginx-light libnginx-mod-rtmp).
#
# Publisher: ffmpeg -re -stream_loop -1 -i bin/source.flv -c copy -f flv rtmp://127.0.0.1:P/live/bench
# (bin/source.flv: 30 s of testsrc2 1280x720 30 fps + sine, libx264 ultrafast zerolatency 6 Mbit/s,
# g 60, AAC; encoded once and kept). Before measuring, one rtmpdump player's file must hold H.264
# and AAC (ffprobe). Players: bin/rtmp_load (C, one thread, epoll): N RTMP connections (handshake,
# connect, createStream, play), each decoding the chunk stream, acknowledging and answering pings.
# Once all play it waits SETTLE s, then over DURATION s it reads the bytes all players received, the
# server's CPU time (on-CPU ns of all threads, /proc/<pid>/task/*/schedstat, which has no 10 ms
# tick; utime+stime from /proc/<pid>/stat if unreadable; nginx master + worker), its
# VmRSS at the end, and the publisher's written bytes (the expected rate). Every player must get
# video and audio in the window. Then, on a fresh server, it opens IDLE connections that stop
# after the `connect` _result and prints (VmRSS after - VmRSS before) / IDLE.
# Exit status is non-zero if any run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

PLAYERS=${PLAYERS:-"10 100 300"}
DURATION=${DURATION:-10}
SETTLE=${SETTLE:-3}
IDLE=${IDLE:-10000}
LIVE_ENCODE=${LIVE_ENCODE:-0}
BUILD=1
OURS=1
PEER=1
[[ -n ${BIN:-} ]] && BUILD=0
NGINX_RTMP=${NGINX_RTMP:-/usr/lib/nginx/modules/ngx_rtmp_module.so}
CPU_TARGET=0.7 # our CPU per delivered GB / nginx-rtmp's
STREAM=bench

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    --peer-only) OURS=0 ;;
    --ours-only) PEER=0 ;;
    -p | --players) PLAYERS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -s | --settle) SETTLE=${2:?}; shift ;;
    -i | --idle) IDLE=${2:?}; shift ;;
    --live-encode) LIVE_ENCODE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
read -r -a PLAYER_LIST <<<"$PLAYERS"
MAX_PLAYERS=0
for n in "${PLAYER_LIST[@]}"; do
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 5000 ]] || bench_die "player counts must be integers in [1, 5000]: $PLAYERS"
    ((n > MAX_PLAYERS)) && MAX_PLAYERS=$n
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 600 ]] ||
    bench_die "seconds must be an integer in [1, 600]: $DURATION"
[[ $SETTLE =~ ^[0-9]+$ && $SETTLE -le 60 ]] || bench_die "settle must be an integer in [0, 60]: $SETTLE"
[[ $IDLE =~ ^[0-9]+$ && $IDLE -le 20000 ]] || bench_die "idle connections must be an integer in [0, 20000]: $IDLE"

for tool in ffmpeg ffprobe rtmpdump nginx timeout cc; do
    command -v "$tool" >/dev/null ||
        bench_die "no $tool (apt-get install -y ffmpeg rtmpdump nginx-light libnginx-mod-rtmp)"
done
[[ -f $NGINX_RTMP ]] || bench_die "no $NGINX_RTMP (apt-get install -y libnginx-mod-rtmp)"

# The server and the load generator each hold one descriptor per connection, plus a few.
NEED_FDS=$(((IDLE > MAX_PLAYERS ? IDLE : MAX_PLAYERS) + 256))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < NEED_FDS)); then
        ulimit -Hn "$NEED_FDS" 2>/dev/null ||
            bench_die "need $NEED_FDS open files (ulimit -n), the hard limit is $hard; run as root or lower -i/-p"
    fi
    ulimit -n "$NEED_FDS" || bench_die "cannot raise ulimit -n to $NEED_FDS"
fi

bench_init

# --- build ------------------------------------------------------------------
mkdir -p "$HERE/bin"
cc -O2 -Wall -Wextra -o "$HERE/bin/rtmp_load" "$HERE/rtmp_load.c" || bench_die "cc rtmp_load.c failed"
LOAD=$HERE/bin/rtmp_load

if ((OURS)); then
    if ((BUILD)); then
        echo "building MonaServer + MonaRTMP (release)..." >&2
        (cd "$ROOT" && swift build -c release --product MonaServer &&
            swift build -c release --product MonaRTMP) >&2 || bench_die "swift build failed"
    fi
    if [[ -z ${BIN:-} ]]; then
        BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) ||
            bench_die "cannot get the release bin path; set BIN=<dir>"
    fi
    [[ -x $BIN/MonaServer ]] || bench_die "no executable $BIN/MonaServer"
    [[ -f $BIN/libMonaRTMP.so ]] || bench_die "no $BIN/libMonaRTMP.so"
fi

# --- source -----------------------------------------------------------------
ENCODE=(-c:v libx264 -preset ultrafast -tune zerolatency -b:v 6M -maxrate 6M -bufsize 12M -g 60
    -c:a aac -b:a 128k)
LAVFI=(-f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=44100)
SOURCE=$HERE/bin/source.flv
if ((!LIVE_ENCODE)) && [[ ! -s $SOURCE ]]; then
    echo "encoding $SOURCE once (30 s, 1280x720 30 fps, 6 Mbit/s H.264 + AAC)..." >&2
    timeout 300 ffmpeg -hide_banner -loglevel error -y "${LAVFI[@]}" -t 30 "${ENCODE[@]}" -f flv "$SOURCE.part" >&2 ||
        { rm -f "$SOURCE.part"; bench_die "encoding the source failed"; }
    mv "$SOURCE.part" "$SOURCE"
fi
if ((LIVE_ENCODE)); then
    PUB_INPUT=(-re "${LAVFI[@]}" "${ENCODE[@]}")
    PUB_DESC="ffmpeg encoding testsrc2 live (libx264 ultrafast, 6 Mbit/s)"
else
    PUB_INPUT=(-re -stream_loop -1 -i "$SOURCE" -c copy)
    PUB_DESC="ffmpeg -re -stream_loop -1 -c copy of a 6 Mbit/s 720p30 H.264+AAC FLV"
fi

# --- server folder ----------------------------------------------------------
# Copies of the binaries (a rebuild during the run changes nothing), our own ini, and applications
# that do nothing: www/main.lua and www/live/main.lua (rtmp://.../live/<name>).
MONA=$BENCH_TMP/mona
if ((OURS)); then
    "$ROOT/scripts/assemble.sh" "$BIN" "$MONA" RTMP >&2 || bench_die "scripts/assemble.sh failed"
    mkdir -p "$MONA/www/live"
    echo 'function onConnection(client) end' >"$MONA/www/main.lua"
    echo 'function onConnection(client) end' >"$MONA/www/live/main.lua"
fi

CLK_TCK=$(bench_clk_tck)
FAILED=0

# --- servers ----------------------------------------------------------------
# start_<server> PORT sets SERVER_PID (tracked), SERVER_LOG, and returns once the port accepts.
# server_pids_<server> prints the pids whose CPU and RSS are counted.

start_ours() {
    local port=$1
    cat >"$MONA/MonaServer.ini" <<EOF
; RTMP only, on loopback
RTMFP.port=0
HTTP.port=0
RTSP.port=0
[RTMP]
host=127.0.0.1
port=$port
timeout=600
EOF
    [[ -n ${WRITE_DELAY:-} ]] && echo "writeDelay=$WRITE_DELAY" >>"$MONA/MonaServer.ini"
    SERVER_LOG=$BENCH_TMP/ours.$port.log
    "$MONA/MonaServer" --ini="$MONA/MonaServer.ini" --dir="$MONA" --log=4 >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$port" "$SERVER_PID"
}

server_pids_ours() {
    echo "$SERVER_PID"
}

start_nginx() {
    local port=$1 prefix=$BENCH_TMP/nginx.$1 user=
    mkdir -p "$prefix"
    # as root the worker would drop to nobody, which cannot read the 0700 scratch folder
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
        listen 127.0.0.1:$port;
        timeout 600s;
        application live {
            live on;
        }
    }
}
EOF
    SERVER_LOG=$prefix/error.log
    nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" -g 'daemon off;' >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$port" "$SERVER_PID" || return 1
    # the worker (forked by the master once the config is read): stop it at exit too
    local pid
    for pid in $(server_pids_nginx); do
        [[ $pid == "$SERVER_PID" ]] || bench_track "$pid"
    done
}

# The master and its children (the worker).
server_pids_nginx() { bench_family "$SERVER_PID"; }

# stop_server KEY LABEL PIDS...: SIGTERM the server (nginx: the master, then any worker left).
stop_server() {
    local label=$1 pid
    shift
    if ! bench_stop "$SERVER_PID" 5; then
        echo "[$label] exited with a non-zero status after SIGTERM" >&2
    fi
    for pid; do
        bench_alive "$pid" && bench_stop "$pid" 3 || true
    done
    return 0
}

# start_publisher PORT: ffmpeg publishing rtmp://127.0.0.1:PORT/live/bench; sets PUB_PID (tracked).
start_publisher() {
    local port=$1
    PUB_LOG=$BENCH_TMP/publisher.$port.log
    ffmpeg -hide_banner -nostdin -loglevel error "${PUB_INPUT[@]}" -f flv "rtmp://127.0.0.1:$port/live/$STREAM" \
        >"$PUB_LOG" 2>&1 &
    PUB_PID=$!
    bench_track "$PUB_PID"
}

# check_stream PORT LABEL: an rtmpdump player records 3 s of the stream; ffprobe must find H.264
# and AAC in the file. Retried while the publisher comes up (up to 5 tries).
check_stream() {
    local port=$1 label=$2 file=$BENCH_TMP/check.$port.flv codecs= try
    for ((try = 1; try <= 5; try++)); do
        rm -f "$file"
        timeout -k 2 20 rtmpdump -q -v -r "rtmp://127.0.0.1:$port/live/$STREAM" -o "$file" -B 3 \
            >/dev/null 2>"$BENCH_TMP/rtmpdump.err" || true
        if [[ -s $file ]]; then
            codecs=$(timeout 15 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$file" 2>&1 |
                sort | paste -sd, -) || true
            [[ $codecs == aac,h264 ]] && break
        fi
        bench_alive "$PUB_PID" || break
        sleep 1
    done
    if [[ $codecs != aac,h264 ]]; then
        echo "[$label] rtmpdump check: expected H.264 and AAC, ffprobe found '${codecs}'" \
            "($(stat -c %s "$file" 2>/dev/null || echo 0) bytes); rtmpdump: $(tail -n 3 "$BENCH_TMP/rtmpdump.err" | tr '\n' ' ')" >&2
        bench_alive "$PUB_PID" || echo "[$label] the publisher is gone: $(tail -n 5 "$PUB_LOG" | tr '\n' ' ')" >&2
        return 1
    fi
    echo "[$label] rtmpdump check: $(stat -c %s "$file") bytes, streams $codecs" >&2
}

# Results keyed "<server>:<players>".
declare -A MBPS DELIV UTIL CPUGB RSS LUTIL OTHER
# Idle results keyed "<server>".
declare -A IDLE_BEFORE IDLE_AFTER IDLE_KIB IDLE_SETUP

# start_or_fail KEY LABEL PORT: starts that server; on failure shows its log tail, marks the run
# failed, stops what started and returns 1.
start_or_fail() {
    "start_$1" "$3" && return 0
    echo "[$2] did not come up on port $3; log tail:" >&2
    tail -n 20 "$SERVER_LOG" >&2 || true
    FAILED=1
    bench_stop "$SERVER_PID" 3 || true
    return 1
}

# run_fanout KEY LABEL: fresh server and publisher, the stream check, each player count, stop.
run_fanout() {
    local key=$1 label=$2 port pids n rc line ticks ns cpu secs bytes busy lcpu srv
    port=$(bench_free_port)
    echo "[$label] starting on 127.0.0.1:$port" >&2
    start_or_fail "$key" "$label" "$port" || return 0
    read -r -a pids <<<"$(server_pids_"$key" | tr '\n' ' ')"
    start_publisher "$port"
    if ! check_stream "$port" "$label"; then
        FAILED=1
        bench_stop "$PUB_PID" 3 || true
        stop_server "$label" "${pids[@]}"
        return 0
    fi
    for n in "${PLAYER_LIST[@]}"; do
        bench_check_idle
        echo "[$label] $n players, ${SETTLE}s settle + ${DURATION}s window (server pids ${pids[*]})" >&2
        rc=0
        line=$(timeout -k 5 $((120 + SETTLE + DURATION + 30)) \
            "$LOAD" play "$port" live "$STREAM" "$n" "$SETTLE" "$DURATION" "$PUB_PID" "${pids[@]}") || rc=$?
        echo "[$label]   $line" >&2
        ticks=$(bench_kv srv_ticks "$line" || echo -1)
        ns=$(bench_kv srv_ns "$line" || echo -1)
        bytes=$(bench_kv bytes "$line" || echo 0)
        if ((rc != 0)) || [[ $ticks == -1 || $bytes == 0 ]] || ! bench_alive "$SERVER_PID" ||
            ! bench_alive "$PUB_PID"; then
            echo "[$label]   $n players FAILED (rtmp_load exit $rc)" >&2
            FAILED=1
            MBPS[$key:$n]=FAIL
            if ! bench_alive "$SERVER_PID"; then
                echo "[$label] server died; log tail:" >&2
                tail -n 20 "$SERVER_LOG" >&2 || true
                break
            fi
            if ! bench_alive "$PUB_PID"; then
                echo "[$label] publisher died; log tail:" >&2
                tail -n 5 "$PUB_LOG" >&2 || true
                break
            fi
            continue
        fi
        secs=$(bench_kv seconds "$line")
        busy=$(bench_kv busy_ticks "$line")
        lcpu=$(bench_kv load_cpu_pct "$line")
        MBPS[$key:$n]=$(bench_kv mbit_per_s "$line")
        DELIV[$key:$n]=$(bench_kv delivered_pct "$line")
        # server CPU seconds: schedstat's nanoseconds when readable, else the ticks
        cpu=$(awk -v ns="$ns" -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN { printf "%.4f", (ns >= 0 ? ns / 1e9 : t / hz) }')
        srv=$(awk -v c="$cpu" -v s="$secs" 'BEGIN { printf "%.0f", c / s * 100 }')
        UTIL[$key:$n]=$srv
        CPUGB[$key:$n]=$(awk -v c="$cpu" -v b="$bytes" 'BEGIN { printf "%.3f", c / (b / 1e9) }')
        RSS[$key:$n]=$(awk -v k="$(bench_kv srv_rss_kb "$line")" 'BEGIN { printf "%.1f", k / 1024 }')
        LUTIL[$key:$n]=$lcpu
        OTHER[$key:$n]=$(awk -v b="$busy" -v hz="$CLK_TCK" -v s="$secs" -v srv="$srv" -v l="$lcpu" \
            'BEGIN { printf "%.0f", b / hz / s * 100 - srv - l }')
        sleep 1 # let the server drop the players before the next count
    done
    bench_stop "$PUB_PID" 3 || true
    stop_server "$label" "${pids[@]}"
}

# run_idle KEY LABEL: fresh server, IDLE connections after the connect, RSS before/after.
run_idle() {
    local key=$1 label=$2 port pids rc line
    port=$(bench_free_port)
    echo "[$label] idle: starting on 127.0.0.1:$port" >&2
    start_or_fail "$key" "$label" "$port" || return 0
    read -r -a pids <<<"$(server_pids_"$key" | tr '\n' ' ')"
    echo "[$label] idle: $IDLE connections (handshake + connect), RSS 2 s after the last one" >&2
    rc=0
    line=$(timeout -k 5 $((2 * 120 + 30)) "$LOAD" idle "$port" live "$IDLE" 2 "${pids[@]}" 2>"$BENCH_TMP/idle.err") || rc=$?
    echo "[$label]   $line" >&2
    if ((rc != 0)) || ! bench_alive "$SERVER_PID" || [[ -z $(bench_kv rss_per_conn_bytes "$line" || true) ]]; then
        echo "[$label] idle FAILED (rtmp_load exit $rc): $(grep -v '^ready$' "$BENCH_TMP/idle.err" | tail -n 3)" >&2
        tail -n 10 "$SERVER_LOG" >&2 || true
        FAILED=1
        IDLE_KIB[$key]=FAIL
    else
        IDLE_BEFORE[$key]=$(awk -v k="$(bench_kv rss_before_kb "$line")" 'BEGIN { printf "%.1f", k / 1024 }')
        IDLE_AFTER[$key]=$(awk -v k="$(bench_kv rss_after_kb "$line")" 'BEGIN { printf "%.1f", k / 1024 }')
        IDLE_KIB[$key]=$(awk -v b="$(bench_kv rss_per_conn_bytes "$line")" 'BEGIN { printf "%.1f", b / 1024 }')
        IDLE_SETUP[$key]=$(bench_kv setup_s "$line")
    fi
    stop_server "$label" "${pids[@]}"
}

((OURS)) && run_fanout ours MonaServer
((PEER)) && run_fanout nginx nginx-rtmp
if ((IDLE > 0)); then
    ((OURS)) && run_idle ours MonaServer
    ((PEER)) && run_idle nginx nginx-rtmp
fi

# --- report -----------------------------------------------------------------
NGINX_VERSION=$(nginx -v 2>&1 | sed 's/^nginx version: //')
RTMP_VERSION=$(dpkg-query -W -f '${Version}' libnginx-mod-rtmp 2>/dev/null || echo '?')
echo
echo "rtmp-fanout: 1 publisher ($PUB_DESC), N players (rtmp_load), ${SETTLE}s settle + ${DURATION}s window," \
    "127.0.0.1, $(nproc) CPUs; peer $NGINX_VERSION + nginx-rtmp-module $RTMP_VERSION (1 worker, live on)"
fmt='%-7s %-18s %8s %7s %9s %9s %8s %10s %7s\n'
printf "$fmt" players server Mbit/s deliv% srv_cpu% cpu_s/GB rss_MiB load_cpu% other%
for n in "${PLAYER_LIST[@]}"; do
    if ((OURS)); then
        printf "$fmt" "$n" "MonaServer (ours)" "${MBPS[ours:$n]:-FAIL}" "${DELIV[ours:$n]:--}" "${UTIL[ours:$n]:--}" \
            "${CPUGB[ours:$n]:--}" "${RSS[ours:$n]:--}" "${LUTIL[ours:$n]:--}" "${OTHER[ours:$n]:--}"
    fi
    printf "$fmt" "$n" "nginx-rtmp (peer)" "${MBPS[nginx:$n]:-FAIL}" "${DELIV[nginx:$n]:--}" "${UTIL[nginx:$n]:--}" \
        "${CPUGB[nginx:$n]:--}" "${RSS[nginx:$n]:--}" "${LUTIL[nginx:$n]:--}" "${OTHER[nginx:$n]:--}"
    if ((OURS)); then
        printf "$fmt" "$n" "ratio ours/nginx" "$(bench_ratio "${MBPS[ours:$n]:-}" "${MBPS[nginx:$n]:-}")" "" \
            "$(bench_ratio "${UTIL[ours:$n]:-}" "${UTIL[nginx:$n]:-}")" \
            "$(bench_ratio "${CPUGB[ours:$n]:-}" "${CPUGB[nginx:$n]:-}")" \
            "$(bench_ratio "${RSS[ours:$n]:-}" "${RSS[nginx:$n]:-}")" "" ""
    fi
done
echo "Mbit/s: delivered to all players together; deliv%: of players x the publisher's rate (near 100: every player keeps up)."
echo "cpu_s/GB: server CPU seconds (all threads' on-CPU time from schedstat; nginx: master + worker) per 10^9 bytes delivered: lower is better."
echo "rss_MiB: server VmRSS at the end of the window. other%: CPU of everything else (publisher included; 100 = one core)."
if ((IDLE > 0)); then
    echo
    echo "idle: $IDLE RTMP connections after handshake + connect, VmRSS 2 s after the last one"
    fmt='%-18s %15s %14s %9s %8s\n'
    printf "$fmt" server rss_before_MiB rss_after_MiB KiB/conn setup_s
    ((OURS)) && printf "$fmt" "MonaServer (ours)" "${IDLE_BEFORE[ours]:--}" "${IDLE_AFTER[ours]:--}" \
        "${IDLE_KIB[ours]:-FAIL}" "${IDLE_SETUP[ours]:--}"
    printf "$fmt" "nginx-rtmp (peer)" "${IDLE_BEFORE[nginx]:--}" "${IDLE_AFTER[nginx]:--}" \
        "${IDLE_KIB[nginx]:-FAIL}" "${IDLE_SETUP[nginx]:--}"
    ((OURS)) && printf "$fmt" "ratio ours/nginx" "" "" "$(bench_ratio "${IDLE_KIB[ours]:-}" "${IDLE_KIB[nginx]:-}")" ""
fi
echo
echo "targets (not asserted): cpu_s/GB ours/nginx <= $CPU_TARGET; KiB per idle connection ours <= nginx-rtmp's."
((OURS)) || echo "(--peer-only: ours not run, no ratios)"
exit "$FAILED"
