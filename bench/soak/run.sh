#!/usr/bin/env bash
# bench/soak/run.sh: a long run of connections churning through HTTP, WebSocket and RTMP at once,
# MonaServer's RSS sampled all along: does memory stay flat, and come back once the load stops?
# No packaged peer serves MonaServer's Lua over these three protocols: the figure is ours alone.
#
# Usage: bench/soak/run.sh [options]
#   --no-build            do not run swift build (binaries must already exist)
#   -c, --connections N   concurrent workers, each one connection at a time  (env CONNS, default 1000)
#   -d, --seconds S       length of the load                                 (env DURATION, default 3600)
#   -i, --interval S      seconds between RSS samples                        (env INTERVAL, default 10)
#   -p, --pause MS        a worker's longest rest between exchanges, ms      (env PAUSE_MS, default 50)
#   -h, --help
# Env: BIN=<dir>  folder holding MonaServer, libMonaHTTP.so, libMonaWebSocket.so, libMonaRTMP.so.
# Needs: python3 (asyncio), curl.
#
# The server is laid out by scripts/assemble.sh with every plugin and the repository's www/ (plus a
# hello.txt); soak_load.py runs N workers, each looping over: an HTTP keep-alive connection with two
# GETs, a WebSocket upgrade with one client:echo call and a close, an RTMP handshake with a connect;
# then it closes and starts again. VmRSS is sampled every INTERVAL s into rss.csv (kept in the
# scratch folder, printed at the end), and 20 s after the load ends. It prints the exchanges made,
# the RSS at start, its minimum, maximum and last value under load, and after the rest.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

CONNS=${CONNS:-1000}
DURATION=${DURATION:-3600}
INTERVAL=${INTERVAL:-10}
PAUSE_MS=${PAUSE_MS:-50}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -c | --connections) CONNS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -i | --interval) INTERVAL=${2:?}; shift ;;
    -p | --pause) PAUSE_MS=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
for value in "$CONNS" "$DURATION" "$INTERVAL" "$PAUSE_MS"; do
    [[ $value =~ ^[0-9]+$ ]] && ((value > 0)) || bench_die "counts and durations are positive integers: $value"
done
ulimit -n "$(ulimit -Hn)"

bench_init
if ((BUILD)); then
    (cd "$ROOT" && swift build -c release) >&2 || bench_die "swift build failed"
fi
BIN=${BIN:-$(cd "$ROOT" && swift build -c release --show-bin-path)}
DIR=$BENCH_TMP/server
"$ROOT/scripts/assemble.sh" "$BIN" "$DIR" >&2
echo hello >"$DIR/www/hello.txt"
HTTP_PORT=$(bench_free_port)
RTMP_PORT=$(bench_free_port)
cat >>"$DIR/MonaServer.ini" <<INI

[HTTP]
host = 127.0.0.1
port = $HTTP_PORT
[RTMP]
host = 127.0.0.1
port = $RTMP_PORT
[RTMFP]
port = 0
[RTSP]
port = 0
INI
"$DIR/MonaServer" --ini="$DIR/MonaServer.ini" --dir="$DIR" --log=4 >"$BENCH_TMP/server.log" 2>&1 &
PID=$!
bench_track "$PID"
bench_wait_port "$HTTP_PORT" "$PID" && bench_wait_port "$RTMP_PORT" "$PID" ||
    { tail "$BENCH_TMP/server.log" >&2; bench_die "the server did not start"; }
curl -fsS "http://127.0.0.1:$HTTP_PORT/hello.txt" -o /dev/null || bench_die "warm-up request failed"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }
START=$(rss)
echo "seconds,rss_kb" >"$BENCH_TMP/rss.csv"
nice -n 5 python3 "$HERE/soak_load.py" "$HTTP_PORT" "$RTMP_PORT" "$CONNS" "$DURATION" "$PAUSE_MS" >"$BENCH_TMP/load.out" 2>&1 &
LOAD=$!
bench_track "$LOAD"
T0=$SECONDS
while bench_alive "$LOAD"; do
    bench_alive "$PID" || bench_die "the server stopped under load: $(tail -5 "$BENCH_TMP/server.log")"
    echo "$((SECONDS - T0)),$(rss)" >>"$BENCH_TMP/rss.csv"
    sleep "$INTERVAL"
done
wait "$LOAD" || FAILED=1
sleep 20
AFTER=$(rss)
echo "after,$AFTER" >>"$BENCH_TMP/rss.csv"

cat "$BENCH_TMP/rss.csv"
awk -F, -v start="$START" -v after="$AFTER" 'NR > 1 && $1 != "after" { n++; v = $2; if (min == "" || v < min) min = v; if (v > max) max = v; last = v }
    END { printf "\nsoak: rss_start_MiB=%.1f under_load_min_MiB=%.1f max_MiB=%.1f last_MiB=%.1f after_20s_MiB=%.1f samples=%d\n",
          start / 1024, min / 1024, max / 1024, last / 1024, after / 1024, n }' "$BENCH_TMP/rss.csv"
echo "exchanges: $(cat "$BENCH_TMP/load.out")"
bench_stop "$PID" 10 || true
exit "${FAILED:-0}"
