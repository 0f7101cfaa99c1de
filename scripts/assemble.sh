#!/usr/bin/env bash
# scripts/assemble.sh BIN OUT [SECTION]
# Lays out a complete server folder OUT, as MonaServer users know it: the executable, its plugin
# libraries, MonaServer.ini and www/ side by side. BIN is the build products folder
# (`swift build [-c release] --show-bin-path`).
# Without SECTION: every plugin library and the repository's MonaServer.ini (kept if OUT has one).
# With SECTION (e.g. HTTP, RTMP, echo): only that plugin, and an ini that enables only that protocol.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:?usage: assemble.sh BIN OUT [SECTION]}
OUT=${2:?usage: assemble.sh BIN OUT [SECTION]}
SECTION=${3:-}

[ -x "$BIN/MonaServer" ] || { echo "assemble: no MonaServer in $BIN" >&2; exit 1; }
mkdir -p "$OUT"
cp -f "$BIN/MonaServer" "$OUT/"
[ -e "$OUT/www" ] || cp -R "$ROOT/www" "$OUT/www"

if [ -z "$SECTION" ]; then
    cp -f "$BIN"/libMona*.so "$OUT/" 2>/dev/null || true
    [ -f "$OUT/MonaServer.ini" ] || cp "$ROOT/MonaServer.ini" "$OUT/MonaServer.ini"
    exit 0
fi

# The product of a section: libMona<Section with a capital>.so (HTTP → libMonaHTTP.so, echo → libMonaEcho.so).
# WebSocket arrives through the HTTP port, so a WebSocket server also carries the HTTP plugin.
LIBRARIES=("libMona${SECTION^}.so")
[ "$SECTION" = WebSocket ] && LIBRARIES+=(libMonaHTTP.so)
rm -f "$OUT"/libMona*.so
for library in "${LIBRARIES[@]}"; do
    [ -f "$BIN/$library" ] || { echo "assemble: no $library in $BIN" >&2; exit 1; }
    cp -f "$BIN/$library" "$OUT/"
done
{
    echo "; A single-protocol MonaServer: only [$SECTION] is on."
    for builtin in RTMFP RTMP HTTP RTSP; do
        [ "$builtin" = "$SECTION" ] || [ "$builtin $SECTION" = "HTTP WebSocket" ] || echo "$builtin.port=0"
    done
    [ "$SECTION" = WebSocket ] || echo "WebSocket.enabled=false"
    case $SECTION in
    RTMFP | RTMP | HTTP | WebSocket | RTSP) ;;
    *) printf '[%s]\nlibrary=%s\n' "$SECTION" "${LIBRARIES[0]}" ;;
    esac
} >"$OUT/MonaServer.ini"
