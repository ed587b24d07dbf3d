#!/usr/bin/env bash
# Every C file in git follows the house style (.clang-format): prints one
# "FAIL format FILE" line per file clang-format would change (with the first
# lines of the diff), "ok format" when none.  `make format` fixes them.
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null; then
    echo "FAIL format: clang-format is not installed (apt-get install clang-format)"
    exit 1
fi
bad=0
while IFS= read -r f; do
    if ! out=$(clang-format --dry-run --Werror "$f" 2>&1); then
        echo "FAIL format $f: not in the house style (make format); first difference: $(printf '%s\n' "$out" | sed -n 1p)"
        bad=$((bad + 1))
    fi
done < <(git ls-files '*.c' '*.h')
if [ "$bad" -eq 0 ]; then echo "ok format ($(git ls-files '*.c' '*.h' | wc -l) files)"; fi
[ "$bad" -eq 0 ]
