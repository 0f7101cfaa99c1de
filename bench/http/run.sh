#!/usr/bin/env bash
# bench/http/run.sh: HTTP/1.1 keep-alive through MonaServer's HTTP plugin (ours) vs nginx (peer),
# same wrk load, one server at a time, two cases:
#   static  GET /1k.bin: a 1024-byte file (nginx: 1 worker, sendfile on, access_log off)
#   rpc     GET /info: a Lua client method returning a small table, sent as JSON
#           (nginx: the same JSON text built in Lua by content_by_lua_block, libnginx-mod-http-lua)
#
# Usage: bench/http/run.sh [options]
#   --no-build            do not run swift build (binaries must already exist)
#   --peer-only           benchmark only nginx (checks the plumbing)
#   -c, --connections N   wrk connections                 (env CONNS, default 50)
#   -t, --threads N       wrk threads                     (env THREADS, default 1)
#   -d, --seconds S       load duration per case, seconds (env DURATION, default 10)
#   -h, --help
# Env: BIN=<dir>  folder holding MonaServer and libMonaHTTP.so; implies --no-build.
#      Without it the folder is `swift build -c release --show-bin-path`.
# Needs: wrk, curl, nginx (apt-get install -y nginx-light wrk curl) and nginx's Lua module:
#      Debian's libnginx-mod-http-lua if installed; otherwise (it conflicts with libluajit-5.1-dev,
#      which our build needs) its packages are unpacked into bin/nginx-lua/ with apt-get download.
#
# Each case starts a fresh server, checks one response with curl (status 200, expected body),
# runs `wrk -t1 -c50 -d<S>s --latency`, reads the server's CPU time (utime+stime of all its
# threads, /proc/<pid>/stat; for nginx master + worker summed) just before and just after, then
# its VmRSS (nginx: master + worker), and stops it. It prints req/s, p99 latency, server CPU
# seconds per 10k requests and RSS, then the ratios ours/nginx. A run fails (exit 1) if a server
# does not start, a check response is wrong, or wrk reports a non-2xx/3xx response or a socket error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
DURATION=${DURATION:-10}
BUILD=1
OURS=1
[[ -n ${BIN:-} ]] && BUILD=0
NGINX_MODULES=${NGINX_MODULES:-/usr/lib/nginx/modules}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    --peer-only) OURS=0 ;;
    -c | --connections) CONNS=${2:?}; shift ;;
    -t | --threads) THREADS=${2:?}; shift ;;
    -d | --seconds) DURATION=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $CONNS =~ ^[0-9]+$ && $CONNS -gt 0 ]] || bench_die "connections must be a positive integer: $CONNS"
[[ $THREADS =~ ^[0-9]+$ && $THREADS -gt 0 && $THREADS -le $CONNS ]] ||
    bench_die "threads must be a positive integer, at most the connections: $THREADS"
[[ $DURATION =~ ^[0-9]+$ && $DURATION -gt 0 && $DURATION -le 600 ]] ||
    bench_die "seconds must be an integer in [1, 600]: $DURATION"

for tool in wrk nginx curl timeout; do
    command -v "$tool" >/dev/null || bench_die "no $tool (apt-get install -y nginx-light libnginx-mod-http-lua wrk curl)"
done
# The Lua module links PCRE (libpcre3), which nginx itself no longer needs (it uses PCRE2).
[[ -e /usr/lib/x86_64-linux-gnu/libpcre.so.3 || -n $(ldconfig -p 2>/dev/null | grep 'libpcre.so.3 ') ]] ||
    bench_die "nginx's Lua module needs libpcre3 (apt-get install -y libpcre3)"

# nginx's Lua module. Debian's libnginx-mod-http-lua needs OpenResty's LuaJIT (libluajit2-5.1-2),
# which conflicts with libluajit-5.1-dev, which our build needs: installing one removes the other.
# When the module is not installed, its packages are unpacked (apt-get download + dpkg-deb -x, no
# install) into bin/nginx-lua/, and only nginx runs with that LuaJIT (LD_LIBRARY_PATH).
NGINX_LUA_PATH=
NGINX_LD_PATH=
if [[ ! -f $NGINX_MODULES/ngx_http_lua_module.so || ! -f /usr/share/lua/5.1/resty/core.lua ]]; then
    LUA_ROOT=$HERE/bin/nginx-lua
    if [[ ! -f $LUA_ROOT/usr/lib/nginx/modules/ngx_http_lua_module.so ]]; then
        echo "bench: libnginx-mod-http-lua is not installed (it conflicts with libluajit-5.1-dev);" \
            "unpacking it with OpenResty's LuaJIT into $LUA_ROOT (no install)" >&2
        rm -rf "$LUA_ROOT"
        mkdir -p "$LUA_ROOT/debs"
        (cd "$LUA_ROOT/debs" && apt-get download -q libnginx-mod-http-lua libnginx-mod-http-ndk \
            libluajit2-5.1-2 lua-resty-core lua-resty-lrucache) >&2 ||
            bench_die "apt-get download of the nginx Lua module failed"
        for deb in "$LUA_ROOT"/debs/*.deb; do
            dpkg-deb -x "$deb" "$LUA_ROOT" || bench_die "dpkg-deb -x $deb failed"
        done
    fi
    NGINX_MODULES=$LUA_ROOT/usr/lib/nginx/modules
    NGINX_LD_PATH=$(dirname "$(find "$LUA_ROOT/usr/lib" -name 'libluajit-5.1.so.2' | head -n 1)")
    NGINX_LUA_PATH="lua_package_path \"$LUA_ROOT/usr/share/lua/5.1/?.lua;;\";"
fi
for module in ndk_http_module.so ngx_http_lua_module.so; do
    [[ -f $NGINX_MODULES/$module ]] || bench_die "no $NGINX_MODULES/$module (apt-get install -y libnginx-mod-http-lua)"
done

bench_init

# --- build ------------------------------------------------------------------
if ((OURS)); then
    if ((BUILD)); then
        echo "building MonaServer + MonaHTTP (release)..." >&2
        (cd "$ROOT" && swift build -c release --product MonaServer &&
            swift build -c release --product MonaHTTP) >&2 || bench_die "swift build failed"
    fi
    if [[ -z ${BIN:-} ]]; then
        BIN=$(cd "$ROOT" && swift build -c release --show-bin-path) ||
            bench_die "cannot get the release bin path; set BIN=<dir>"
    fi
    [[ -x $BIN/MonaServer ]] || bench_die "no executable $BIN/MonaServer"
    [[ -f $BIN/libMonaHTTP.so ]] || bench_die "no $BIN/libMonaHTTP.so"
fi

# --- content ----------------------------------------------------------------
# One www/ folder for both servers: the static file, and main.lua for ours. Ours is laid out by
# scripts/assemble.sh (copies of the binaries, so a rebuild during the run changes nothing).
MONA=$BENCH_TMP/mona
WWW=$MONA/www
mkdir -p "$WWW"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
cat >"$WWW/main.lua" <<'EOF'
function onConnection(client)
	function client:info() return {name="mona", id=42, ok=true, list={1,2,3}} end
end
EOF
if ((OURS)); then
    "$ROOT/scripts/assemble.sh" "$BIN" "$MONA" HTTP >&2 || bench_die "scripts/assemble.sh failed"
    cp "$MONA/MonaServer.ini" "$BENCH_TMP/ours.ini.base"
fi

# The JSON text nginx builds for /info: an encoder walks the same table with its keys in the order
# ours wrote them (Lua's hash order: taken from ours' body once known, else this default), so both
# bodies are the same bytes; checked before the load.
KEY_ORDER='"list", "id", "name", "ok"'

CLK_TCK=$(bench_clk_tck)
FAILED=0
bench_check_idle

# --- servers ----------------------------------------------------------------
# start_<server> PORT sets SERVER_PID (tracked), SERVER_LOG, and returns once the port accepts.
# server_pids_<server> prints the pids whose CPU and RSS are counted.

start_ours() {
    local port=$1
    {
        cat "$BENCH_TMP/ours.ini.base"
        echo "HTTP.host=127.0.0.1"
        echo "HTTP.port=$port"
    } >"$MONA/MonaServer.ini"
    SERVER_LOG=$BENCH_TMP/ours.log
    "$MONA/MonaServer" --ini="$MONA/MonaServer.ini" --dir="$MONA" --log=4 >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    bench_track "$SERVER_PID"
    bench_wait_port "$port" "$SERVER_PID"
}

server_pids_ours() {
    echo "$SERVER_PID"
}

start_nginx() {
    local port=$1 prefix=$BENCH_TMP/nginx user=
    mkdir -p "$prefix/temp"
    # as root the worker would drop to nobody, which cannot read the 0700 scratch folder
    ((EUID == 0)) && user='user root root;'
    [[ -f $BENCH_TMP/rpc.expected ]] &&
        KEY_ORDER=$(grep -o '"[A-Za-z_][A-Za-z0-9_]*":' "$BENCH_TMP/rpc.expected" | tr -d ':' | paste -sd, | sed 's/,/, /g')
    cat >"$prefix/nginx.conf" <<EOF
load_module $NGINX_MODULES/ndk_http_module.so;
load_module $NGINX_MODULES/ngx_http_lua_module.so;
$user
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $prefix/temp/body;
    proxy_temp_path $prefix/temp/proxy;
    fastcgi_temp_path $prefix/temp/fastcgi;
    uwsgi_temp_path $prefix/temp/uwsgi;
    scgi_temp_path $prefix/temp/scgi;
    types { application/octet-stream bin; }
    default_type application/octet-stream;
    $NGINX_LUA_PATH
    init_by_lua_block {
        local order = { $KEY_ORDER }
        local function encode(value, out)
            local kind = type(value)
            if kind == "table" then
                if #value > 0 then
                    out[#out + 1] = "["
                    for i = 1, #value do
                        if i > 1 then out[#out + 1] = "," end
                        encode(value[i], out)
                    end
                    out[#out + 1] = "]"
                else
                    out[#out + 1] = "{"
                    local first = true
                    for _, key in ipairs(order) do
                        if value[key] ~= nil then
                            if not first then out[#out + 1] = "," end
                            first = false
                            out[#out + 1] = string.format("%q:", key)
                            encode(value[key], out)
                        end
                    end
                    out[#out + 1] = "}"
                end
            elseif kind == "string" then
                out[#out + 1] = string.format("%q", value)
            elseif kind == "number" then
                out[#out + 1] = string.format("%.14g", value)
            else
                out[#out + 1] = tostring(value)
            end
        end
        -- a list of results, as MonaServer answers a call
        function bench_json(...)
            local out = { "[" }
            for i = 1, select("#", ...) do
                if i > 1 then out[#out + 1] = "," end
                encode((select(i, ...)), out)
            end
            out[#out + 1] = "]"
            return table.concat(out)
        end
    }
    server {
        listen 127.0.0.1:$port;
        root $WWW;
        location = /info {
            default_type application/json;
            content_by_lua_block {
                ngx.print(bench_json({name="mona", id=42, ok=true, list={1,2,3}}))
            }
        }
    }
}
EOF
    SERVER_LOG=$prefix/error.log
    LD_LIBRARY_PATH=$NGINX_LD_PATH${NGINX_LD_PATH:+${LD_LIBRARY_PATH:+:}}${LD_LIBRARY_PATH:-} \
        nginx -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' >>"$SERVER_LOG" 2>&1 &
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

# Sum of bench_cpu_ticks over PIDS...
ticks_of() {
    local pid sum=0 t
    for pid; do
        t=$(bench_cpu_ticks "$pid") || return 1
        sum=$((sum + t))
    done
    echo "$sum"
}

# Sum of VmRSS (kB) over PIDS...
rss_kb_of() {
    local pid sum=0 kb
    for pid; do
        kb=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
        [[ -n $kb ]] || return 1
        sum=$((sum + kb))
    done
    echo "$sum"
}

# check_response PORT CASE LABEL [quiet]: one request with curl; status 200 and the expected body.
# For rpc, ours' body is kept in $BENCH_TMP/rpc.expected and nginx's must be the same bytes.
check_response() {
    local port=$1 case=$2 label=$3 quiet=${4:-} body=$BENCH_TMP/check.body status
    status=$(curl -s -m 5 -o "$body" -w '%{http_code}' "http://127.0.0.1:$port$(case_path "$case")") || status="curl failed"
    if [[ $status != 200 ]]; then
        echo "[$label] check request: status $status, expected 200" >&2
        return 1
    fi
    case $case in
    static)
        cmp -s "$body" "$WWW/1k.bin" || { echo "[$label] check request: body differs from 1k.bin" >&2; return 1; }
        ;;
    rpc)
        [[ -n $quiet ]] || echo "[$label] /info body ($(wc -c <"$body") B): $(cat "$body")" >&2
        if [[ ! -f $BENCH_TMP/rpc.expected ]]; then
            cp "$body" "$BENCH_TMP/rpc.expected"
        elif ! cmp -s "$body" "$BENCH_TMP/rpc.expected"; then
            echo "[$label] check request: /info body differs from ours: $(cat "$BENCH_TMP/rpc.expected")" >&2
            return 1
        fi
        ;;
    esac
}

case_path() {
    case $1 in
    static) echo /1k.bin ;;
    rpc) echo /info ;;
    esac
}

# wrk's duration "1.23ms" → milliseconds
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        else if (u != "ms") { printf "n/a"; exit }
        printf "%.2f", n }'
}

# Results keyed "<server>:<case>".
declare -A RPS P99 CPU RSS

# run_case SERVER LABEL CASE: fresh server, check, load, measure, stop.
run_case() {
    local key=$1 label=$2 case=$3 port pids t0 t1 out rc requests rate p99 errors non2xx kb after
    port=$(bench_free_port)
    echo "[$label] $case: starting on 127.0.0.1:$port" >&2
    if ! "start_$key" "$port"; then
        echo "[$label] did not come up on port $port; log tail:" >&2
        tail -n 20 "$SERVER_LOG" >&2 || true
        FAILED=1
        bench_stop "$SERVER_PID" 3 || true
        return 0
    fi
    if ! check_response "$port" "$case" "$label"; then
        FAILED=1
        bench_stop "$SERVER_PID" 3 || true
        return 0
    fi
    read -r -a pids <<<"$(server_pids_"$key" | tr '\n' ' ')"
    echo "[$label] $case: wrk -t$THREADS -c$CONNS -d${DURATION}s --latency http://127.0.0.1:$port$(case_path "$case")" \
        "(server pids ${pids[*]})" >&2
    t0=$(ticks_of "${pids[@]}") || t0=
    rc=0
    out=$(timeout -k 5 $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
        "http://127.0.0.1:$port$(case_path "$case")" 2>&1) || rc=$?
    t1=$(ticks_of "${pids[@]}") || t1=
    kb=$(rss_kb_of "${pids[@]}") || kb=
    read -r -a after <<<"$(server_pids_"$key" | tr '\n' ' ')"

    requests=$(awk '/ requests in / { print $1; exit }' <<<"$out")
    rate=$(awk '/^Requests\/sec:/ { print $2; exit }' <<<"$out")
    p99=$(awk '/Latency Distribution/ { d = 1 } d && $1 == "99%" { print $2; exit }' <<<"$out")
    errors=$(awk '/Socket errors:/ { print; exit }' <<<"$out")
    non2xx=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2; exit }' <<<"$out")
    echo "[$label]   $(awk '/ requests in / { sub(/^ +/, ""); print; exit }' <<<"$out")" >&2

    local why=()
    ((rc == 0)) || why+=("wrk exit status $rc")
    [[ -n $requests && $requests -gt 0 && -n $rate && -n $p99 ]] || why+=("no figures in wrk's output")
    [[ -z $errors ]] || why+=("${errors# *}")
    [[ -z $non2xx || $non2xx == 0 ]] || why+=("$non2xx non-2xx/3xx responses")
    [[ -n $t0 && -n $t1 && -n $kb ]] || why+=("a server process was gone after the load")
    [[ ${after[*]} == "${pids[*]}" ]] || why+=("server processes changed during the load: ${pids[*]} -> ${after[*]}")
    bench_alive "$SERVER_PID" || why+=("server died")
    if ((${#why[@]})) || ! check_response "$port" "$case" "$label" quiet; then
        ((${#why[@]})) || why+=("check request after the load failed")
        echo "[$label] $case FAILED: $(IFS=';'; echo "${why[*]}")" >&2
        echo "[$label] wrk output:" >&2
        sed 's/^/    /' <<<"$out" >&2
        echo "[$label] server log tail:" >&2
        tail -n 20 "$SERVER_LOG" >&2 || true
        FAILED=1
        RPS[$key:$case]=FAIL P99[$key:$case]=- CPU[$key:$case]=- RSS[$key:$case]=-
    else
        RPS[$key:$case]=$rate
        P99[$key:$case]=$(to_ms "$p99")
        CPU[$key:$case]=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$requests" \
            'BEGIN { printf "%.3f", t / hz * 10000 / n }')
        RSS[$key:$case]=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
    fi
    if ! bench_stop "$SERVER_PID" 5; then
        echo "[$label] exited with a non-zero status after SIGTERM" >&2
    fi
    local pid
    for pid in "${pids[@]}"; do
        bench_alive "$pid" && bench_stop "$pid" 3 || true
    done
    return 0
}

CASES=(static rpc)
for case in "${CASES[@]}"; do
    ((OURS)) && run_case ours MonaServer "$case"
    run_case nginx nginx "$case"
done

# --- report -----------------------------------------------------------------
echo
echo "http: wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, keep-alive, 127.0.0.1, $(nproc) CPUs;" \
    "peer $(nginx -v 2>&1 | sed 's/^nginx version: //') (1 worker, sendfile, access_log off, lua-nginx-module)"
fmt='%-7s %-18s %11s %9s %14s %9s\n'
printf "$fmt" case server req/s p99_ms cpu_s/10k_req rss_MiB
for case in "${CASES[@]}"; do
    if ((OURS)); then
        printf "$fmt" "$case" "MonaServer (ours)" "${RPS[ours:$case]:-FAIL}" "${P99[ours:$case]:--}" \
            "${CPU[ours:$case]:--}" "${RSS[ours:$case]:--}"
    fi
    printf "$fmt" "$case" "nginx (peer)" "${RPS[nginx:$case]:-FAIL}" "${P99[nginx:$case]:--}" \
        "${CPU[nginx:$case]:--}" "${RSS[nginx:$case]:--}"
    if ((OURS)); then
        printf "$fmt" "$case" "ratio ours/nginx" "$(bench_ratio "${RPS[ours:$case]:-}" "${RPS[nginx:$case]:-}")" \
            "$(bench_ratio "${P99[ours:$case]:-}" "${P99[nginx:$case]:-}")" \
            "$(bench_ratio "${CPU[ours:$case]:-}" "${CPU[nginx:$case]:-}")" \
            "$(bench_ratio "${RSS[ours:$case]:-}" "${RSS[nginx:$case]:-}")"
    fi
done
echo "static: GET /1k.bin (1024 B file); rpc: GET /info -> client:info() as JSON (nginx: same bytes from Lua)."
echo "req/s: higher is better; p99_ms, cpu_s/10k_req (server CPU, CLK_TCK=$CLK_TCK) and rss_MiB (after the load): lower is better."
((OURS)) || echo "(--peer-only: ours not run, no ratios)"
exit "$FAILED"
