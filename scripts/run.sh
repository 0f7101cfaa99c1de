#!/usr/bin/env bash
# scripts/run.sh [MonaServer options]
# Sets up what is missing, builds the server and all its plugins (release), lays them out in
# dist/MonaServer/ with MonaServer.ini and the www/ sample, and runs it there. Ctrl-C stops it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/setup.sh"
swift build -c release
"$ROOT/scripts/assemble.sh" "$(swift build -c release --show-bin-path)" "$ROOT/dist/MonaServer"
exec "$ROOT/dist/MonaServer/MonaServer" "$@"
