#!/usr/bin/env bash
# Every Helm chart of the repository sets the key fields that Kubernetes
# 1.20's server-side apply requires on associative-list elements
# (`protocol` on every Service and container port, names on containers,
# env entries and volumes): tests/e2e/support/chart_keys.py on each chart
# (a directory with a Chart.yaml, outside build/), and on a fixture that
# omits them, which it must refuse.
#   tests/e2e/run-suite-chart-keys.sh [BUILD]
# Prints "ok NAME" / "FAIL NAME" and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
passed=0
failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '    %s\n' "$@"; failed=$((failed + 1)); }
check=tests/e2e/support/chart_keys.py

charts=$(find . -name Chart.yaml -not -path './build/*' -not -path './.git/*' -printf '%h\n' | sort)
if [ -z "$charts" ]; then
    fail "the repository has Helm charts to check" "no Chart.yaml found"
fi
for c in $charts; do
    if out=$(python3 "$check" "$c" 2>&1); then
        ok "chart ${c#./}: every associative-list key set (server-side apply on 1.20)"
    else
        fail "chart ${c#./}: every associative-list key set (server-side apply on 1.20)" "$out"
    fi
done
out=$(python3 "$check" tests/e2e/support/chart-keys-fixture 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q '\.spec\.ports\[0\]: no "protocol"' <<<"$out" &&
    grep -q 'containers\[0\]\.ports\[0\]: no "protocol"' <<<"$out" &&
    grep -q 'containers\[0\]\.env\[0\]: no "name"' <<<"$out"; then
    ok "a template omitting protocol and names is refused"
else
    fail "a template omitting protocol and names is refused" "exit $rc" "$out"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
