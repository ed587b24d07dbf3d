#!/usr/bin/env bash
# Replays the checked-in fuzz corpora without libFuzzer: every file of
# tests/fuzz/corpus/<target>/, and the empty input, through
# BUILD/fuzz-replay/<target> (tests/fuzz/replay.c linked with the target;
# `make unit` builds them).  An input passes when the target returns; an
# invariant's abort(), a crash, a sanitizer report (ASan/UBSan builds) or a
# hang fails it.  All inputs of a target run in one process; when that
# fails, each runs alone so that the failure names its input.  A target
# without its replayer, or a corpus without its target, fails too.
#   tests/fuzz/run-suite.sh BUILD
# Prints "ok NAME" / "FAIL NAME" lines and "N passed, N failed" last.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0; fail=0
run_one() { # NAME BIN FILE
    local out rc
    out=$(timeout 20 "$2" "$3" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "ok $1"
    else
        fail=$((fail + 1)); echo "FAIL $1: exit $rc"
        printf '%s\n' "$out" | tail -30 | sed 's/^/    /'
    fi
}
for src in tests/fuzz/fuzz_*.c; do
    target=$(basename "$src" .c)
    bin=$build/fuzz-replay/$target
    if [ ! -x "$bin" ]; then
        fail=$((fail + 1)); echo "FAIL $target: no $bin (make BUILD=$build unit builds it)"
        continue
    fi
    inputs=(/dev/null)
    [ -d "tests/fuzz/corpus/$target" ] && mapfile -t -O 1 inputs < <(find "tests/fuzz/corpus/$target" -type f | sort)
    if timeout 120 "$bin" "${inputs[@]}" >/dev/null 2>&1; then
        for f in "${inputs[@]}"; do
            pass=$((pass + 1))
            [ "$f" = /dev/null ] && echo "ok $target/(empty input)" || echo "ok $target/${f##*/}"
        done
    else
        for f in "${inputs[@]}"; do
            [ "$f" = /dev/null ] && name="$target/(empty input)" || name="$target/${f##*/}"
            run_one "$name" "$bin" "$f"
        done
    fi
done
for d in tests/fuzz/corpus/*/; do
    target=$(basename "$d")
    [ -f "tests/fuzz/$target.c" ] || { fail=$((fail + 1)); echo "FAIL $target: a corpus without tests/fuzz/$target.c"; }
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
