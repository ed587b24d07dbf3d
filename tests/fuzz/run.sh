#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, starting from the seed
# corpus in tests/fuzz/corpus/<target>/ (checked in) and keeping what it
# finds in BUILD/fuzz/corpus/<target>/ (not checked in).
#   tests/fuzz/run.sh BUILD SECONDS
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}; secs=${2:-20}
rc=0; n=0
for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    seed=tests/fuzz/corpus/$name
    work=$build/fuzz/corpus/$name
    mkdir -p "$work"
    dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
    echo "== $name (${secs}s)"
    if ! "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
            -print_final_stats=1 "${dict[@]}" -artifact_prefix="$build/fuzz/$name-" \
            "$work" $( [ -d "$seed" ] && echo "$seed" ) >"$build/fuzz/$name.log" 2>&1; then
        echo "FAIL $name"; tail -50 "$build/fuzz/$name.log"; rc=1
    else
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$build/fuzz/$name.log" | tr '\n' ' '; echo
    fi
    n=$((n + 1))
done
echo "fuzz targets run: $n"
exit $rc
