# bench/lib.sh: helpers shared by the bench/*/run.sh scripts (bash only).
#
# Source it, then call bench_init once: it installs the EXIT/INT/TERM traps
# that stop every process registered with bench_track and remove the
# scratch directory ($BENCH_TMP).
#
#   bench_init                        set traps, create $BENCH_TMP
#   bench_track PID                   stop PID at exit if still running
#   bench_stop PID [SECONDS]          SIGTERM, wait (bounded), SIGKILL if needed;
#                                     returns the process' exit status
#   bench_free_port                   print a TCP port free on this host
#   bench_wait_port PORT [PID] [TRIES] [STEP]
#                                     poll-connect 127.0.0.1:PORT until it
#                                     accepts (default 100 x 0.05 s); fails
#                                     early if PID dies
#   bench_cpu_ticks PID               utime+stime of PID (all threads), in ticks
#   bench_family PID                  PID and its direct children (nginx master + worker)
#   bench_clk_tck                     ticks per second (getconf CLK_TCK)
#   bench_kv KEY LINE                 value of KEY=value in a line of key=value
#   bench_ratio A B                   A/B with 2 decimals, "n/a" if not numeric
#   bench_die MSG...                  print to stderr and exit 1
#   bench_check_idle                  warn if the machine is busy (other CPU users
#                                     make the figures meaningless)
#   bench_max_count WHAT LIMIT N...   die unless every N is an integer in [1, LIMIT];
#                                     print the largest
#   bench_check_window SECONDS SETTLE die unless SECONDS is an integer in [1, 600]
#                                     and SETTLE one in [0, 60]
#   bench_raise_nofile N              raise ulimit -n to N if it is lower (or die)
#   bench_source_flv FILE             encode the media benches' source into FILE
#                                     unless it is already there (30 s, 1280x720
#                                     30 fps, 6 Mbit/s H.264 + AAC, FLV; ffmpeg)

BENCH_PIDS=()
BENCH_TMP=

bench_die() {
    echo "bench: $*" >&2
    exit 1
}

# Still running (neither gone nor a zombie waiting to be reaped)?
bench_alive() {
    local st
    [[ -r /proc/$1/stat ]] || return 1
    { st=$(</proc/"$1"/stat); } 2>/dev/null || return 1
    st=${st##*) }
    [[ ${st%% *} != Z ]]
}

bench_track() {
    BENCH_PIDS+=("$1")
}

bench_stop() {
    local pid=$1 limit=${2:-5} i rc=0
    local tries=$((limit * 20))
    if bench_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < tries; i++)); do
            bench_alive "$pid" || break
            sleep 0.05
        done
        if bench_alive "$pid"; then
            echo "bench: pid $pid ignored SIGTERM for ${limit}s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    return "$rc"
}

bench_cleanup() {
    local pid
    trap - EXIT INT TERM
    for pid in "${BENCH_PIDS[@]}"; do
        bench_alive "$pid" && bench_stop "$pid" 3 || true
    done
    [[ -n $BENCH_TMP && -d $BENCH_TMP ]] && rm -rf -- "$BENCH_TMP"
    return 0
}

bench_init() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX") || bench_die "mktemp failed"
}

# Ports already handed out in this run, so two calls never return the same one.
BENCH_PORTS_GIVEN=" "

bench_free_port() {
    local used port hex i
    # every local port the kernel knows of, any state, IPv4 and IPv6
    used=" $(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u | tr '\n' ' ') "
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
        printf -v hex '%04X' "$port"
        if [[ $used != *" $hex "* && $BENCH_PORTS_GIVEN != *" $port "* ]]; then
            BENCH_PORTS_GIVEN+="$port "
            echo "$port"
            return 0
        fi
    done
    bench_die "no free TCP port found"
}

bench_wait_port() {
    local port=$1 pid=${2:-} tries=${3:-100} step=${4:-0.05} i
    for ((i = 0; i < tries; i++)); do
        if [[ -n $pid ]] && ! bench_alive "$pid"; then
            return 1
        fi
        # bash's /dev/tcp: connect, then close at once
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep "$step"
    done
    return 1
}

bench_cpu_ticks() {
    local st f
    st=$(</proc/"$1"/stat) || return 1
    # the command name may hold spaces: cut after its closing parenthesis;
    # fields then start at "state" (field 3), so utime (14) is f[11], stime (15) f[12]
    st=${st##*) }
    read -r -a f <<<"$st"
    echo $((f[11] + f[12]))
}

bench_clk_tck() {
    getconf CLK_TCK
}

bench_kv() {
    local key=$1 line=$2 w
    for w in $line; do
        if [[ $w == "$key="* ]]; then
            echo "${w#*=}"
            return 0
        fi
    done
    return 1
}

bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b
        else printf "n/a" }'
}

bench_check_idle() {
    local a b busy
    # share of non-idle CPU time over 1 s, across all CPUs, before we start
    read -r -a a </proc/stat
    sleep 1
    read -r -a b </proc/stat
    busy=$(awk -v u=$((b[1] + b[2] + b[3] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[6] - a[7] - a[8])) \
        -v i=$((b[4] + b[5] - a[4] - a[5])) 'BEGIN { t = u + i; printf "%.0f", (t > 0 ? 100 * u / t : 0) }')
    if ((busy > 10)); then
        echo "bench: WARNING: the machine is already ${busy}% busy; figures will be noisy" >&2
    fi
}

# bench_family PID: PID, then its direct children (e.g. an nginx master and its worker).
bench_family() {
    local parent=$1 stat pid rest f
    echo "$parent"
    for stat in /proc/[0-9]*/stat; do
        { rest=$(<"$stat"); } 2>/dev/null || continue
        pid=${stat#/proc/}
        pid=${pid%/stat}
        rest=${rest##*) }
        read -r -a f <<<"$rest"
        [[ ${f[1]} == "$parent" ]] && echo "$pid"
    done
}

# bench_max_count WHAT LIMIT N...: checks that every count is an integer in [1, LIMIT]; prints the largest.
bench_max_count() {
    local what=$1 limit=$2 n max=0
    shift 2
    for n in "$@"; do
        [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le $limit ]] || bench_die "$what counts must be integers in [1, $limit]: $*"
        ((n > max)) && max=$n
    done
    echo "$max"
}

# bench_check_window SECONDS SETTLE: a measuring window in [1, 600] s and a settle in [0, 60] s.
bench_check_window() {
    [[ $1 =~ ^[0-9]+$ && $1 -ge 1 && $1 -le 600 ]] || bench_die "seconds must be an integer in [1, 600]"
    [[ $2 =~ ^[0-9]+$ && $2 -le 60 ]] || bench_die "settle must be an integer in [0, 60]"
}

# bench_raise_nofile N: raises the open-file limit to N descriptors (or dies).
bench_raise_nofile() {
    if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < $1)); then
        ulimit -n "$1" 2>/dev/null || bench_die "cannot raise ulimit -n to $1"
    fi
}

# bench_record KEY LINE: the figures of one load run (a load tool's LINE: seconds, srv_ns, bytes,
# mbit_per_s, delivered_pct, srv_rss_kb, load_cpu_pct) into the caller's tables under KEY: MBPS,
# DELIV, UTIL (server CPU %), CPUGB (server CPU seconds per delivered GB), RSS (MiB), LUTIL (load CPU %).
bench_record() {
    local key=$1 line=$2 secs cpu
    secs=$(bench_kv seconds "$line")
    cpu=$(awk -v ns="$(bench_kv srv_ns "$line")" 'BEGIN { printf "%.4f", ns / 1e9 }')
    MBPS[$key]=$(bench_kv mbit_per_s "$line")
    DELIV[$key]=$(bench_kv delivered_pct "$line")
    UTIL[$key]=$(awk -v c="$cpu" -v s="$secs" 'BEGIN { printf "%.0f", c / s * 100 }')
    CPUGB[$key]=$(awk -v c="$cpu" -v b="$(bench_kv bytes "$line")" 'BEGIN { printf "%.3f", c / (b / 1e9) }')
    RSS[$key]=$(awk -v k="$(bench_kv srv_rss_kb "$line")" 'BEGIN { printf "%.1f", k / 1024 }')
    LUTIL[$key]=$(bench_kv load_cpu_pct "$line")
}

# bench_rtsp_codecs URL PID...: the codecs ffprobe finds reading URL over RTSP (TCP), sorted and joined
# by commas ("aac,h264" for the media benches' source), tried for up to 10 s while every PID lives
# (a publisher still connecting).
bench_rtsp_codecs() {
    local url=$1 codecs= try pid
    shift
    for ((try = 1; try <= 10; try++)); do
        codecs=$(timeout 15 ffprobe -v error -rtsp_transport tcp -show_entries stream=codec_name -of csv=p=0 \
            "$url" 2>/dev/null | sort | paste -sd, -) || true
        [[ $codecs == aac,h264 ]] && break
        for pid; do bench_alive "$pid" || break 2; done
        sleep 1
    done
    echo "$codecs"
}

# bench_source_flv FILE: encodes the media benches' source once into FILE (30 s of testsrc2 1280x720
# 30 fps + sine, libx264 ultrafast zerolatency 6 Mbit/s, GOP 60, AAC 128 kbit/s, FLV).
bench_source_flv() {
    local file=$1
    [[ -s $file ]] && return 0
    mkdir -p "$(dirname "$file")"
    echo "encoding $file once (30 s, 1280x720 30 fps, 6 Mbit/s H.264 + AAC)..." >&2
    timeout 300 ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
        -f lavfi -i sine=frequency=440:sample_rate=44100 -t 30 -c:v libx264 -preset ultrafast -tune zerolatency \
        -b:v 6M -maxrate 6M -bufsize 12M -g 60 -c:a aac -b:a 128k -f flv "$file.part" >&2 ||
        { rm -f "$file.part"; bench_die "encoding the source failed"; }
    mv "$file.part" "$file"
}
