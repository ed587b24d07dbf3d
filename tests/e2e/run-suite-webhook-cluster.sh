#!/usr/bin/env bash
# The cluster side of `dpm webhook`, end to end through the in-tree API
# server and the stock kubectl: --self-signed-secret (the Secret appears,
# the caBundle of a ValidatingWebhookConfiguration is patched), admission
# through the API server, and MeshPolicies watched from the cluster (a new
# policy takes effect without a restart; deleting it lifts it).
#   tests/e2e/run-suite-webhook-cluster.sh BUILD
#   KUBECONFIG=... tests/e2e/run-suite-webhook-cluster.sh BUILD
#       against that cluster instead (tests/e2e/real-cluster.sh: the API
#       server must reach the webhook on this machine's 127.0.0.1); the
#       check that needs the MeshPolicy CRD absent is skipped when the
#       cluster already has it.
# Prints "ok NAME" / "FAIL NAME" per check and ends with "N passed, N failed".
# Never hangs: every client runs under `timeout`, every server it starts is
# killed on exit, ports are picked free at run time.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DPM=$BUILD/dpm
APISERVER=$BUILD/dpm-test-apiserver
W=$(mktemp -d /tmp/dpm-webhook-cluster.XXXXXX)
pids=()
made_ns=()
passed=0
failed=0

cleanup() {
    exec 2>/dev/null # no "Killed" job notices
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    # a cluster of KUBECONFIG outlives the suite: take back what it made
    # (the webhook configuration first: its webhook is gone)
    if [ -n "${KUBECONFIG:-}" ]; then
        k delete validatingwebhookconfiguration dpm-e2e --ignore-not-found >/dev/null
        k delete meshpolicy e2e-owner-domain --ignore-not-found >/dev/null
        for ns in "${made_ns[@]}"; do k delete namespace "$ns" --ignore-not-found --wait=false >/dev/null; done
    fi
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
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
if [ -n "${KUBECONFIG:-}" ]; then
    KC=$KUBECONFIG
else
    KC=$W/api/admin.kubeconfig
fi
k() { timeout 30 kubectl --kubeconfig "$KC" "$@"; }
# wait_for SECONDS COMMAND...: polls every 0.2 s.
wait_for() {
    local t=$1 i=0
    shift
    while [ $i -lt $((t * 5)) ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
# wait_ready FILE: the "ready https://127.0.0.1:PORT" line; prints PORT.
wait_ready() {
    local f=$1 i=0 port
    while [ $i -lt 150 ]; do
        port=$(sed -n 's|^ready https://127.0.0.1:\([0-9]*\)$|\1|p' "$f" 2>/dev/null)
        [ -n "$port" ] && { echo "$port"; return 0; }
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}

for b in "$DPM" "$APISERVER"; do
    [ -x "$b" ] || { fail "build: $b exists"; finish; }
done
command -v kubectl >/dev/null || { fail "kubectl is installed"; finish; }

# ---- the API server, the CRDs ------------------------------------------
if [ -n "${KUBECONFIG:-}" ]; then
    if v=$(k version -o json 2>"$W/version.err"); then
        ok "the cluster of KUBECONFIG answers ($(printf '%s' "$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>&1))"
    else
        fail "the cluster of KUBECONFIG answers" "$(cat "$W/version.err")"
        finish
    fi
else
    mkdir -p "$W/api"
    "$APISERVER" --dir "$W/api" --port 0 >"$W/api.out" 2>"$W/api.err" &
    pids+=($!)
    if ! wait_ready "$W/api.out" >/dev/null || [ ! -f "$W/api/admin.kubeconfig" ]; then
        fail "the in-tree API server starts" "$(head -c 2000 "$W/api.err")"
        finish
    fi
    ok "the in-tree API server starts"
fi
# Before the CRDs: a webhook watching MeshPolicies is up but not ready.
"$DPM" certs --service dpm-webhook --namespace dpm-system --ip 127.0.0.1 --out "$W/certs" 2>/dev/null
"$DPM" webhook --kubeconfig "$KC" --cert-dir "$W/certs" --listen 127.0.0.1:0 \
    >"$W/nocrd.out" 2>"$W/nocrd.err" &
NOCRD_PID=$!
pids+=($NOCRD_PID)
NOCRD_PORT=$(wait_ready "$W/nocrd.out")
ready_code() { timeout 10 curl -sS --cacert "$W/certs/ca.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$1/readyz"; }
sleep 1
code=$(ready_code "$NOCRD_PORT")
if k get crd meshpolicies.mesh.io >/dev/null 2>&1; then
    echo "skip without the MeshPolicy CRD: logged, /readyz 503: the cluster already has the CRD"
elif [ "$code" = 503 ] && grep -q 'MeshPolicy CRD (meshpolicies.mesh.io) is not installed' "$W/nocrd.err"; then
    ok "without the MeshPolicy CRD: logged, /readyz 503"
else
    fail "without the MeshPolicy CRD: logged, /readyz 503" "readyz $code" "$(head -c 1000 "$W/nocrd.err")"
fi
ensure_ns() {
    k get namespace "$1" >/dev/null 2>&1 && return 0
    k create namespace "$1" >/dev/null 2>&1 && made_ns+=("$1")
}
if k apply -f crds/ >"$W/crds.out" 2>&1 && ensure_ns dpm-system && ensure_ns fintech-core &&
    wait_for 10 k get meshpolicies; then
    ok "CRDs applied, namespaces created"
else
    fail "CRDs applied, namespaces created" "$(cat "$W/crds.out")"
    finish
fi

nocrd_ready() { [ "$(ready_code "$NOCRD_PORT")" = 200 ]; }
if wait_for 40 nocrd_ready; then ok "once the CRD is installed the retry lists MeshPolicies: /readyz 200"; else
    fail "once the CRD is installed the retry lists MeshPolicies: /readyz 200" "$(tail -3 "$W/nocrd.err")"; fi
kill -TERM "$NOCRD_PID" 2>/dev/null

# ---- the webhook, certificates in a Secret -------------------------------
"$DPM" webhook --kubeconfig "$KC" --self-signed-secret dpm-system/dpm-webhook-tls \
    --self-signed-ip 127.0.0.1 --listen 127.0.0.1:0 --cert-check-interval 1 >"$W/wh.out" 2>"$W/wh.err" &
WH_PID=$!
pids+=($WH_PID)
if ! PORT=$(wait_ready "$W/wh.out"); then
    fail "dpm webhook --self-signed-secret starts" "$(head -c 2000 "$W/wh.err")"
    finish
fi
ok "dpm webhook --self-signed-secret starts"
URL="https://127.0.0.1:$PORT"

secret_type=$(k get secret -n dpm-system dpm-webhook-tls -o jsonpath='{.type}' 2>&1)
[ "$secret_type" = kubernetes.io/tls ] && ok "the Secret dpm-system/dpm-webhook-tls appears (kubernetes.io/tls)" ||
    fail "the Secret dpm-system/dpm-webhook-tls appears (kubernetes.io/tls)" "$secret_type"
k get secret -n dpm-system dpm-webhook-tls -o jsonpath='{.data.ca\.crt}' | base64 -d >"$W/ca.crt" 2>/dev/null
hcurl() { timeout 10 curl -sS --cacert "$W/ca.crt" "$@"; }
code=$(hcurl -o /dev/null -w '%{http_code}' "$URL/readyz" 2>&1)
[ "$code" = 200 ] && ok "served over TLS with the Secret's certificate; /readyz 200 once MeshPolicies are listed" ||
    fail "served over TLS with the Secret's certificate; /readyz 200 once MeshPolicies are listed" "$code"

# A restart reuses the Secret rather than minting a new CA.
before=$(k get secret -n dpm-system dpm-webhook-tls -o jsonpath='{.data.tls\.crt}')

# ---- a ValidatingWebhookConfiguration with no caBundle yet -----------------
cat >"$W/vwc.yaml" <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: dpm-e2e
  labels: {app.kubernetes.io/name: dpm}
webhooks:
  - name: validate.mesh.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    clientConfig:
      url: $URL/validate
    rules:
      - apiGroups: [mesh.io]
        apiVersions: [v1alpha1]
        operations: [CREATE, UPDATE]
        resources: [dataproducts]
EOF
if k apply -f "$W/vwc.yaml" >"$W/vwc.out" 2>&1; then ok "ValidatingWebhookConfiguration registered without caBundle"; else
    fail "ValidatingWebhookConfiguration registered without caBundle" "$(cat "$W/vwc.out")"; fi
want=$(base64 -w0 <"$W/ca.crt")
bundle_is_ca() { [ "$(k get validatingwebhookconfiguration dpm-e2e -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" = "$want" ]; }
if wait_for 15 bundle_is_ca; then ok "the caBundle is patched with the Secret's CA"; else
    fail "the caBundle is patched with the Secret's CA" "$(tail -5 "$W/wh.err")"; fi

# ---- admission through the API server -------------------------------------
# The CRD's schema already refuses most of this one (the API server checks
# the schema before validating webhooks run, as kube-apiserver does): it is
# denied with every reason on kubectl's output either way.  --validate=false
# sends it to the API server on every version (kubectl would refuse it
# itself from the OpenAPI v2 schema of a server older than 1.25).
out=$(k apply --validate=false -f examples/invalid/broken-contract.yaml 2>&1)
case "$out" in
*spec.owner*spec.domain* | *spec.domain*spec.owner*)
    ok "kubectl apply of broken-contract.yaml denied with its reasons" ;;
*) fail "kubectl apply of broken-contract.yaml denied with its reasons" "$out" ;;
esac
# One that only dpm's checks catch (port names must be unique): the
# webhook's denial, through the caBundle it patched.
sed -e 's/name: enriched-transactions-live/name: enriched-transactions-historical/' \
    -e 's/name: payment-transactions-enriched/name: e2e-dup-ports/' \
    examples/dataproducts/payment-transactions-enriched.yaml >"$W/dup.yaml"
out=$(k apply -f "$W/dup.yaml" 2>&1)
case "$out" in
*'admission webhook "validate.mesh.io" denied'*outputPorts*)
    ok "a DataProduct only dpm's checks refuse is denied by the webhook through the API server" ;;
*) fail "a DataProduct only dpm's checks refuse is denied by the webhook through the API server" "$out" ;;
esac
good=examples/dataproducts/payment-transactions-enriched.yaml
if out=$(k apply -f "$good" 2>&1); then ok "kubectl apply of a valid DataProduct admitted"; else
    fail "kubectl apply of a valid DataProduct admitted" "$out"; fi

# ---- a MeshPolicy from the cluster, without a restart -----------------------
cat >"$W/policy.yaml" <<'EOF'
apiVersion: mesh.io/v1alpha1
kind: MeshPolicy
metadata: {name: e2e-owner-domain}
spec:
  enforcement: Deny
  match: {domains: ["*"]}
  rules:
    - {name: owner-at-example, path: spec.owner, pattern: '@example\.org$'}
EOF
k apply -f "$W/policy.yaml" >"$W/pol.out" 2>&1 || fail "MeshPolicy applied" "$(cat "$W/pol.out")"
# A CREATE of a new object under server dry-run (an unchanged apply would
# send no request at all): the webhook decides, nothing is stored.
sed 's/name: payment-transactions-enriched/name: e2e-probe/' "$good" >"$W/probe.yaml"
probe() { k create --dry-run=server -f "$W/probe.yaml" 2>&1; }
denied_by_policy() { probe | grep -q 'e2e-owner-domain/owner-at-example'; }
if wait_for 3 denied_by_policy; then ok "a new MeshPolicy is enforced within seconds, without a restart"; else
    fail "a new MeshPolicy is enforced within seconds, without a restart" "$(probe)"; fi
metrics=$(hcurl "$URL/metrics" 2>&1)
case "$metrics" in
*"dpm_webhook_policies 1"*) ok "dpm_webhook_policies counts the cluster's policy" ;;
*) fail "dpm_webhook_policies counts the cluster's policy" "$(echo "$metrics" | grep dpm_webhook_polic)" ;;
esac

# A broken edit keeps the version in force.
sed 's/@example\\.org\$/(unclosed/' "$W/policy.yaml" >"$W/broken.yaml"
k apply -f "$W/broken.yaml" >/dev/null 2>&1
load_error() { hcurl "$URL/metrics" | grep -q '^dpm_webhook_policy_load_errors_total [1-9]'; }
if wait_for 3 load_error && denied_by_policy; then ok "a MeshPolicy edit that does not compile is counted and the old version stays"; else
    fail "a MeshPolicy edit that does not compile is counted and the old version stays" "$(grep -i meshpolicy "$W/wh.err" | tail -3)"; fi

k delete meshpolicy e2e-owner-domain >/dev/null 2>&1
admitted() { k create --dry-run=server -f "$W/probe.yaml" >/dev/null 2>&1; }
if wait_for 3 admitted; then ok "deleting the MeshPolicy lifts it"; else
    fail "deleting the MeshPolicy lifts it" "$(probe)"; fi

# ---- restart: the Secret is reused ------------------------------------------
kill -TERM "$WH_PID" 2>/dev/null
wait "$WH_PID" 2>/dev/null
"$DPM" webhook --kubeconfig "$KC" --self-signed-secret dpm-system/dpm-webhook-tls \
    --self-signed-ip 127.0.0.1 --listen 127.0.0.1:0 >"$W/wh2.out" 2>"$W/wh2.err" &
pids+=($!)
if wait_ready "$W/wh2.out" >/dev/null &&
    [ "$(k get secret -n dpm-system dpm-webhook-tls -o jsonpath='{.data.tls\.crt}')" = "$before" ]; then
    ok "a restarted webhook reuses the valid Secret"
else
    fail "a restarted webhook reuses the valid Secret" "$(head -c 1000 "$W/wh2.err")"
fi

finish
