#!/usr/bin/env bash
# End-to-end suite: the stock kubectl (and curl) against the in-tree API
# server (build/dpm-test-apiserver), or against any real cluster when
# KUBECONFIG is set (scenarios that need the in-tree server are skipped
# there, with a message).
#   tests/e2e/run-suite.sh BUILD [SCENARIO...]     (E2E_KEEP=1 keeps the logs)
#   E2E_EMULATE=1.20 tests/e2e/run-suite.sh BUILD  the in-tree server as 1.20
#   KUBECONFIG=... E2E_CLUSTER_DIR=DIR tests/e2e/run-suite.sh BUILD
#       a cluster on this machine's loopback made by tests/e2e/real-cluster.sh
#       (DIR holds its ca.crt, ca.key, tokens.csv, admin.crt): the scenarios
#       that call a webhook on 127.0.0.1 or read the CA and tokens run too.
# Scenarios read the server's version (server_minor in lib.sh) and expect
# what that version does where Kubernetes changed.
# Prints "ok NAME" / "FAIL NAME: reason" / "skip NAME: reason" per scenario
# and "N passed, N failed" last.  Every kubectl call has a timeout, every
# scenario a 180 s limit; the server is stopped on exit.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
shift || true
ROOT=$(pwd)
TMP=$(mktemp -d /tmp/dpm-e2e.XXXXXX)
export HOME=$TMP/home # kubectl's discovery cache stays per run
mkdir -p "$HOME"
SERVER_PID=""
PROXY_PID=""
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    if [ -n "${E2E_KEEP:-}" ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

if ! command -v kubectl >/dev/null; then
    echo "FAIL setup: kubectl not found"; echo "0 passed, 1 failed"; exit 1
fi

export E2E_BIN=$ROOT/$BUILD E2E_ROOT=$ROOT
export E2E_LOCAL=0
if [ -n "${KUBECONFIG:-}" ]; then
    export E2E_INTREE=0 E2E_DIR="" E2E_SERVER=""
    if [ -n "${E2E_CLUSTER_DIR:-}" ]; then
        [ -f "$E2E_CLUSTER_DIR/ca.crt" ] && [ -f "$E2E_CLUSTER_DIR/tokens.csv" ] || {
            echo "FAIL setup: E2E_CLUSTER_DIR=$E2E_CLUSTER_DIR has no ca.crt/tokens.csv"
            echo "0 passed, 1 failed"; exit 1
        }
        E2E_DIR=$E2E_CLUSTER_DIR E2E_LOCAL=1
        E2E_SERVER=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
    fi
    echo "# running against the cluster of KUBECONFIG=$KUBECONFIG"
else
    export E2E_INTREE=1 E2E_DIR=$TMP/server E2E_LOCAL=1
    if [ ! -x "$BUILD/dpm-test-apiserver" ]; then
        echo "FAIL setup: $BUILD/dpm-test-apiserver not built"; echo "0 passed, 1 failed"; exit 1
    fi
    emulate=()
    if [ -n "${E2E_EMULATE:-}" ]; then
        emulate=(--emulate-version "$E2E_EMULATE")
        echo "# in-tree server with --emulate-version $E2E_EMULATE"
    fi
    "$BUILD/dpm-test-apiserver" --dir "$E2E_DIR" --port 0 --watch-history 200 "${emulate[@]}" \
        > "$TMP/server.out" 2> "$TMP/server.err" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do grep -q '^ready ' "$TMP/server.out" 2>/dev/null && break; sleep 0.1; done
    if ! grep -q '^ready ' "$TMP/server.out"; then
        echo "FAIL setup: the API server did not become ready in 20 s: $(tail -3 "$TMP/server.err")"
        echo "0 passed, 1 failed"; exit 1
    fi
    export E2E_SERVER=$(sed -n 's/^ready //p' "$TMP/server.out")
    export KUBECONFIG=$E2E_DIR/admin.kubeconfig
fi
# kubectl proxy carries the raw HTTP requests (it authenticates for us, on
# any cluster); it is stopped on exit.
kubectl proxy --port=0 > "$TMP/proxy.out" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 100); do grep -q 'Starting to serve' "$TMP/proxy.out" 2>/dev/null && break; sleep 0.1; done
export E2E_PROXY=http://$(sed -n 's/^Starting to serve on //p' "$TMP/proxy.out")

passed=0; failed=0
for f in tests/e2e/scenarios/*.sh; do
    for fn in $(bash -c "source '$f'; declare -F" | awk '{print $3}' | grep '^scenario_'); do
        name=${fn#scenario_}
        if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
        export E2E_TMP=$TMP/$name
        mkdir -p "$E2E_TMP"
        timeout 180 bash -c 'set -eu; source tests/e2e/lib.sh; source "$1"; "$2"' _ "$f" "$fn" \
            > "$E2E_TMP/log" 2>&1
        rc=$?
        if [ -f "$E2E_TMP/pids" ]; then
            while read -r p; do kill -KILL "$p" 2>/dev/null; done < "$E2E_TMP/pids"
        fi
        if [ -f "$E2E_TMP/cluster-objects" ]; then
            while read -r o; do timeout 30 kubectl delete "$o" --wait=false >/dev/null 2>&1; done < "$E2E_TMP/cluster-objects"
        fi
        if [ -f "$E2E_TMP/namespaces" ]; then
            while read -r ns; do timeout 30 kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1; done < "$E2E_TMP/namespaces"
        fi
        if [ $rc -eq 0 ]; then
            echo "ok $name"; passed=$((passed + 1))
        elif [ $rc -eq 3 ]; then
            echo "skip $name: $(sed -n 's/^E2E-SKIP: //p' "$E2E_TMP/log" | tail -1)"
        else
            why=$(sed -n 's/^E2E-FAIL: //p' "$E2E_TMP/log" | tail -1)
            [ -z "$why" ] && why="exit $rc: $(tail -3 "$E2E_TMP/log" | tr '\n' ' ')"
            [ $rc -eq 124 ] && why="timed out after 180 s"
            echo "FAIL $name: $why"; failed=$((failed + 1))
        fi
    done
done
# The in-tree server must leave cleanly on SIGTERM, without sanitizer reports.
if [ -n "$SERVER_PID" ] && [ $# -eq 0 ]; then
    kill -TERM "$SERVER_PID"
    rc=""
    for _ in $(seq 1 100); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID"; rc=$?; break; fi
        sleep 0.1
    done
    SERVER_PID=""
    if [ "$rc" = 0 ] && ! grep -q 'Sanitizer' "$TMP/server.err"; then
        echo "ok server_clean_exit"; passed=$((passed + 1))
    else
        echo "FAIL server_clean_exit: exit ${rc:-timeout}: $(grep -m1 -A3 'Sanitizer' "$TMP/server.err" | tr '\n' ' ')"
        failed=$((failed + 1))
    fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
