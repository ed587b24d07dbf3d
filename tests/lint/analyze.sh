#!/usr/bin/env bash
# Static analysis of the shipped code (lib/, cmd/, operator/, webhook/) with
# gcc's -fanalyzer: leaks, double frees, use after free, NULL dereferences,
# file descriptors leaked on error paths.  Fails on any finding not listed in
# tests/lint/analyzer-baseline.txt (one "file:function:warning-option" per
# line; today it is empty, so any finding fails).  .ci/run runs it.
#   tests/lint/analyze.sh [JOBS]
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${1:-2}
export LC_ALL=C # plain quotes in the messages
OUT=$(mktemp -d /tmp/dpm-analyze.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
FLAGS="-std=c11 -D_GNU_SOURCE -DDPM_VERSION=\"0\" -Iinclude $(pkg-config --cflags yaml-0.1 jansson libcurl openssl libwebsockets) -fanalyzer -fdiagnostics-plain-output -fno-diagnostics-show-caret"
export FLAGS OUT
t0=$(date +%s)
find lib cmd operator webhook -name '*.c' | sort |
    xargs -P "$JOBS" -I{} sh -c 'gcc $FLAGS -c "{}" -o /dev/null 2>"$OUT/$(echo "{}" | tr / _).log" || true'
# "lib/x.c: In function 'f':" then "lib/x.c:12:3: warning: ... [-Wanalyzer-...]"
cat "$OUT"/*.log | awk '
    /: In function / { fn = $0; sub(/.*In function .?/, "", fn); sub(/.:$/, "", fn); next }
    /warning: .*\[-Wanalyzer-/ {
        split($0, p, ":"); opt = $0; sub(/.*\[/, "", opt); sub(/\].*/, "", opt)
        print p[1] ":" fn ":" opt "\t" $0 }' | sort -u > "$OUT/findings"
n=0
while IFS=$'\t' read -r key line; do
    if ! grep -qxF "$key" tests/lint/analyzer-baseline.txt 2>/dev/null; then
        echo "analyzer: $line"
        n=$((n + 1))
    fi
done < "$OUT/findings"
errors=$(cat "$OUT"/*.log | grep -c ": error:" || true)
echo "analyzer: $(find lib cmd operator webhook -name '*.c' | wc -l) files in $(( $(date +%s) - t0 )) s: $n new finding(s), $errors file(s) that did not compile"
[ "$n" -eq 0 ] && [ "$errors" -eq 0 ]
