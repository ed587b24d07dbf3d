# The Helm chart charts/dpm with both helm majors (tests/e2e/support/get-helm.sh:
# helm 4.1.4, server-side apply; helm 3.17.1, client-side three-way merge):
#   chart_render       helm lint --strict, helm template per certificate mode
#                      (parsed: tests/e2e/support/chart_render.py), values refused
#   chart_helm4/3      install (self-managed certificates) with RBAC on, then the
#                      locally built `dpm webhook` and `dpm operator` run with the
#                      args of the chart's Deployments and the chart's ServiceAccount
#                      tokens (TokenRequest): the webhook makes its Secret and writes
#                      the caBundle, a DataProduct is admitted (and mutated), another
#                      rejected, the admitted one reconciled, the namespaceSelector
#                      does what docs/install.md says, helm test passes, helm upgrade
#                      keeps the caBundle, helm uninstall leaves what docs/install.md
#                      says it leaves
#   chart_cert_modes   install / upgrade / uninstall with cert-manager (its CRDs as
#                      stand-ins: tests/e2e/helm/cert-manager-crds.yaml) and with an
#                      existing Secret, both majors
# On the in-tree server the webhook configurations call the chart's Service,
# which an extra in-tree server maps to the local webhook (--webhook-service-map);
# on a real cluster (make e2e-real) there is no cluster network, so the chart's
# webhook.url points the API server at the local webhook instead.  The commands
# of docs/install.md are the ones run here.  Without npm or the registry the
# scenarios are skipped (neither passed nor failed).

chart_get_helm() { # MAJOR -> HELM
    HELM=$("$E2E_ROOT/tests/e2e/support/get-helm.sh" "$1" 2>"$E2E_TMP/get-helm.err") ||
        skip "helm $1: $(tail -1 "$E2E_TMP/get-helm.err")"
}

chart_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A kubeconfig that authenticates with a TokenRequest token of one
# ServiceAccount only (no client certificate): what a pod of the chart has.
chart_sa_kubeconfig() { # SA NS FILE
    local tok server
    tok=$(k create token "$1" -n "$2" --duration=30m) || fail "no token for $2/$1"
    server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
    kubectl config view --raw --minify --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
        base64 -d > "$3.ca"
    KUBECONFIG=$3 kubectl config set-cluster c --server="$server" --certificate-authority="$3.ca" --embed-certs >/dev/null
    KUBECONFIG=$3 kubectl config set-credentials u --token="$tok" >/dev/null
    KUBECONFIG=$3 kubectl config set-context c --cluster=c --user=u --namespace="$2" >/dev/null
    KUBECONFIG=$3 kubectl config use-context c >/dev/null
}

# The args of a Deployment's container with some replaced (NAME=VALUE), one a line.
chart_args() { # DEPLOY NS REPLACEMENTS...
    local d=$1 ns=$2
    shift 2
    k get deployment "$d" -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].args}' |
        python3 -c 'import json, sys
args = json.load(sys.stdin)
repl = dict(a.split("=", 1) for a in sys.argv[1:])
for a in args:
    k = a.split("=", 1)[0]
    print(k + "=" + repl[k] if k in repl else a)' "$@"
}

scenario_chart_render() {
    local major out mode ns=dpm-system cr=$E2E_ROOT/charts/dpm/files/operator-clusterrole.yaml
    local chart=$E2E_ROOT/charts/dpm
    helm() { timeout 120 "$HELM" "$@"; }
    for major in 4 3; do
        chart_get_helm "$major"
        out=$(helm lint --strict charts/dpm 2>&1) || fail "helm $major lint --strict: $out"
        assert_contains "$out" "1 chart(s) linted, 0 chart(s) failed" "helm $major lint"
        for mode in selfManaged certManager existingSecret; do
            local set=()
            case $mode in
            certManager) set=(--set certManager.enabled=true) ;;
            existingSecret) set=(--set existingSecret.name=my-tls --set existingSecret.caBundle=QUJD) ;;
            esac
            helm template dpm charts/dpm --namespace dpm-system "${set[@]}" > "$E2E_TMP/$mode.yaml" 2> "$E2E_TMP/err" ||
                fail "helm $major template ($mode): $(cat "$E2E_TMP/err")"
            out=$(python3 "$E2E_ROOT/tests/e2e/support/chart_render.py" "$mode" "$ns" "$cr" < "$E2E_TMP/$mode.yaml" 2>&1) ||
                fail "helm $major template ($mode): $out"
        done
        # the optional Prometheus Operator objects
        helm template dpm charts/dpm --namespace dpm-system --set metrics.serviceMonitor.enabled=true \
            --set metrics.prometheusRule.enabled=true > "$E2E_TMP/monitoring.yaml" 2>&1 ||
            fail "helm $major template (monitoring): $(cat "$E2E_TMP/monitoring.yaml")"
        out=$(python3 - "$E2E_TMP/monitoring.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sm = [d for d in docs if d["kind"] == "ServiceMonitor"][0]
pr = [d for d in docs if d["kind"] == "PrometheusRule"][0]
print(" ".join(e["port"] + "/" + e.get("scheme", "http") for e in sm["spec"]["endpoints"]),
      " ".join(r["alert"] for g in pr["spec"]["groups"] for r in g["rules"]))
PY
)
        assert_eq "$out" "metrics/http https/https DpmWebhookErrors DpmWebhookSlow DpmReconcileErrors DpmDataProductsNotReady" \
            "helm $major: ServiceMonitor endpoints and alerts"
        # values the chart refuses, with the reason
        out=$("$HELM" template dpm "$chart" --set existingSecret.name=x 2>&1) && fail "existingSecret without caBundle rendered"
        assert_contains "$out" "existingSecret.caBundle" "helm $major: existingSecret without caBundle"
        out=$("$HELM" template dpm "$chart" --set existingSecret.name=x --set existingSecret.caBundle=QUJD \
            --set certManager.enabled=true 2>&1) && fail "two certificate modes rendered"
        assert_contains "$out" "not both" "helm $major: two certificate modes"
        out=$("$HELM" template dpm "$chart" --set operator.leaderElect=false 2>&1) && fail "2 replicas without leader election rendered"
        assert_contains "$out" "needs operator.leaderElect" "helm $major: replicas without leader election"
        out=$("$HELM" template dpm "$chart" --set webhook.failurePolicy=Sometimes 2>&1) && fail "a bad failurePolicy rendered"
        assert_contains "$out" "failurePolicy" "helm $major: values.schema.json"
        out=$("$HELM" template dpm "$chart" --set operator.replica=3 2>&1) && fail "a misspelt value rendered"
        assert_contains "$out" "replica" "helm $major: unknown value refused"
        # what chart_keys.py checks on the sources holds for the rendered objects too
        out=$(python3 - "$E2E_TMP/selfManaged.yaml" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if not d: continue
    ps = d.get("spec", {}).get("template", {}).get("spec") if d["kind"] == "Deployment" else None
    for c in (ps or {}).get("containers", []):
        for v in c.get("volumeMounts", []):
            assert v.get("mountPath"), (d["metadata"]["name"], v)
print("ok")
PY
)
        assert_eq "$out" "ok" "rendered keys"
    done
}

# One helm major through the whole life of a release, with the operator and
# the webhook at work under the chart's RBAC.
chart_lifecycle() { # MAJOR
    local major=$1 rel=dpm ns=dpm-system app port out set=()
    chart_get_helm "$major"
    # docs/install.md's commands, as written there (run-suite.sh runs from the
    # repository's root, so charts/dpm is the chart)
    helm() { timeout 120 "$HELM" "$@"; }
    port=$(chart_free_port)
    if [ "${E2E_INTREE:-0}" = 1 ]; then
        # the webhook configurations call the chart's Service: this server maps it here
        extra_server "chart$major" --webhook-service-map "$ns/$rel-webhook:443=127.0.0.1:$port" \
            ${E2E_EMULATE:+--emulate-version "$E2E_EMULATE"}
        export KUBECONFIG=$XS_KUBECONFIG
    else
        local_only "the API server calls the webhook on this machine's loopback"
        set=(--set "webhook.url=https://127.0.0.1:$port" --set "webhook.selfSignedIPs={127.0.0.1}")
        # a shared cluster: a release an earlier failed scenario left goes first
        if helm status dpm --namespace dpm-system >/dev/null 2>&1; then
            helm uninstall dpm --namespace dpm-system >/dev/null 2>&1 || fail "a leftover release could not be uninstalled"
        fi
    fi
    app=$(new_ns "chartapp$major")

    # ---- install ----
    out=$(helm install dpm charts/dpm --namespace dpm-system --create-namespace "${set[@]}" 2>&1) ||
        fail "helm $major install: $out"
    assert_contains "$out" "STATUS: deployed" "helm $major install"
    assert_contains "$out" "certificates: selfManaged" "NOTES.txt"
    k wait --for=condition=Established crd/dataproducts.mesh.io crd/meshpolicies.mesh.io --timeout=30s >/dev/null ||
        fail "CRDs of the chart not established"
    out=$(kubectl get deploy,svc,pdb --namespace dpm-system -l app.kubernetes.io/instance=dpm 2>&1) || fail "get: $out"
    assert_contains "$out" "deployment.apps/dpm-webhook" "kubectl get deploy,svc,pdb"
    assert_contains "$out" "poddisruptionbudget.policy/dpm-webhook" "kubectl get deploy,svc,pdb"
    # upgrading the CRDs (helm never does): server-side, taking the fields helm created
    out=$(kubectl apply --server-side --force-conflicts -f charts/dpm/crds/ 2>&1) || fail "CRD upgrade: $out"
    assert_contains "$out" "dataproducts.mesh.io serverside-applied" "CRD upgrade"
    local mf
    mf=$(k get deployment "$rel-operator" -n "$ns" -o jsonpath='{.metadata.managedFields[0].manager}/{.metadata.managedFields[0].operation}')
    if [ "$major" = 4 ]; then assert_eq "$mf" "helm/Apply" "helm 4 applies server-side"
    else assert_eq "$mf" "helm/Update" "helm 3 creates client-side"; fi
    assert_eq "$(k get deployment "$rel-operator" "$rel-webhook" -n "$ns" -o jsonpath='{.items[*].spec.replicas}')" "2 2" "replicas"
    assert_eq "$(k get service "$rel-webhook" -n "$ns" -o jsonpath='{.spec.ports[0].protocol}/{.spec.ports[0].port}')" "TCP/443" "Service"
    assert_eq "$(k get validatingwebhookconfiguration "$rel-validate" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" "" \
        "caBundle before the webhook ran"

    # ---- the chart's ServiceAccounts, RBAC on ----
    chart_sa_kubeconfig "$rel-operator" "$ns" "$E2E_TMP/op.kubeconfig"
    chart_sa_kubeconfig "$rel-webhook" "$ns" "$E2E_TMP/wh.kubeconfig"
    assert_eq "$(KUBECONFIG=$E2E_TMP/op.kubeconfig k auth can-i list dataproducts.mesh.io --all-namespaces)" "yes" "operator token: DataProducts"
    assert_eq "$(KUBECONFIG=$E2E_TMP/op.kubeconfig k auth can-i list secrets -n "$app" 2>/dev/null)" "no" "operator token: no Secrets"
    assert_eq "$(KUBECONFIG=$E2E_TMP/wh.kubeconfig k auth can-i watch meshpolicies.mesh.io)" "yes" "webhook token: MeshPolicies"
    assert_eq "$(KUBECONFIG=$E2E_TMP/wh.kubeconfig k auth can-i get secrets/other -n "$ns" 2>/dev/null)" "no" "webhook token: only its Secret"
    assert_eq "$(KUBECONFIG=$E2E_TMP/wh.kubeconfig k auth can-i list dataproducts.mesh.io -n "$app" 2>/dev/null)" "no" "webhook token: no DataProducts"

    # ---- dpm webhook and dpm operator, with the args of the chart's Deployments ----
    local -a wargs oargs
    mapfile -t wargs < <(chart_args "$rel-webhook" "$ns" "--listen=127.0.0.1:$port")
    mapfile -t oargs < <(chart_args "$rel-operator" "$ns" --metrics-addr=127.0.0.1:0 --health-addr=127.0.0.1:0)
    assert_contains "${wargs[*]}" "--self-signed-secret=$ns/$rel-webhook-tls" "webhook args"
    assert_contains "${oargs[*]}" "--leader-elect" "operator args"
    "$E2E_BIN/dpm" "${wargs[@]}" --kubeconfig "$E2E_TMP/wh.kubeconfig" > "$E2E_TMP/wh.out" 2> "$E2E_TMP/wh.err" &
    echo $! >> "$E2E_TMP/pids"
    local wh_pid=$!
    wait_for 30 grep -q '^ready ' "$E2E_TMP/wh.out" || fail "webhook not ready: $(tail -3 "$E2E_TMP/wh.err")"
    "$E2E_BIN/dpm" "${oargs[@]}" --kubeconfig "$E2E_TMP/op.kubeconfig" > "$E2E_TMP/op.out" 2> "$E2E_TMP/op.err" &
    echo $! >> "$E2E_TMP/pids"
    local op_pid=$!
    wait_for 30 grep -qx ready "$E2E_TMP/op.out" || fail "operator not ready: $(tail -3 "$E2E_TMP/op.err")"
    # the webhook made its Secret and wrote the caBundle, with its own token
    assert_eq "$(k get secret "$rel-webhook-tls" -n "$ns" -o jsonpath='{.type}')" "kubernetes.io/tls" "self-managed Secret"
    wait_for 20 test -n "$(k get mutatingwebhookconfiguration "$rel-mutate" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" ||
        fail "caBundle not written: $(grep -i error "$E2E_TMP/wh.err" | head -2)"
    assert_eq "$(k get validatingwebhookconfiguration "$rel-validate" -o jsonpath='{.webhooks[1].clientConfig.caBundle}')" \
        "$(k get secret "$rel-webhook-tls" -n "$ns" -o jsonpath='{.data.ca\.crt}')" "caBundle is the Secret's CA"
    # "ready" is printed once the caches are synced; the Lease follows
    wait_for 20 bash -c "[ -n \"\$(timeout 10 kubectl get lease dpm-operator -n $ns -o jsonpath='{.spec.holderIdentity}')\" ]" ||
        fail "operator holds the Lease: none after 20 s: $(tail -3 "$E2E_TMP/op.err")"

    # ---- admission under the chart's webhook configurations ----
    k apply -f "$E2E_ROOT/examples/policies/gdpr-baseline.yaml" >/dev/null || fail "a MeshPolicy through /validate-policy"
    sed "s/namespace: merchant-core/namespace: $app/" "$E2E_ROOT/examples/dataproducts/merchants.yaml" > "$E2E_TMP/merchants.yaml"
    out=$(k apply -f "$E2E_TMP/merchants.yaml" 2>&1) || fail "compliant DataProduct refused: $out"
    assert_eq "$(k get dp merchants -n "$app" -o jsonpath='{.metadata.labels.mesh\.io/domain}')" "merchant-core" \
        "the mutating webhook's label"
    sed "s/namespace: crm/namespace: $app/" "$E2E_ROOT/examples/invalid/untagged-pii-outside-eu.yaml" > "$E2E_TMP/pii.yaml"
    out=$(k apply -f "$E2E_TMP/pii.yaml" 2>&1) && fail "a non-compliant DataProduct was stored"
    assert_contains "$out" 'admission webhook "validate.dataproducts.mesh.io" denied the request' "rejection"
    assert_contains "$out" "violations:" "rejection lists the violations"
    # the namespaceSelector: the release namespace is exempt by kubernetes.io/metadata.name,
    # which Kubernetes sets from 1.21 on; on 1.20 no namespace carries it, nothing is exempt
    sed "s/namespace: $app/namespace: $ns/" "$E2E_TMP/pii.yaml" > "$E2E_TMP/pii-release-ns.yaml"
    if [ -n "$(k get namespace "$ns" -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name}')" ]; then
        out=$(k apply -f "$E2E_TMP/pii-release-ns.yaml" 2>&1) || fail "the release namespace is not exempt: $out"
        k delete -f "$E2E_TMP/pii-release-ns.yaml" >/dev/null
    else
        out=$(k apply -f "$E2E_TMP/pii-release-ns.yaml" 2>&1) && fail "exempt without the label"
        assert_contains "$out" "denied the request" "no namespace is exempt without kubernetes.io/metadata.name"
    fi

    # ---- the operator reconciles under its ClusterRole ----
    wait_for 30 k get pvc merchants-merchants-current -n "$app" || fail "no claim: $(tail -3 "$E2E_TMP/op.err")"
    wait_for 30 test "$(k get dp merchants -n "$app" -o jsonpath='{.status.observedGeneration}')" = 1 ||
        fail "no status: $(grep -i forbidden "$E2E_TMP/op.err" | head -2)"
    [ -n "$(k get configmap -n "$app" -l mesh.io/data-product=merchants -o name)" ] || fail "no contract ConfigMap"
    assert_contains "$(k get events -n "$app" -o jsonpath='{.items[*].reason}')" "Created" "events written"

    # ---- helm test: the API server admits the test MeshPolicy through the webhook ----
    out=$(helm test dpm --namespace dpm-system 2>&1) || fail "helm $major test: $out"
    printf "%s\n" "$out" > "$E2E_TMP/helm-test.out"
    assert_contains "$out" "$rel-helm-test" "helm test ran the hook"
    assert_contains "$out" "Succeeded" "helm test"
    wait_for 10 bash -c "! timeout 10 kubectl get meshpolicy $rel-helm-test" || fail "test MeshPolicy left behind"

    # ---- upgrade: a value changes, the caBundle the webhook wrote stays ----
    out=$(helm upgrade dpm charts/dpm --namespace dpm-system --reuse-values --set webhook.timeoutSeconds=7 2>&1) ||
        fail "helm $major upgrade: $out"
    assert_contains "$out" "REVISION: 2" "upgrade"
    assert_eq "$(k get validatingwebhookconfiguration "$rel-validate" -o jsonpath='{.webhooks[0].timeoutSeconds}')" "7" "upgraded value"
    [ -n "$(k get validatingwebhookconfiguration "$rel-validate" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" ] ||
        fail "helm $major upgrade wiped the caBundle"
    out=$(k apply -f "$E2E_TMP/pii.yaml" 2>&1) && fail "non-compliant DataProduct stored after the upgrade"
    assert_contains "$out" "denied the request" "the webhook answers after the upgrade"

    kill -TERM "$op_pid" "$wh_pid"
    wait "$op_pid" || fail "operator exit code after SIGTERM"
    wait "$wh_pid" || fail "webhook exit code after SIGTERM"
    # helm test fails while the webhook is down (failurePolicy Fail): it tests the webhook
    out=$(helm test dpm --namespace dpm-system 2>&1) && fail "helm $major test passed without a webhook: $out"
    assert_contains "$out" "failed calling webhook" "helm test without a webhook"
    if grep -qi forbidden "$E2E_TMP/op.err" "$E2E_TMP/wh.err"; then
        fail "forbidden under the chart's RBAC: $(grep -hi forbidden "$E2E_TMP/op.err" "$E2E_TMP/wh.err" | head -3)"
    fi

    # ---- uninstall: the release goes; CRDs, DataProducts and the webhook's Secret stay ----
    out=$(helm uninstall dpm --namespace dpm-system 2>&1) || fail "helm $major uninstall: $out"
    local o
    for o in "deployment/$rel-operator -n $ns" "deployment/$rel-webhook -n $ns" "service/$rel-webhook -n $ns" \
        "validatingwebhookconfiguration/$rel-validate" "mutatingwebhookconfiguration/$rel-mutate" \
        "clusterrole/$rel-operator" "clusterrolebinding/$rel-webhook" "serviceaccount/$rel-operator -n $ns"; do
        wait_for 20 bash -c "! timeout 10 kubectl get $o" || fail "$o survived helm uninstall"
    done
    k get crd dataproducts.mesh.io meshpolicies.mesh.io >/dev/null || fail "helm uninstall removed the CRDs"
    k get dp merchants -n "$app" >/dev/null || fail "helm uninstall removed a DataProduct"
    k get secret "$rel-webhook-tls" -n "$ns" >/dev/null || fail "the webhook's Secret is not helm's: it should stay"
    # what docs/install.md says to delete by hand
    kubectl delete secret dpm-webhook-tls --namespace dpm-system >/dev/null || fail "delete the Secret"
    kubectl delete lease dpm-operator --namespace dpm-system >/dev/null || fail "delete the Lease"
    k delete meshpolicy gdpr-baseline >/dev/null
    k delete dp merchants -n "$app" >/dev/null
    if [ "${E2E_INTREE:-0}" = 1 ]; then
        # the last step of docs/install.md, on this scenario's own server only:
        # it deletes every DataProduct and MeshPolicy of the cluster
        kubectl delete crd dataproducts.mesh.io meshpolicies.mesh.io >/dev/null || fail "delete the CRDs"
        wait_for 20 bash -c "! timeout 10 kubectl get crd dataproducts.mesh.io" || fail "CRD not deleted"
        stop_server "$XS_PID"
    fi
}

scenario_chart_helm4() { chart_lifecycle 4; }
scenario_chart_helm3() { chart_lifecycle 3; }

# cert-manager and an existing Secret: install, upgrade, uninstall with each,
# both majors (no cert-manager runs here: its CRDs are stand-ins, so the
# Certificate is checked as written, not issued).  On the in-tree server each
# major gets a server of its own, so the commands are docs/install.md's.
scenario_chart_cert_modes() {
    local major out mode ca
    helm() { timeout 120 "$HELM" "$@"; }
    for major in 4 3; do
        chart_get_helm "$major"
        if [ "${E2E_INTREE:-0}" = 1 ]; then
            extra_server "certs$major" ${E2E_EMULATE:+--emulate-version "$E2E_EMULATE"}
            export KUBECONFIG=$XS_KUBECONFIG
        fi
        k apply -f tests/e2e/helm/cert-manager-crds.yaml >/dev/null || fail "cert-manager CRDs"
        k wait --for=condition=Established crd/certificates.cert-manager.io crd/issuers.cert-manager.io --timeout=30s >/dev/null ||
            fail "cert-manager CRDs not established"

        # ---- cert-manager ----
        out=$(helm install dpm charts/dpm --namespace dpm-system --create-namespace --set certManager.enabled=true 2>&1) ||
            fail "helm $major install (certManager): $out"
        assert_contains "$out" "certificates: certManager" "helm $major install (certManager): NOTES.txt"
        assert_contains "$(k get deployment dpm-webhook -n dpm-system -o jsonpath='{.spec.template.spec.containers[0].args}')" \
            "--cert-dir=/etc/dpm/tls" "certManager: webhook args"
        assert_eq "$(k get certificate dpm-webhook -n dpm-system -o jsonpath='{.spec.secretName}/{.spec.issuerRef.kind}')" \
            "dpm-webhook-tls/Issuer" "Certificate"
        k get issuer dpm-selfsigned -n dpm-system >/dev/null || fail "no Issuer"
        assert_eq "$(k get validatingwebhookconfiguration dpm-validate -o jsonpath='{.metadata.annotations.cert-manager\.io/inject-ca-from}')" \
            "dpm-system/dpm-webhook" "cainjector annotation"
        k get role dpm-webhook -n dpm-system >/dev/null 2>&1 && fail "certManager: a Secret Role the webhook does not need"
        out=$(helm upgrade dpm charts/dpm --namespace dpm-system --reuse-values --set webhook.replicas=3 2>&1) ||
            fail "helm $major upgrade (certManager): $out"
        assert_eq "$(k get deployment dpm-webhook -n dpm-system -o jsonpath='{.spec.replicas}')" "3" "certManager: upgraded"
        out=$(helm uninstall dpm --namespace dpm-system 2>&1) || fail "helm $major uninstall (certManager): $out"
        wait_for 20 bash -c "! timeout 10 kubectl get certificate dpm-webhook -n dpm-system" || fail "Certificate survived uninstall"

        # ---- an existing Secret ----
        # as docs/install.md does it, from a scratch directory (charts/ linked there)
        ln -sfn "$E2E_ROOT/charts" "$E2E_TMP/charts"
        rm -rf "$E2E_TMP/certs"
        out=$(cd "$E2E_TMP" && export PATH=$E2E_BIN:$PATH &&
            dpm certs --service dpm-webhook --namespace dpm-system --out certs &&
            kubectl create secret generic dpm-webhook-tls --namespace dpm-system --type kubernetes.io/tls --from-file=tls.crt=certs/tls.crt --from-file=tls.key=certs/tls.key --from-file=ca.crt=certs/ca.crt &&
            helm install dpm charts/dpm --namespace dpm-system --create-namespace --set existingSecret.name=dpm-webhook-tls --set existingSecret.caBundle="$(base64 -w0 < certs/ca.crt)" 2>&1) ||
            fail "helm $major install (existingSecret): $out"
        ca=$(base64 -w0 < "$E2E_TMP/certs/ca.crt")
        assert_contains "$out" "certificates: existingSecret" "helm $major install (existingSecret): NOTES.txt"
        assert_eq "$(k get deployment dpm-webhook -n dpm-system -o jsonpath='{.spec.template.spec.volumes[?(@.name=="tls")].secret.secretName}')" \
            "dpm-webhook-tls" "existingSecret: mounted"
        assert_eq "$(k get mutatingwebhookconfiguration dpm-mutate -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" \
            "$ca" "caBundle from the values"
        k get role dpm-webhook -n dpm-system >/dev/null 2>&1 && fail "existingSecret: a Secret Role the webhook does not need"
        out=$(helm upgrade dpm charts/dpm --namespace dpm-system --reuse-values --set webhook.replicas=3 2>&1) ||
            fail "helm $major upgrade (existingSecret): $out"
        assert_eq "$(k get deployment dpm-webhook -n dpm-system -o jsonpath='{.spec.replicas}')" "3" "existingSecret: upgraded"
        assert_eq "$(k get mutatingwebhookconfiguration dpm-mutate -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" \
            "$ca" "caBundle kept by the upgrade"
        out=$(helm uninstall dpm --namespace dpm-system 2>&1) || fail "helm $major uninstall (existingSecret): $out"
        wait_for 20 bash -c "! timeout 10 kubectl get deployment dpm-webhook -n dpm-system" || fail "survived uninstall"
        k get secret dpm-webhook-tls -n dpm-system >/dev/null || fail "uninstall removed the existing Secret (not the chart's)"
        kubectl delete secret dpm-webhook-tls --namespace dpm-system >/dev/null || fail "delete the Secret"
        k delete -f tests/e2e/helm/cert-manager-crds.yaml >/dev/null
        if [ "${E2E_INTREE:-0}" = 1 ]; then stop_server "$XS_PID"; fi
    done
}
