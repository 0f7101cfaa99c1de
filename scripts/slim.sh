#!/usr/bin/env bash
# scripts/slim.sh SECTION [OUT]
# Builds a single-protocol server (release): the host plus one plugin (HTTP, RTMP, WebSocket, RTSP,
# RTMFP or echo) into OUT (default dist/MonaServer-SECTION), with an ini that enables only it.
#   scripts/slim.sh echo && dist/MonaServer-echo/MonaServer
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECTION=${1:?usage: slim.sh SECTION [OUT]}
OUT=${2:-$ROOT/dist/MonaServer-$SECTION}
cd "$ROOT"
"$ROOT/scripts/setup.sh"
# Two commands: `swift build --product A --product B` would build only B.
swift build -c release --product MonaServer
swift build -c release --product "Mona${SECTION^}"
"$ROOT/scripts/assemble.sh" "$(swift build -c release --show-bin-path)" "$OUT" "$SECTION"
echo "slim: $OUT holds a server with only $SECTION; run $OUT/MonaServer"
