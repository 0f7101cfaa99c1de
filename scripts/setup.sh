#!/usr/bin/env bash
# scripts/setup.sh: installs the Debian packages the build and the tests need (once; skips what is
# there). Needs root or sudo for apt-get. Swift itself is not a Debian package: it must be on PATH.
set -euo pipefail

# Build: a C compiler, OpenSSL's libcrypto headers, LuaJIT, libuv (the reactor), pkg-config.
# Tests: curl, wrk, python3 and its websockets library, ffmpeg/ffprobe, rtmpdump, GStreamer (rtspsrc, decoders,
# driven from Python through its GObject bindings)
# and (headless) chromium talk to the server like real clients; Prometheus' Python client parses /metrics,
# python3-m3u8 low-latency HLS playlists.
PACKAGES=(gcc libc6-dev pkg-config libssl-dev libluajit-5.1-dev libuv1-dev curl python3 python3-websockets python3-prometheus-client
          wrk ffmpeg rtmpdump
          gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav
          gstreamer1.0-rtsp python3-gi gir1.2-gstreamer-1.0 chromium python3-m3u8)

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "setup: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
    echo "setup: no 'swift' on PATH. Install Swift 6 for Debian 12 (swift.org) and put its usr/bin on PATH." >&2
    exit 1
fi
