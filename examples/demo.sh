#!/usr/bin/env bash
# make demo: dpm end to end on this machine, with the binaries of BUILD
# (default build/): the in-tree Kubernetes API server, the CRDs, `dpm webhook`
# registered through Validating/Mutating WebhookConfigurations, and the stock
# kubectl applying the examples; then the same checks offline with the CLI.
# Everything it starts listens on 127.0.0.1 and is stopped on exit.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
dpm=$build/dpm
work=$(mktemp -d /tmp/dpm-demo.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
bold=$(tput bold 2>/dev/null || true); off=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$bold" "$*" "$off"; "$@"; echo "(exit $?)"; }

# Starts a server that prints "ready https://HOST:PORT" and sets $url to it.
# Not called in a $(...) subshell, so the pid reaches the cleanup trap.
start() {
    local log=$1; shift
    url=
    "$@" >"$log.out" 2>"$log.err" &
    pids+=($!)
    for _ in $(seq 100); do
        if grep -q '^ready ' "$log.out" 2>/dev/null; then url=$(sed -n 's/^ready //p' "$log.out" | head -1); return 0; fi
        sleep 0.1
    done
    echo "failed to start: $*" >&2; cat "$log.err" >&2; return 1
}

cluster_demo() {
    local api wh ca
    start "$work/apiserver" "$build/dpm-test-apiserver" --dir "$work/apiserver" --port 0 || return 1
    api=$url
    export KUBECONFIG=$work/apiserver/admin.kubeconfig
    k() { timeout 30 kubectl "$@"; }
    step "The in-tree Kubernetes API server is up at $api; install the CRDs with kubectl"
    run k apply -f crds/
    k wait --for=condition=Established crd/dataproducts.mesh.io crd/meshpolicies.mesh.io --timeout=20s >/dev/null

    step "Start dpm webhook (TLS, certificate from dpm certs, the mesh's policies) and register it"
    "$dpm" certs --service dpm-webhook --namespace dpm-system --out "$work/certs" --ip 127.0.0.1 2>/dev/null
    start "$work/webhook" "$dpm" webhook --cert-dir "$work/certs" --listen 127.0.0.1:0 \
        -p examples/policies/gdpr-baseline.yaml -p examples/policies/resource-ceilings.yaml || return 1
    wh=$url
    echo "dpm webhook serving at $wh"
    ca=$(base64 -w0 "$work/certs/ca.crt")
    for kind in Validating Mutating; do
        local ep=validate; [ $kind = Mutating ] && ep=mutate
        cat <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ${kind}WebhookConfiguration
metadata: {name: dpm, labels: {app.kubernetes.io/name: dpm}}
webhooks:
  - name: $ep.dataproducts.mesh.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 5
    clientConfig: {url: "$wh/$ep", caBundle: "$ca"}
    rules:
      - {apiGroups: [mesh.io], apiVersions: [v1alpha1], resources: [dataproducts], operations: [CREATE, UPDATE]}
---
YAML
    done | run k apply -f -
    for ns in fintech-core merchant-core risk-analytics crm; do k create namespace $ns >/dev/null; done

    step "Domain teams apply their products: admitted (and defaulted by /mutate)"
    run k apply -f examples/dataproducts/merchants.yaml -f examples/dataproducts/payment-transactions-enriched.yaml
    run k get dp merchants -n merchant-core -o jsonpath='{.metadata.labels}{"\n"}{.spec.transformation.image} {.spec.transformation.schedule} {.spec.deletionPolicy}{"\n"}'

    step "A product over the platform's resource ceilings: admitted, with the Warn policy's warning"
    run k apply -f examples/dataproducts/fraud-scores.yaml

    step "Untagged PII stored outside the EU: rejected by the gdpr-baseline MeshPolicy, every reason stated"
    run k apply -f examples/invalid/untagged-pii-outside-eu.yaml

    step "A broken contract: rejected (the CRD's schema catches what OpenAPI can, before the webhook)"
    run k apply -f examples/invalid/broken-contract.yaml

    step "An update that breaks the schema's readers: rejected by the compatibility check"
    run k apply -f examples/update/payment-transactions-enriched-v2-breaking.yaml 2>&1 | grep -v '^{' | grep -v '^to:$'

    step "What is stored (the operator, which fills in Phase and creates the children, is the next milestone)"
    run k get dp -A
    run k get mp 2>/dev/null || true
}

if command -v kubectl >/dev/null && [ -x "$build/dpm-test-apiserver" ]; then
    cluster_demo || echo "the cluster part of the demo failed; see above"
else
    echo "kubectl or $build/dpm-test-apiserver is missing: showing the offline CLI only"
fi

step "The same checks offline, for CI pipelines: dpm validate"
run "$dpm" validate -p examples/policies/gdpr-baseline.yaml examples/invalid/untagged-pii-outside-eu.yaml
run "$dpm" validate examples/invalid/broken-contract.yaml
run "$dpm" validate --old examples/dataproducts/payment-transactions-enriched.yaml \
    examples/update/payment-transactions-enriched-v2-breaking.yaml

step "The seed's manifest (metadata.domain/owner) is rejected; dpm convert makes it canonical"
run "$dpm" validate examples/seed/payment-transactions-enriched.yaml
printf '%s$ dpm convert examples/seed/payment-transactions-enriched.yaml | dpm validate -%s\n' "$bold" "$off"
"$dpm" convert examples/seed/payment-transactions-enriched.yaml | "$dpm" validate -; echo "(exit $?)"

step "The mesh's lineage (DOT; -f svg renders it with Graphviz)"
run "$dpm" lineage examples/dataproducts/*.yaml
