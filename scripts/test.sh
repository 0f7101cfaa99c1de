#!/usr/bin/env bash
# scripts/test.sh: sets up what is missing, builds (debug) and runs every test; then checks that the
# documented single-protocol build still builds; then fuzzes every parser briefly (scripts/fuzz.sh, 10 s a
# target: MONA_FUZZ_SECONDS overrides, 0 skips).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/setup.sh"
swift build --build-tests
swift test --skip-build
"$ROOT/scripts/slim.sh" echo "$ROOT/.build/slim-check"
if [ "${MONA_FUZZ_SECONDS:-10}" != 0 ]; then
    "$ROOT/scripts/fuzz.sh" all "${MONA_FUZZ_SECONDS:-10}"
fi
