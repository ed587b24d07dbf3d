#!/usr/bin/env bash
# make demo: dpm end to end on this machine, step by step, with the binaries
# of BUILD (default build/) and the stock kubectl: the in-tree Kubernetes API
# server, the CRDs, `dpm webhook` registered by URL and caBundle, `dpm
# operator`, then a domain team's and a platform team's day.
#   examples/demo.sh [BUILD]          the demo
#   examples/demo.sh --down [BUILD]   stops what an interrupted demo left running
# On a terminal it pauses before each step (Enter goes on) and keeps the
# cluster up at the end for exploring, until Ctrl-C; otherwise
# (DPM_DEMO_PAUSE=0, or stdin not a terminal) it runs through and stops.
# Ctrl-C at any point stops everything it started. Everything listens on
# 127.0.0.1; the state (logs, certificates, kubeconfig, the pids) is in
# DPM_DEMO_DIR (default BUILD/demo) and removed on exit.
set -u
cd "$(dirname "$0")/.."
down=0
[ "${1:-}" = --down ] && { down=1; shift; }
build=${1:-build}
dpm=$build/dpm
state=${DPM_DEMO_DIR:-$build/demo}
mkdir -p "$(dirname "$state")"
state=$(cd "$(dirname "$state")" && pwd)/$(basename "$state")

# Stops every process the pids file names, if it is still ours (its command
# line names this state directory or a dpm binary: a pid may have been
# reused).
ours() {
    local cmd
    { cmd=$(tr '\0' ' ' <"/proc/$1/cmdline"); } 2>/dev/null || return 1
    case $cmd in *"$state"*|*dpm*) return 0 ;; *) return 1 ;; esac
}
stop_all() {
    local pid name
    [ -f "$state/pids" ] || return 0
    while read -r pid name; do
        ours "$pid" || continue
        kill -TERM "$pid" 2>/dev/null && echo "stopping $name (pid $pid)"
    done <"$state/pids"
    for _ in $(seq 50); do
        local alive=0
        # kill -0: an exited one counts until it is reaped
        while read -r pid name; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$state/pids"
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    # pids are reused (pid_max may be 32768): only ours are killed
    while read -r pid name; do ours "$pid" && kill -KILL "$pid" 2>/dev/null; done <"$state/pids"
    rm -f "$state/pids"
}

if [ $down -eq 1 ]; then
    stop_all
    rm -rf "$state"
    echo "demo stopped; $state removed"
    exit 0
fi

if [ -f "$state/pids" ]; then
    echo "a previous demo left processes running; stopping them first"
    stop_all
fi
rm -rf "$state"
mkdir -p "$state"
cleanup() {
    trap - EXIT INT TERM
    stop_all
    wait 2>/dev/null
    rm -rf "$state"
    echo "demo stopped: nothing left running"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

pause=${DPM_DEMO_PAUSE:-}
if [ -z "$pause" ]; then if [ -t 0 ] && [ -t 1 ]; then pause=1; else pause=0; fi; fi
bold= off=
[ -t 1 ] && { bold=$(tput bold 2>/dev/null || true); off=$(tput sgr0 2>/dev/null || true); }
n=0
step() {
    n=$((n + 1))
    [ "$pause" = 1 ] && [ $n -gt 1 ] && read -r -p "(Enter: next step) " _
    printf '\n%s== %d. %s%s\n' "$bold" "$n" "$*" "$off"
}
say() { printf '%s\n' "$*" | fold -s -w 100; }
# run CMD...: prints it as one would type it (arguments with spaces or
# shell characters in single quotes), then runs it.
run() {
    local a line=
    for a in "$@"; do
        case $a in *[\ \"\'{}\$\|\&\;\(\)\<\>\*\?\[]*) a="'${a//\'/\'\\\'\'}'" ;; esac
        line="$line${line:+ }$a"
    done
    printf '%s$ %s%s\n' "$bold" "$line" "$off"
    "$@"
    echo "(exit $?)"
}
# shown: prints a pipeline as typed, then runs it.
shown() { printf '%s$ %s%s\n' "$bold" "$1" "$off"; bash -o pipefail -c "$1"; echo "(exit $?)"; }

# Starts a server that prints "ready URL" (or "ready") and sets $url to the
# URL; the pid goes to the pids file at once, so Ctrl-C and --down find it.
start() {
    local name=$1; shift
    url=
    "$@" >"$state/$name.out" 2>"$state/$name.err" &
    echo "$! $name" >>"$state/pids"
    echo "started $name (pid $!, log $state/$name.err)"
    for _ in $(seq 200); do
        if grep -q '^ready' "$state/$name.out" 2>/dev/null; then
            url=$(sed -n 's/^ready //p' "$state/$name.out" | head -1); return 0
        fi
        kill -0 $! 2>/dev/null || break
        sleep 0.1
    done
    echo "failed to start $name: $*" >&2; tail -5 "$state/$name.err" >&2; return 1
}

for f in "$dpm" "$build/dpm-test-apiserver"; do
    [ -x "$f" ] || { echo "$f is missing: run make first (make demo builds it)"; exit 1; }
done
command -v kubectl >/dev/null || { echo "kubectl is missing: make deps installs Debian's"; exit 1; }
export KUBECONFIG=$state/apiserver/admin.kubeconfig
# kubectl's discovery cache stays with the demo.
export KUBECACHEDIR=$state/kube-cache
kubectl_bin=$(command -v kubectl)
# --foreground: kubectl stays in the demo's process group, so Ctrl-C reaches
# it (and the demo's trap runs at once).
kubectl() { timeout --foreground 60 "$kubectl_bin" "$@"; }
export kubectl_bin
export -f kubectl

say "dpm demo: a Kubernetes API server, dpm's admission webhook and operator on this machine (127.0.0.1), driven with the stock kubectl ($(command kubectl version --client 2>/dev/null | head -1))."

step "Start a Kubernetes API server (the in-tree one of the tests) and install dpm's CRDs"
start apiserver "$build/dpm-test-apiserver" --dir "$state/apiserver" --port 0 || exit 1
say "API server at $url; KUBECONFIG=$KUBECONFIG"
run kubectl apply -f crds/
kubectl wait --for=condition=Established crd/dataproducts.mesh.io crd/meshpolicies.mesh.io --timeout=20s >/dev/null

step "Start dpm webhook and register it with the API server (by URL, with its CA as caBundle)"
say "dpm certs makes a CA and a serving certificate; in a cluster the chart or dpm webhook --self-signed-secret does this."
"$dpm" certs --service dpm-webhook --namespace dpm-system --out "$state/certs" --ip 127.0.0.1 >/dev/null || exit 1
start webhook "$dpm" webhook --cert-dir "$state/certs" --listen 127.0.0.1:0 --kubeconfig "$KUBECONFIG" || exit 1
wh=$url
say "dpm webhook serving at $wh; it watches the cluster's MeshPolicies"
ca=$(base64 -w0 "$state/certs/ca.crt")
cat >"$state/webhooks.yaml" <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: dpm}
webhooks:
  - name: validate.dataproducts.mesh.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 5
    clientConfig: {url: "$wh/validate", caBundle: "$ca"}
    rules:
      - {apiGroups: [mesh.io], apiVersions: [v1alpha1], resources: [dataproducts], operations: [CREATE, UPDATE]}
  - name: validate.meshpolicies.mesh.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 5
    clientConfig: {url: "$wh/validate-policy", caBundle: "$ca"}
    rules:
      - {apiGroups: [mesh.io], apiVersions: [v1alpha1], resources: [meshpolicies], operations: [CREATE, UPDATE]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: dpm}
webhooks:
  - name: mutate.dataproducts.mesh.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 5
    clientConfig: {url: "$wh/mutate", caBundle: "$ca"}
    rules:
      - {apiGroups: [mesh.io], apiVersions: [v1alpha1], resources: [dataproducts], operations: [CREATE, UPDATE]}
YAML
run kubectl apply -f "$state/webhooks.yaml"

step "Start dpm operator"
start operator "$dpm" operator --kubeconfig "$KUBECONFIG" --metrics-addr 127.0.0.1:0 \
    --health-addr 127.0.0.1:0 --spark-operator auto || exit 1
say "dpm operator ready: metrics on port $(sed -n 's/^metrics-port //p' "$state/operator.out"); JSON-line logs in $state/operator.err"
for ns in fintech-core merchant-core risk-analytics crm; do kubectl create namespace $ns >/dev/null; done

step "The seed's manifest, as first written: rejected by Kubernetes itself"
say "Its domain and owner sit under metadata, which Kubernetes' ObjectMeta does not have:"
run kubectl apply -f examples/seed/payment-transactions-enriched.yaml

step "dpm convert makes it a canonical DataProduct (spec.domain, spec.owner); kubectl apply admits it"
run "$dpm" convert examples/seed/payment-transactions-enriched.yaml
shown "$dpm convert examples/seed/payment-transactions-enriched.yaml | kubectl apply -f -"
say "Admitted with a warning (no schema). The mutating webhook added defaults and the mesh.io/domain label:"
run kubectl get dp payment-transactions-enriched -n fintech-core \
    -o jsonpath='{.metadata.labels}{"\n"}{.spec.transformation.schedule} {.spec.transformation.image} {.spec.deletionPolicy}{"\n"}'

step "The platform team installs its MeshPolicies: gdpr-baseline (Deny) and resource-ceilings (Warn)"
run kubectl apply -f examples/policies/
run kubectl get mp
say "The operator judges every stored product against them; the seed's product has no description, so gdpr-baseline marks it non-compliant (it was stored before the policy; nothing is deleted):"
kubectl wait --for=condition=Compliant=false dp/payment-transactions-enriched -n fintech-core --timeout=20s >/dev/null
run kubectl get dp payment-transactions-enriched -n fintech-core \
    -o jsonpath='{range .status.conditions[?(@.type=="Compliant")]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'

step "A non-compliant product: rejected at admission, with every reason"
run kubectl apply -f examples/invalid/untagged-pii-outside-eu.yaml

step "The domain teams apply their finished products: admitted"
say "payment-transactions-enriched now has a description, a schema, an EU region and a retention (an update of the seed's product: adding a schema is compatible); merchants is the product it reads."
run kubectl apply -f examples/dataproducts/merchants.yaml -f examples/dataproducts/payment-transactions-enriched.yaml

step "A Warn policy: admitted, with its warnings"
run kubectl apply -f examples/dataproducts/fraud-scores.yaml

step "A breaking schema change: rejected (schemaCompatibility BACKWARD_TRANSITIVE)"
say "v2 renames and retypes fields its readers depend on:"
shown "kubectl apply -f examples/update/payment-transactions-enriched-v2-breaking.yaml 2>&1 | grep -v '^{' | grep -v '^to:\$'"

step "kubectl get dp: the printer columns Domain, Owner, Phase, Freshness, Age"
kubectl wait --for=jsonpath='{.status.phase}'=Provisioning dp/merchants -n merchant-core --timeout=30s >/dev/null
run kubectl get dp -A
say "Provisioning: the operator created the product's children and waits for its storage claims to be bound. Pending: a product waits for a data-product input to be Ready (payment-transactions-enriched reads merchants, fraud-scores reads payment-transactions-enriched)."

step "The children the operator made (label mesh.io/data-product)"
run kubectl get pvc,cronjob,cm,svc,sa,role,rolebinding -n fintech-core -l mesh.io/data-product=payment-transactions-enriched
say "Every child carries app.kubernetes.io/managed-by=dpm, mesh.io/data-product and mesh.io/domain; all but a retained claim are owned by the DataProduct (deleted with it)."

step "Storage bound, the stream running: the products become Ready"
say "This API server runs no storage provisioner and no Job controller, so the demo does their work: it marks each claim Bound and the streaming product's Job (fraud-scores) running, as a cluster would."
# Claims appear as their products are reconciled: bind until every product
# is Ready (30 s at most).
for _ in $(seq 30); do
    for ns_name in $(kubectl get pvc -A -l app.kubernetes.io/managed-by=dpm \
            -o jsonpath='{range .items[?(@.status.phase!="Bound")]}{.metadata.namespace}/{.metadata.name}{" "}{end}'); do
        kubectl patch pvc "${ns_name#*/}" -n "${ns_name%%/*}" --subresource=status --type=merge \
            -p '{"status":{"phase":"Bound"}}' >/dev/null
    done
    for ns_name in $(kubectl get job -A -l app.kubernetes.io/managed-by=dpm \
            -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}/{.status.active}{" "}{end}'); do
        [ "${ns_name##*/}" = 1 ] && continue
        ns_name=${ns_name%/*}
        kubectl patch job "${ns_name#*/}" -n "${ns_name%%/*}" --subresource=status --type=merge \
            -p "{\"status\":{\"active\":1,\"startTime\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}}" >/dev/null
    done
    [ -z "$(kubectl get dp -A -o jsonpath='{.items[?(@.status.phase!="Ready")].metadata.name}')" ] && break
    sleep 1
done
run kubectl wait --for=condition=Ready dp --all -A --timeout=30s
run kubectl get dp -A

step "kubectl describe dp: the status, its conditions and the operator's events"
run kubectl describe dp payment-transactions-enriched -n fintech-core

step "The mesh's lineage graph, from what is stored"
shown "kubectl get dp -A -o yaml | $dpm lineage -"
if command -v dot >/dev/null; then
    kubectl get dp -A -o yaml | "$dpm" lineage -f svg - >"$build/mesh.svg" 2>/dev/null &&
        say "Rendered with Graphviz: $build/mesh.svg"
fi

step "The same checks offline, for CI pipelines: dpm validate"
run "$dpm" validate -p examples/policies/gdpr-baseline.yaml examples/invalid/untagged-pii-outside-eu.yaml
run "$dpm" validate --old examples/dataproducts/payment-transactions-enriched.yaml \
    examples/update/payment-transactions-enriched-v2-breaking.yaml

if [ "$pause" = 1 ]; then
    printf '\n%sThe cluster stays up for you to explore:%s\n' "$bold" "$off"
    say "  export KUBECONFIG=$KUBECONFIG"
    say "  kubectl get dp -A -w     kubectl get events -A     curl -s 127.0.0.1:$(sed -n 's/^metrics-port //p' "$state/operator.out")/metrics | grep ^dpm_"
    say "Ctrl-C stops everything (or make demo-down from another terminal)."
    while :; do sleep 1; done
fi
say "The end. Run make demo on a terminal to go step by step and keep the cluster up."
