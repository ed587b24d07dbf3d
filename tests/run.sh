#!/usr/bin/env bash
# Runs every suite against one or more build directories and prints one
# closing line "N passed, N failed".
#   tests/run.sh build [build/asan]
# Suites: the cmocka unit binaries (BUILD/tests/test_*), then every
# tests/*/run-suite*.sh (data-driven cases, CLI golden tests, e2e), each of
# which prints its own "N passed, N failed" line last.  Each suite's line
# says how long it took, so the time CI spends can be read off the log.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
failures=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for build in "$@"; do
    # Integration tests find the binaries of the build they belong to here.
    DPM_BUILD_DIR=$(cd "$build" && pwd); export DPM_BUILD_DIR
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        t0=$SECONDS
        out=$("$t" 2>&1); rc=$?
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$f" -ne 0 ]; then
            failures+=("$t"); printf '%s\n' "$out" | grep -v '^\[       OK \]\|^\[ RUN      \]' | tail -40
        fi
        printf '%-50s %4d passed, %d failed  %4d s\n' "$t" "$p" "$f" $((SECONDS - t0))
    done
    for s in tests/*/run-suite*.sh; do
        [ -x "$s" ] || continue
        t0=$SECONDS
        out=$("$s" "$build" 2>&1); rc=$?
        last=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
        p=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); p=${p:-0}
        f=$(printf '%s' "$last" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); f=${f:-0}
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$f" -ne 0 ]; then failures+=("$s $build"); printf '%s\n' "$out" | grep -v '^ok ' | tail -60; fi
        printf '%-50s %4d passed, %d failed  %4d s\n' "$s ($build)" "$p" "$f" $((SECONDS - t0))
    done
done
if [ ${#failures[@]} -gt 0 ]; then
    echo "failing suites:"; printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
