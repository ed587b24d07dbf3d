#!/usr/bin/env bash
# The e2e suites against a real Kubernetes 1.20 control plane on this
# machine's loopback (tests/e2e/real-cluster.sh; binaries from
# `make real-k8s`): run-suite-webhook-cluster.sh first (it starts from a
# cluster without dpm's CRDs), then run-suite.sh.  The control plane is
# started here and torn down on exit, whatever happens.
#   tests/e2e/run-real.sh BUILD
# Prints every suite's lines, then one closing "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
export DPM_REAL_CLUSTER_DIR=${DPM_REAL_CLUSTER_DIR:-$(pwd)/build/real-cluster}
t0=$(date +%s)
trap 'tests/e2e/real-cluster.sh down' EXIT
tests/e2e/real-cluster.sh down 2>/dev/null
if ! envline=$(tests/e2e/real-cluster.sh up); then
    echo "FAIL setup: the real control plane did not start (see above)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$envline"
export KUBECONFIG E2E_CLUSTER_DIR
passed=0
failed=0
skipped=0
for s in tests/e2e/run-suite-webhook-cluster.sh tests/e2e/run-suite.sh; do
    echo "# $s against $(kubectl version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null)"
    out=$("$s" "$BUILD" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -vE '^[0-9]+ passed, [0-9]+ failed'
    last=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    p=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$last" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    p=${p:-0}; f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    skipped=$((skipped + $(printf '%s\n' "$out" | grep -c '^skip ')))
    printf '%-50s %4d passed, %d failed\n' "$s (real 1.20)" "$p" "$f"
    passed=$((passed + p)); failed=$((failed + f))
done
echo "# e2e-real took $(( $(date +%s) - t0 ))s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
