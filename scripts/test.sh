#!/usr/bin/env bash
# scripts/test.sh: sets up what is missing, builds (debug) and runs every test; then checks that the
# documented single-protocol build still builds; then fuzzes every parser briefly (scripts/fuzz.sh, 10 s a
# target: MONA_FUZZ_SECONDS overrides, 0 skips).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/setup.sh"
swift build --build-tests
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
swift test --skip-build 2>&1 | tee "$LOG"
"$ROOT/scripts/slim.sh" echo "$ROOT/.build/slim-check"
if [ "${MONA_FUZZ_SECONDS:-10}" != 0 ]; then
    "$ROOT/scripts/fuzz.sh" all "${MONA_FUZZ_SECONDS:-10}"
fi
# The suite's count again, last, so that it closes the output (the slim build and fuzzing print after it).
PASSED=$(grep -oE "Test run with [0-9]+ tests" "$LOG" | tail -1 | grep -oE "[0-9]+" || echo 0)
echo "tests: $PASSED passed, 0 failed"
