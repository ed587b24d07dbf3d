#!/usr/bin/env bash
# Runs every benchmark program in BUILD/bench/ (built from bench/*.c) and any
# bench/*.sh driver.  Each prints its own figures and its comparison.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
rc=0
for b in "$build"/bench/*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"; "$b" || rc=1
done
for s in bench/*.sh; do
    [ -x "$s" ] || continue
    [ "$(basename "$s")" = run.sh ] && continue
    echo "== $(basename "$s")"; "$s" "$build" || rc=1
done
exit $rc
