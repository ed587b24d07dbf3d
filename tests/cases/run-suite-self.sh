#!/usr/bin/env bash
# Checks of the case runner itself (tests/cases/run-suite.sh) on copies of a
# real case in a temporary folder: a case passes when its output matches
# expected, fails with the difference when it does not, fails when the
# folder has no expected file (instead of being skipped), and
# DPM_UPDATE_EXPECTED=1 writes the missing file.
#   tests/cases/run-suite-self.sh BUILD
# Prints "ok NAME" / "FAIL NAME" lines and "N passed, N failed" last.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
runner=$root/tests/cases/run-suite.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; printf '%s\n' "$3" | tail -15 | sed 's/^/    /'; }

# A case that passes in the tree (its expected matches today's dpm).
seed=$root/tests/cases/cli/help
[ -f "$seed/expected" ] || { echo "FAIL seed: no $seed/expected"; echo "0 passed, 1 failed"; exit 1; }
for c in same differs missing update; do cp -r "$seed" "$tmp/$c"; done
echo "this is not what dpm prints" > "$tmp/differs/expected"
rm "$tmp/missing/expected" "$tmp/update/expected"

out=$("$runner" "$build" "$tmp/same" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "^ok " <<<"$out" && [ "$(tail -1 <<<"$out")" = "1 passed, 0 failed" ]; then
    ok matching-expected-passes
else bad matching-expected-passes "exit $rc" "$out"; fi

out=$("$runner" "$build" "$tmp/differs" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "^FAIL " <<<"$out" && grep -q "this is not what dpm prints" <<<"$out" \
        && [ "$(tail -1 <<<"$out")" = "0 passed, 1 failed" ]; then
    ok differing-output-fails-with-diff
else bad differing-output-fails-with-diff "exit $rc" "$out"; fi

out=$("$runner" "$build" "$tmp/same" "$tmp/missing" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "^FAIL .*missing: no expected file" <<<"$out" \
        && [ "$(tail -1 <<<"$out")" = "1 passed, 1 failed" ]; then
    ok missing-expected-fails
else bad missing-expected-fails "exit $rc" "$out"; fi

out=$(DPM_UPDATE_EXPECTED=1 "$runner" "$build" "$tmp/update" 2>&1); rc=$?
if [ $rc -eq 0 ] && cmp -s "$tmp/update/expected" "$seed/expected"; then
    ok update-writes-missing-expected
else bad update-writes-missing-expected "exit $rc" "$out"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
