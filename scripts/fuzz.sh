#!/usr/bin/env bash
# scripts/fuzz.sh [target|all] [seconds]: builds the libFuzzer harness (address sanitizer, own scratch
# path .build-fuzz, so the normal build is untouched) and fuzzes each target for `seconds` (default 20),
# starting from its committed seeds in Fuzz/Corpus/<target>/. New inputs go to .build-fuzz/corpus/<target>/,
# crashes to .build-fuzz/crashes/<target>/; the script fails on the first target that crashes or leaks.
# MONA_FUZZ_RUNS=N: stop each target after N inputs instead (the seconds still bound the run).
# MONA_BUILD_LOCK=<file>: take this flock around the build (machines whose cores are shared).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${1:-all}
SECONDS_EACH=${2:-20}
SCRATCH="$ROOT/.build-fuzz"

LOCK=()
[ -z "${MONA_BUILD_LOCK:-}" ] || LOCK=(flock "$MONA_BUILD_LOCK")
mkdir -p "$SCRATCH"
build=0
MONA_FUZZ=1 "${LOCK[@]}" swift build --scratch-path "$SCRATCH" \
    --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer --product MonaFuzz >"$SCRATCH/build.log" 2>&1 || build=$?
grep -v -e "Cannot export local symbol" -e "Compiling" "$SCRATCH/build.log" || true
[ "$build" -eq 0 ] || { echo "fuzz.sh: build failed" >&2; exit 1; }
BINARY="$SCRATCH/debug/MonaFuzz"

if [ "$TARGET" = all ]; then
    TARGETS=$(ls "$ROOT/Fuzz/Corpus")
else
    TARGETS=$TARGET
fi

for name in $TARGETS; do
    [ -d "$ROOT/Fuzz/Corpus/$name" ] || { echo "fuzz.sh: no seeds for '$name' in Fuzz/Corpus" >&2; exit 1; }
    mkdir -p "$SCRATCH/corpus/$name" "$SCRATCH/crashes/$name"
    echo "== fuzz $name (${SECONDS_EACH}s)"
    status=0
    MONA_FUZZ_TARGET=$name ASAN_OPTIONS=detect_leaks=1 nice -n 10 "$BINARY" \
        -max_total_time="$SECONDS_EACH" -runs="${MONA_FUZZ_RUNS:--1}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$SCRATCH/crashes/$name/" \
        "$SCRATCH/corpus/$name" "$ROOT/Fuzz/Corpus/$name" >"$SCRATCH/$name.log" 2>&1 || status=$?
    grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::(number_of_executed_units|peak_rss_mb)|==[0-9]+==ERROR|SUMMARY|Test unit written)" \
        "$SCRATCH/$name.log" || true
    [ "$status" -eq 0 ] || { echo "fuzz.sh: $name failed ($status), see $SCRATCH/$name.log" >&2; exit 1; }
done
