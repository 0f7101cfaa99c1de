#!/usr/bin/env bash
# bench/websocket/run.sh: Lua RPC over WebSocket (ours), with the same calls over HTTP keep-alive
# through our HTTP plugin as the reference, then the memory of idle WebSocket connections.
# There is no packaged peer that speaks MonaServer's Lua-over-WebSocket, so the reference is our
# own HTTP plugin: the same Lua method, client:echo(n, "payload"), on the same port, same process.
#
# Usage: bench/websocket/run.sh [options]
#   --no-build                 do not run swift build (binaries must already exist)
#   -c, --connections "A B"    connection counts            (env CONNS, default "1 64 1000")
#   -d, --seconds S            load duration per run, s     (env DURATION, default 5)
#   -i, --idle N               idle WebSocket connections for the RSS figure
#                              (env IDLE, default 10000; 0 skips that part)
#   -h, --help
# Env: BIN=<dir>  folder holding MonaServer, libMonaHTTP.so and libMonaWebSocket.so; implies
#      --no-build. Without it the folder is `swift build -c release --show-bin-path`.
#
# Load (bin/ws_load, C, one thread, epoll): N connections, one call in flight each (ping-pong).
#   WebSocket: RFC 6455 upgrade, then masked text frames ["echo",<n>,"payload"], each answered
#              [<n>,"payload"] in a text frame.
#   HTTP GET:  GET /echo?<n>&payload (keep-alive), each answered 200 with the body [<n>,"payload"].
#              The query changes with each request and the HTTP plugin keeps one client per path +
#              query (MonaServer 1.x): each request also closes a client and opens one (onConnection).
#   HTTP POST: POST / with the WebSocket message as a JSON body (keep-alive), answered as GET; one
#              client per connection, like WebSocket: the closest HTTP equivalent.
# Every answer is checked. For each count it prints round trips/s, p50/p99 latency, server CPU per
# round trip and per 10k messages (utime+stime of all server threads over the window), server and
# load-generator CPU %, the CPU % of everything else on the machine meanwhile (other%: near 0, or
# the row is noisy), and the ratios WebSocket/HTTP GET and WebSocket/HTTP POST. Then, on a fresh
# server, it opens IDLE upgraded WebSocket connections that send nothing and prints
# (VmRSS after - VmRSS before) / IDLE; afterwards one checked call on each proves none was closed. The open-file limit is raised
# (ulimit -n) for the server and the load generator. Exit status is non-zero if any run failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

CONNS=${CONNS:-"1 64 1000"}
DURATION=${DURATION:-5}
IDLE=${IDLE:-10000}
BUILD=1
[[ -n ${BIN:-} ]] && BUILD=0
CPU_TARGET_US=25     # server CPU per WebSocket round trip
RSS_TARGET_KIB=12    # RSS per idle WebSocket connection

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    -c | --connections) CONNS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -i | --idle) IDLE=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
read -r -a CONN_LIST <<<"$CONNS"
((${#CONN_LIST[@]})) || bench_die "no connection count given"
MAX_CONNS=0
for c in "${CONN_LIST[@]}"; do
    [[ $c =~ ^[0-9]+$ && $c -ge 1 && $c -le 20000 ]] || bench_die "connection counts must be integers in [1, 20000]: $CONNS"
    ((c > MAX_CONNS)) && MAX_CONNS=$c
done
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || bench_die "seconds must be a number: $DURATION"
awk -v d="$DURATION" 'BEGIN { exit !(d > 0 && d <= 600) }' || bench_die "seconds must be in (0, 600]: $DURATION"
[[ $IDLE =~ ^[0-9]+$ && $IDLE -le 20000 ]] || bench_die "idle connections must be an integer in [0, 20000]: $IDLE"
command -v curl >/dev/null || bench_die "no curl (apt-get install -y curl)"

# The server and the load generator each hold one descriptor per connection, plus a few.
NEED_FDS=$(( (IDLE > MAX_CONNS ? IDLE : MAX_CONNS) + 256 ))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < NEED_FDS)); then
        ulimit -Hn "$NEED_FDS" 2>/dev/null ||
            bench_die "need $NEED_FDS open files (ulimit -n), the hard limit is $hard; run as root or lower -i/-c"
    fi
    ulimit -n "$NEED_FDS" || bench_die "cannot raise ulimit -n to $NEED_FDS"
fi

bench_init

# --- build ------------------------------------------------------------------
mkdir -p "$HERE/bin"
cc -O2 -Wall -Wextra -o "$HERE/bin/ws_load" "$HERE/ws_load.c" || bench_die "cc ws_load.c failed"
if ((BUILD)); then
    echo "building MonaServer + MonaHTTP + MonaWebSocket (release)..." >&2
    (cd "$ROOT" && swift build -c release --product MonaServer && swift build -c release --product MonaHTTP &&
        swift build -c release --product MonaWebSocket) >&2 || bench_die "swift build failed"
fi
if [[ -z ${BIN:-} ]]; then
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) ||
        bench_die "cannot get the release bin path; set BIN=<dir>"
fi
for f in MonaServer libMonaHTTP.so libMonaWebSocket.so; do
    [[ -f $BIN/$f ]] || bench_die "no $BIN/$f"
done

# --- server folder ----------------------------------------------------------
# Copies of the binaries (a rebuild during the run changes nothing): MonaServer, the HTTP and
# WebSocket plugins; our own ini and www/main.lua.
MONA=$BENCH_TMP/mona
"$ROOT/scripts/assemble.sh" "$BIN" "$MONA" WebSocket >&2 || bench_die "scripts/assemble.sh failed"
cat >"$MONA/www/main.lua" <<'EOF'
function onConnection(client)
	function client:echo(...) return ... end
end
EOF

CLK_TCK=$(bench_clk_tck)
FAILED=0
LOAD=$HERE/bin/ws_load

# start_server PORT: a fresh MonaServer on 127.0.0.1:PORT (HTTP, WebSocket on the same port);
# sets SERVER_PID (tracked) and SERVER_LOG, returns once the port accepts connections.
# WebSocket.timeout is far above the idle measure: no ping, no idle close meanwhile.
start_server() {
    local port=$1
    cat >"$MONA/MonaServer.ini" <<EOF
; HTTP + WebSocket only, on loopback
RTMFP.port=0
RTMP.port=0
RTSP.port=0
[HTTP]
host=127.0.0.1
port=$port
[WebSocket]
timeout=3600
EOF
    SERVER_LOG=$BENCH_TMP/server.$port.log
    "$MONA/MonaServer" --ini="$MONA/MonaServer.ini" --dir="$MONA" --log=4 >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    if ! bench_wait_port "$port" "$SERVER_PID"; then
        echo "bench: MonaServer did not come up on port $port; log tail:" >&2
        tail -n 20 "$SERVER_LOG" >&2 || true
        return 1
    fi
}

stop_server() {
    if ! bench_stop "$SERVER_PID" 5; then
        echo "bench: MonaServer exited with a non-zero status after SIGTERM" >&2
    fi
}

rss_kb() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# check_http PORT: a GET /echo?7&payload and a POST / of ["echo",7,"payload"] with curl must each
# answer 200 and exactly [7,"payload"].
check_http() {
    local port=$1 get post
    get=$(curl -s -m 5 -w '\n%{http_code}' "http://127.0.0.1:$port/echo?7&payload") || get="curl failed"
    post=$(curl -s -m 5 -w '\n%{http_code}' -H 'Content-Type: application/json' --data '["echo",7,"payload"]' \
        "http://127.0.0.1:$port/") || post="curl failed"
    if [[ $get != $'[7,"payload"]\n200' || $post != $'[7,"payload"]\n200' ]]; then
        echo "bench: GET /echo?7&payload answered: $get; POST / answered: $post" \
            "(expected [7,\"payload\"] and 200)" >&2
        return 1
    fi
}

PROTOS=(ws get post)
declare -A LABEL=([ws]=WebSocket [get]="HTTP GET" [post]="HTTP POST")

# --- load: WebSocket vs HTTP ------------------------------------------------
declare -A RT P50 P99 CPU CPU10K UTIL LUTIL OTHER

PORT=$(bench_free_port)
echo "[load] MonaServer on 127.0.0.1:$PORT" >&2
start_server "$PORT" || bench_die "server did not start"
check_http "$PORT" || { FAILED=1; bench_die "check request failed"; }
bench_check_idle

for conns in "${CONN_LIST[@]}"; do
    for proto in "${PROTOS[@]}"; do
        label=${LABEL[$proto]}
        echo "[load] $label: $conns connections for ${DURATION}s" >&2
        rc=0
        line=$("$LOAD" "$proto" "$PORT" "$conns" "$DURATION" "$SERVER_PID") || rc=$?
        echo "[load]   $line" >&2
        rt=$(bench_kv round_trips "$line" || echo 0)
        ticks=$(bench_kv srv_ticks "$line" || echo -1)
        if ((rc != 0)) || [[ $ticks == -1 || $rt == 0 ]] || ! bench_alive "$SERVER_PID"; then
            echo "[load]   $label $conns FAILED (ws_load exit $rc)" >&2
            FAILED=1
            RT[$proto:$conns]=FAIL
            if ! bench_alive "$SERVER_PID"; then
                echo "[load] server died; log tail:" >&2
                tail -n 20 "$SERVER_LOG" >&2 || true
                break 2
            fi
            continue
        fi
        secs=$(bench_kv seconds "$line")
        RT[$proto:$conns]=$(bench_kv rt_per_s "$line")
        P50[$proto:$conns]=$(bench_kv p50_us "$line")
        P99[$proto:$conns]=$(bench_kv p99_us "$line")
        LUTIL[$proto:$conns]=$(bench_kv load_cpu_pct "$line")
        OTHER[$proto:$conns]=$(awk -v b="$(bench_kv busy_ticks "$line")" -v t="$ticks" -v l="${LUTIL[$proto:$conns]}" \
            -v hz="$CLK_TCK" -v s="$secs" 'BEGIN { o = (b - t) / hz / s * 100 - l; printf "%.0f", (b < 0 || s <= 0 ? -1 : (o < 0 ? 0 : o)) }')
        CPU[$proto:$conns]=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$rt" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        CPU10K[$proto:$conns]=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$rt" 'BEGIN { printf "%.3f", t / hz * 1e4 / n }')
        UTIL[$proto:$conns]=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? t / hz / s * 100 : 0) }')
    done
done
if bench_alive "$SERVER_PID" && ! check_http "$PORT"; then
    echo "bench: check request after the load failed" >&2
    FAILED=1
fi
stop_server

# --- idle WebSocket connections: RSS ------------------------------------------
RSS_BEFORE= RSS_AFTER= IDLE_FDS= IDLE_LINE= IDLE_SETUP=
if ((IDLE > 0)); then
    PORT=$(bench_free_port)
    echo "[idle] fresh MonaServer on 127.0.0.1:$PORT" >&2
    if start_server "$PORT" && check_http "$PORT"; then
        # warm-up: one WebSocket client making calls for a moment (loads what the first client needs)
        line=$("$LOAD" ws "$PORT" 1 0.3 "$SERVER_PID") || { echo "[idle] warm-up failed: $line" >&2; FAILED=1; }
        sleep 1
        RSS_BEFORE=$(rss_kb "$SERVER_PID")
        echo "[idle] VmRSS before: $RSS_BEFORE kB; opening $IDLE idle WebSocket connections" >&2
        coproc IDLE_LOAD { exec "$LOAD" idle "$PORT" "$IDLE" 300; }
        idle_pid=$IDLE_LOAD_PID
        idle_out=${IDLE_LOAD[0]} idle_in=${IDLE_LOAD[1]}
        bench_track "$idle_pid"
        ready=
        read -r -t 120 -u "$idle_out" ready || true
        if [[ $ready == ready* ]]; then
            IDLE_SETUP=$(bench_kv setup_s "$ready")
            sleep 2 # let the server settle
            RSS_AFTER=$(rss_kb "$SERVER_PID")
            IDLE_FDS=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
            echo "[idle] VmRSS after: $RSS_AFTER kB, server fds: $IDLE_FDS; checking every connection" >&2
            echo go >&"$idle_in" || true
            read -r -t 120 -u "$idle_out" IDLE_LINE || true
        else
            echo "[idle] the load generator did not report ready: '$ready'" >&2
        fi
        # it exits by itself once its line is out (closing 10k sockets takes a moment): wait, bounded
        for ((i = 0; i < 200; i++)); do
            bench_alive "$idle_pid" || break
            sleep 0.05
        done
        rc=0
        bench_stop "$idle_pid" 10 || rc=$?
        echo "[idle]   ${IDLE_LINE:-no result line}" >&2
        if ((rc != 0)) || [[ -z $IDLE_LINE || -z $RSS_AFTER ]]; then
            echo "[idle] FAILED (ws_load idle exit $rc)" >&2
            FAILED=1
            RSS_AFTER=
        fi
        bench_alive "$SERVER_PID" || { echo "[idle] server died; log tail:" >&2; tail -n 20 "$SERVER_LOG" >&2; FAILED=1; }
        # the load generator is gone: let the server close its side of the connections (bounded, 30 s)
        for ((i = 0; i < 300; i++)); do
            bench_alive "$SERVER_PID" || break
            (($(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) < 256)) && break
            sleep 0.1
        done
    else
        FAILED=1
    fi
    stop_server
fi

# --- report -----------------------------------------------------------------
echo
echo "websocket: Lua client:echo(n, \"payload\") ping-pong, ${DURATION}s per run, 127.0.0.1, $(nproc) CPUs"
echo "reference: the same calls over HTTP/1.1 keep-alive through our HTTP plugin (no packaged peer speaks MonaServer's"
echo "Lua over WebSocket): GET /echo?n&payload (a new client per request: the query changes) and POST / [\"echo\",n,\"payload\"]"
fmt='%-6s %-16s %10s %8s %9s %10s %14s %9s %10s %7s\n'
printf "$fmt" conns transport rt/s p50_us p99_us cpu_us/rt cpu_s/10k_msg srv_cpu% load_cpu% other%
for conns in "${CONN_LIST[@]}"; do
    for proto in "${PROTOS[@]}"; do
        label=${LABEL[$proto]}
        if [[ ${RT[$proto:$conns]:-FAIL} == FAIL ]]; then
            printf "$fmt" "$conns" "$label" FAIL - - - - - - -
        else
            printf "$fmt" "$conns" "$label" "${RT[$proto:$conns]}" "${P50[$proto:$conns]}" "${P99[$proto:$conns]}" \
                "${CPU[$proto:$conns]}" "${CPU10K[$proto:$conns]}" "${UTIL[$proto:$conns]}" "${LUTIL[$proto:$conns]}" "${OTHER[$proto:$conns]}"
        fi
    done
    for proto in get post; do
        printf "$fmt" "$conns" "ratio ws/${proto^^}" "$(bench_ratio "${RT[ws:$conns]:-}" "${RT[$proto:$conns]:-}")" \
            "" "" "$(bench_ratio "${CPU[ws:$conns]:-}" "${CPU[$proto:$conns]:-}")" "" "" "" ""
    done
done
echo "rt/s: higher is better; cpu_us/rt and cpu_s/10k_msg (server CPU, CLK_TCK=$CLK_TCK; a message = one call and"
echo "its answer): lower is better; load_cpu%: the load generator's own CPU (100 = one core); other%: CPU"
echo "used by anything else on the machine during the window (far from 0: another job ran, the row is noisy)."
for conns in "${CONN_LIST[@]}"; do
    v=${CPU[ws:$conns]:-}
    [[ -n $v ]] || continue
    awk -v c="$conns" -v v="$v" -v t="$CPU_TARGET_US" 'BEGIN {
        printf "target: server CPU <= %d us per WebSocket round trip; %s connections: %.2f us (%s)\n",
            t, c, v, (v <= t ? "met" : "missed") }'
done
if ((IDLE > 0)); then
    if [[ -n $RSS_AFTER ]]; then
        awk -v b="$RSS_BEFORE" -v a="$RSS_AFTER" -v n="$IDLE" -v f="$IDLE_FDS" -v s="$IDLE_SETUP" -v t="$RSS_TARGET_KIB" 'BEGIN {
            per = (a - b) / n
            printf "idle: %d upgraded WebSocket connections (set up in %s s, server fds %d): VmRSS %.1f -> %.1f MiB\n",
                n, s, f, b / 1024, a / 1024
            printf "target: RSS <= %d KiB per idle WebSocket; measured %.2f KiB (%s)\n", t, per, (per <= t ? "met" : "missed") }'
    else
        echo "idle: FAILED (no RSS figure)"
    fi
fi
exit "$FAILED"
