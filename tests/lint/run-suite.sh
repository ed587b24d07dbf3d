#!/usr/bin/env bash
# Checks of the tree itself (no build needed): lib/'s families include only
# what comes before them (layers.py), and every C file is in the house style
# (format.sh, clang-format with .clang-format; `make format` fixes it).
#   tests/lint/run-suite.sh [BUILD]
# Prints "ok NAME" / "FAIL NAME: reason" lines and "N passed, N failed" last.
set -u
cd "$(dirname "$0")/../.."
passed=0
failed=0
out=$(python3 tests/lint/layers.py .)
printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed'
p=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
f=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))
if tests/lint/format.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
