#!/usr/bin/env bash
# scripts/test.sh: sets up what is missing, builds (debug) and runs every test; then checks that the
# documented single-protocol build still builds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/setup.sh"
swift build --build-tests
swift test --skip-build
"$ROOT/scripts/slim.sh" echo "$ROOT/.build/slim-check"
