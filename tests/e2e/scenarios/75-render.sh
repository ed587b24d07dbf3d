# dpm render's objects are what an API server accepts: applied with
# server-side apply (which refuses list entries without their merge keys),
# applied again without change, in both flavours (the Spark operator's CRDs
# from ../shared/thirdparty/ validate the transformation), and on 1.20
# (CronJob as batch/v1beta1).

# The cluster's Kubernetes version as "1.N".
kube_version() {
    local minor
    minor=$(k version -o json | jget serverVersion.minor)
    echo "1.${minor%%[!0-9]*}"
}

# Renders the examples into namespace $1 with the options that follow.
render_into() {
    local ns=$1
    shift
    local f
    for f in "$E2E_ROOT"/examples/dataproducts/*.yaml; do
        sed -e "s/^  namespace: .*/  namespace: $ns/" "$f" > "$E2E_TMP/$(basename "$f")"
    done
    "$E2E_BIN/dpm" render "$@" "$E2E_TMP"/*.yaml
}

# The applied objects as JSON lines "KIND/NAME RV CONTENT", CONTENT without
# resourceVersion.
applied_state() { # file
    k get -f "$1" -o json --show-managed-fields | python3 -c 'import json,sys
for o in json.load(sys.stdin)["items"]:
    m = o["metadata"]; rv = m.pop("resourceVersion")
    print("%s/%s %s %s" % (o["kind"], m["name"], rv, json.dumps(o, sort_keys=True)))'
}

# Applies the file twice: the second apply changes nothing, so the objects
# are stable under the server's defaults.  Their content (managedFields and
# their times included) stays the same, and so do their resourceVersions,
# but a PersistentVolumeClaim's: kube-apiserver stores a new claim with an
# empty status.phase (reads default it to Pending) and its first update,
# even one that changes nothing, stores the defaulted phase (seen on 1.20.2).
apply_twice() { # file
    local out before after
    out=$(k apply --server-side --field-manager=dpm -f "$1" 2>&1) || fail "apply: $out"
    assert_contains "$out" "serverside-applied" "first apply"
    # the controllers' own writes come first (on a real cluster the job
    # controller records a Job's start): the state before is a settled one
    local i prev=""
    for i in $(seq 1 10); do
        before=$(applied_state "$1") || fail "the applied objects cannot be read back"
        [ "$before" = "$prev" ] && break
        prev=$before
        sleep 1
    done
    [ -n "$before" ] || fail "the applied objects cannot be read back"
    out=$(k apply --server-side --field-manager=dpm -f "$1" 2>&1) || fail "second apply: $out"
    after=$(applied_state "$1") || fail "the applied objects cannot be read back"
    assert_eq "$(printf '%s\n' "$after" | cut -d' ' -f1,3-)" "$(printf '%s\n' "$before" | cut -d' ' -f1,3-)" \
        "objects after applying the same objects again"
    assert_eq "$(printf '%s\n' "$after" | grep -v '^PersistentVolumeClaim/' | cut -d' ' -f1,2)" \
        "$(printf '%s\n' "$before" | grep -v '^PersistentVolumeClaim/' | cut -d' ' -f1,2)" \
        "resourceVersions after applying the same objects again"
}

scenario_render_applies_server_side() {
    local ns out
    ns=$(new_ns render)
    render_into "$ns" --kube-version "$(kube_version)" > "$E2E_TMP/children.yaml" || fail "render"
    apply_twice "$E2E_TMP/children.yaml"
    out=$(k get cronjob,job,pvc,svc,cm,sa,role,rolebinding -n "$ns" -o name 2>&1)
    assert_contains "$out" "cronjob.batch/payment-transactions-enriched-transform"
    assert_contains "$out" "cronjob.batch/merchants-transform"
    assert_contains "$out" "job.batch/fraud-scores-transform"
    assert_contains "$out" "persistentvolumeclaim/payment-transactions-enriched-enriched-transactions-historical"
    assert_contains "$out" "service/payment-transactions-enriched-enriched-transactions-live"
    assert_contains "$out" "configmap/merchants-contract"
    assert_contains "$out" "rolebinding.rbac.authorization.k8s.io/fraud-scores-transform"
    out=$(k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.spec.resources.requests.storage}')
    assert_eq "$out" "5Gi" "claim size"
}

scenario_render_spark_operator_crds() {
    local ns out
    install_spark_crds
    ns=$(new_ns sparkop)
    render_into "$ns" --spark-operator yes --kube-version "$(kube_version)" > "$E2E_TMP/children.yaml" ||
        fail "render"
    apply_twice "$E2E_TMP/children.yaml"
    out=$(k get scheduledsparkapplications,sparkapplications -n "$ns" -o name 2>&1)
    assert_contains "$out" "scheduledsparkapplication.sparkoperator.k8s.io/payment-transactions-enriched-transform"
    assert_contains "$out" "sparkapplication.sparkoperator.k8s.io/fraud-scores-transform"
    out=$(k get scheduledsparkapplication merchants-transform -n "$ns" \
        -o jsonpath='{.spec.concurrencyPolicy} {.spec.template.driver.serviceAccount} {.spec.template.executor.instances}')
    assert_eq "$out" "Forbid merchants-transform 1" "fields kept by the CRD's schema"
}

scenario_render_kube_1_20() {
    in_tree_only "--emulate-version is a flag of the in-tree server"
    extra_server old --emulate-version 1.20
    local out
    out=$("$E2E_BIN/dpm" render --kube-version 1.20 "$E2E_ROOT/examples/dataproducts/merchants.yaml") ||
        fail "render"
    printf '%s\n' "$out" > "$E2E_TMP/children.yaml"
    assert_contains "$out" "apiVersion: batch/v1beta1"
    KUBECONFIG=$XS_KUBECONFIG k create namespace merchant-core >/dev/null || fail "namespace"
    out=$(KUBECONFIG=$XS_KUBECONFIG k apply --server-side -f "$E2E_TMP/children.yaml" 2>&1) ||
        fail "apply on 1.20: $out"
    assert_contains "$out" "cronjob.batch/merchants-transform serverside-applied"
    stop_server "$XS_PID"
}
