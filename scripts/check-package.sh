#!/usr/bin/env bash
# scripts/check-package.sh DEB
# Installs DEB (scripts/package.sh) in a clean Debian 12 root that has never seen Swift, runs the
# server there as its systemd unit would (the monaserver user, /var/lib/monaserver), and checks it
# from outside: HTTP serves the shipped page, and an RTMP publication (ffmpeg) plays back (ffprobe).
# The clean root is made once with debootstrap (minbase) into CACHE (env DEBROOT_CACHE, default
# /var/cache/monaserver-check/bookworm) and copied for every check. Needs root, debootstrap, ffmpeg
# and curl, and deb.debian.org for the first root and the package's dependencies. By hand, not in CI.
set -euo pipefail

DEB=$(realpath "${1:?usage: check-package.sh DEB}")
CACHE=${DEBROOT_CACHE:-/var/cache/monaserver-check/bookworm}
SAMPLE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench/rtmp-fanout/bin/source.flv
((EUID == 0)) || { echo "check-package: run as root (chroot)" >&2; exit 1; }
for tool in debootstrap ffmpeg ffprobe curl chroot; do
    command -v "$tool" >/dev/null || { echo "check-package: no $tool" >&2; exit 1; }
done

if [[ ! -x $CACHE/bin/sh ]]; then
    echo "check-package: making a clean Debian 12 root in $CACHE (once)..." >&2
    mkdir -p "$(dirname "$CACHE")"
    debootstrap --variant=minbase bookworm "$CACHE.part" http://deb.debian.org/debian >&2
    mv "$CACHE.part" "$CACHE"
fi

WORK=$(mktemp -d)
ROOTFS=$WORK/root
SERVER=
cleanup() {
    [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    mountpoint -q "$ROOTFS/proc" && umount "$ROOTFS/proc"
    rm -rf "$WORK"
}
trap cleanup EXIT
cp -a "$CACHE" "$ROOTFS"
mount -t proc proc "$ROOTFS/proc"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
cp "$DEB" "$ROOTFS/tmp/monaserver.deb"
in_root() { chroot "$ROOTFS" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

echo "check-package: installing $(basename "$DEB") and its dependencies" >&2
in_root apt-get update -qq >&2
in_root apt-get install -y -qq /tmp/monaserver.deb >&2
if in_root sh -c 'ls /usr/lib/swift /usr/lib/x86_64-linux-gnu/libswiftCore.so 2>/dev/null' | grep -q .; then
    echo "check-package: the root holds a Swift runtime; the check would prove nothing" >&2
    exit 1
fi
if in_root sh -c 'ldd /usr/lib/monaserver/MonaServer /usr/lib/monaserver/*.so' | grep "not found"; then
    echo "check-package: libraries missing in the root" >&2
    exit 1
fi
in_root getent passwd monaserver >/dev/null || { echo "check-package: no monaserver user" >&2; exit 1; }

# Free loopback ports: the kernel's choice, released at once.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(free_port)
RTMP_PORT=$(free_port)
cat >"$ROOTFS/tmp/check.ini" <<EOF
host=127.0.0.1
RTMFP.port=0
RTSP.port=0
[HTTP]
port=$HTTP_PORT
[RTMP]
port=$RTMP_PORT
EOF
chroot --userspec=monaserver:monaserver "$ROOTFS" env -i PATH=/usr/bin:/bin \
    /usr/lib/monaserver/MonaServer --ini=/tmp/check.ini --dir=/var/lib/monaserver >"$WORK/server.log" 2>&1 &
SERVER=$!
for ((try = 0; try < 100; try++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "check-package: the server died" >&2; exit 1; }
    sleep 0.1
done

status=$(curl -s -m 10 -o "$WORK/index.html" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/index.html")
[[ $status == 200 ]] || { echo "check-package: GET /index.html answered $status" >&2; exit 1; }
echo "check-package: HTTP GET /index.html 200 ($(stat -c %s "$WORK/index.html") bytes)" >&2

if [[ ! -s $SAMPLE ]]; then
    SAMPLE=$WORK/sample.flv
    ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t 10 \
        -c:v libx264 -g 25 -c:a aac -f flv "$SAMPLE"
fi
timeout 30 ffmpeg -hide_banner -nostdin -loglevel error -re -i "$SAMPLE" -t 8 -c copy -f flv \
    "rtmp://127.0.0.1:$RTMP_PORT/live/check" >"$WORK/publisher.log" 2>&1 &
PUBLISHER=$!
frames=
for ((try = 0; try < 5 && ${frames:-0} == 0; try++)); do
    sleep 1
    frames=$(timeout 15 ffprobe -v error -read_intervals "%+3" -count_frames -select_streams v \
        -show_entries stream=nb_read_frames -of csv=p=0 "rtmp://127.0.0.1:$RTMP_PORT/live/check" 2>/dev/null || true)
done
kill "$PUBLISHER" 2>/dev/null || true
wait "$PUBLISHER" 2>/dev/null || true
[[ ${frames:-0} =~ ^[0-9]+$ && $frames -gt 0 ]] || { echo "check-package: RTMP playback got no video frames" >&2; exit 1; }
echo "check-package: RTMP publish and play through the installed server: $frames video frames" >&2
kill "$SERVER"
wait "$SERVER" || true
SERVER=
grep -q "MonaServer stopped" "$WORK/server.log" || { cat "$WORK/server.log" >&2; echo "check-package: no clean stop" >&2; exit 1; }
echo "check-package: $(basename "$DEB") installs and runs in a clean Debian root without Swift"
