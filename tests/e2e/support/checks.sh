# Shared by the check-style suites (run-suite-http.sh, run-suite-webhook*.sh):
# sourced after W (a scratch directory) is set.  Each check prints
# "ok NAME" or "FAIL NAME" with indented details; finish prints the closing
# "N passed, N failed" and exits non-zero on a failure.  On exit every
# server in pids and every background job is killed and W removed.
pids=()
passed=0
failed=0
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    # Background clients (s_client, curl loops) are the suite shell's children.
    for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1"
    shift
    [ $# -gt 0 ] && printf '    %s\n' "$@"
    failed=$((failed + 1))
}
# check NAME COMMAND...: ok when the command succeeds.
check() {
    local name=$1
    shift
    if "$@" >"$W/check.out" 2>&1; then ok "$name"; else fail "$name" "$(head -c 2000 "$W/check.out")"; fi
}
# sanitizer_build BUILD: true when BUILD/dpm is linked with ASan or UBSan.
sanitizer_build() { ldd "$1/dpm" | grep -q 'libasan\|libubsan'; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
