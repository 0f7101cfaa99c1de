#!/usr/bin/env bash
# bench/lua-rpc/run.sh: remote calls into Lua through the full client-invoke path of the plugin ABI
# (plugin → host client_invoke → MVS → Lua client:add(n, 1) → MVS → plugin), over loopback TCP with
# the crpc line-protocol plugin of the tests. There is no packaged peer that runs MonaServer's Lua
# API, so this scenario prints our figures only (calls/s and server CPU per call).
#
# Usage: bench/lua-rpc/run.sh [--no-build] [-d SECONDS] [-c "1 32"]
# Env: BIN=<dir> folder holding a release MonaServer (implies --no-build).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${DURATION:-5}
CONNS=${CONNS:-"1 32"}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -d) DURATION=${2:?}; shift ;;
    -c) CONNS=${2:?}; shift ;;
    *) sed -n '2,9p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
    esac
    shift
done

bench_init
mkdir -p "$HERE/bin"
cc -O2 -Wall -Wextra -o "$HERE/bin/rpc_load" "$HERE/rpc_load.c" || bench_die "cc rpc_load.c failed"
if ((BUILD)); then
    (cd "$ROOT" && swift build -c release --product MonaServer) >&2 || bench_die "swift build failed"
fi
BIN=${BIN:-$(cd "$ROOT" && swift build -c release --show-bin-path)}
[[ -x $BIN/MonaServer ]] || bench_die "no executable $BIN/MonaServer"

DIR=$BENCH_TMP/server
mkdir -p "$DIR/www" "$DIR/plugins"
cc -O2 -shared -fPIC -I "$ROOT/Sources/PluginABI/include" "$ROOT/Tests/Fixtures/cplugins/crpc.c" \
    -o "$DIR/plugins/libcrpc.so" || bench_die "cc crpc.c failed"
printf '%s\n' 'function onConnection(client)' '	function client:add(a, b) return a + b end' 'end' >"$DIR/www/main.lua"
PORT=$(bench_free_port)
printf '%s\n' RTMFP.port=0 RTMP.port=0 HTTP.port=0 RTSP.port=0 '[plugins]' path=plugins '[rpc]' \
    library=libcrpc.so host=127.0.0.1 "port=$PORT" >"$DIR/MonaServer.ini"
"$BIN/MonaServer" --dir="$DIR" --log=3 >"$BENCH_TMP/server.log" 2>&1 &
PID=$!
bench_track "$PID"
bench_wait_port "$PORT" "$PID" || bench_die "server did not start: $(tail -5 "$BENCH_TMP/server.log")"
CLK_TCK=$(bench_clk_tck)
bench_check_idle

printf '%-12s %14s %14s %10s\n' connections calls/s cpu_us/call srv_cpu%
for conns in $CONNS; do
    t0=$(bench_cpu_ticks "$PID")
    line=$("$HERE/bin/rpc_load" "$PORT" "$conns" "$DURATION") || bench_die "load failed: $line"
    t1=$(bench_cpu_ticks "$PID")
    awk -v c="$conns" -v r="$(bench_kv calls_per_s "$line")" -v n="$(bench_kv calls "$line")" \
        -v s="$(bench_kv seconds "$line")" -v d="$((t1 - t0))" -v hz="$CLK_TCK" 'BEGIN {
        printf "%-12s %14.1f %14.2f %10.0f\n", c, r, (d / hz) * 1e6 / n, (d / hz) / s * 100 }'
done
echo "Lua RPC through client_invoke; no packaged peer runs MonaServer's Lua API (ours only)."
