# dpm operator as a process against the cluster, driven with the stock
# kubectl: apply -> children and the Ready path, a resize (grow applied,
# shrink refused), drift repair after a kubectl patch of a child,
# suspend/resume, a CronJob run's outcome written into its Job's status (as
# kube-controller-manager's job controller would), a Retain claim outliving
# its DataProduct, zero writes for a product in sync, /metrics /healthz
# /readyz, and SIGTERM within 5 s.  Every operator watches only its
# scenario's namespace; there are no nodes and no storage provisioner, so a
# claim is bound through a PersistentVolume made for it (bind_claim).

source "$E2E_ROOT/tests/e2e/support/operator.sh"

scenario_operator_lifecycle() {
    local ns out before after n0 sc
    ns=$(new_ns operator)
    sc=$(expandable_class "$ns")
    start_operator "$ns"
    out=$(curl -s --max-time 5 "$OP_HEALTH/healthz")
    assert_eq "$out" "ok" "/healthz"
    wait_for 15 curl -sf --max-time 5 "$OP_HEALTH/readyz" || fail "/readyz never 200: $(curl -s "$OP_HEALTH/readyz")"

    # apply -> every child, then the Ready path once the claim is bound
    apply_merchants "$ns" "$sc"
    wait_for 20 k get pvc merchants-merchants-current -n "$ns" || fail "no claim: $(tail -3 "$E2E_TMP/op.err")"
    for c in cronjob/merchants-transform configmap/merchants-contract serviceaccount/merchants-transform \
        role/merchants-transform rolebinding/merchants-transform; do
        wait_for 10 k get "$c" -n "$ns" || fail "no $c"
    done
    out=$(k get cronjob merchants-transform -n "$ns" -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by} {.metadata.ownerReferences[0].kind} {.spec.concurrencyPolicy}')
    assert_eq "$out" "dpm DataProduct Forbid" "CronJob labels, owner, concurrency"
    out=$(k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.metadata.ownerReferences}')
    assert_eq "$out" "" "a Retain claim's owner references"
    wait_for 10 phase_is "$ns" merchants Provisioning || fail "phase before the claim is bound: $(k get dp merchants -n "$ns" -o jsonpath='{.status.phase}')"
    bind_claim "$ns" merchants-merchants-current
    k wait dp/merchants -n "$ns" --for=condition=Ready --timeout=20s >/dev/null || fail "never Ready: $(k get dp merchants -n "$ns" -o yaml)"
    out=$(k get dp merchants -n "$ns" -o jsonpath='{.status.phase} {.status.observedGeneration} {.status.outputPorts[0].phase}')
    assert_eq "$out" "Ready 1 Bound" "phase, observedGeneration, port"
    out=$(k describe dp merchants -n "$ns")
    assert_contains "$out" "Created" "describe shows the creation events"

    # a product in sync: a reconcile (forced by an annotation) writes nothing
    before=$(metric_sum dpm_operator_api_writes_total)
    n0=$(metric_sum dpm_operator_reconciles_total)
    [ "$before" -ge 7 ] || fail "the writes counter did not count the creations: $before"
    k annotate dp merchants -n "$ns" e2e/poke=1 >/dev/null
    reconciled_since() { [ "$(metric_sum dpm_operator_reconciles_total)" -gt "$1" ]; }
    wait_for 10 reconciled_since "$n0" || fail "the annotation was not reconciled"
    sleep 0.5
    after=$(metric_sum dpm_operator_api_writes_total)
    assert_eq "$after" "$before" "API writes of a reconcile with nothing to change"

    # drift: a kubectl patch of a dpm-owned field is repaired; a label of
    # someone else's stays
    k patch cronjob merchants-transform -n "$ns" --type=merge \
        -p '{"metadata":{"labels":{"team":"x"}},"spec":{"schedule":"5 * * * *"}}' >/dev/null
    wait_out 10 "0 0 * * *" k get cronjob merchants-transform -n "$ns" -o jsonpath='{.spec.schedule}' ||
        fail "schedule drift not repaired"
    assert_eq "$(k get cronjob merchants-transform -n "$ns" -o jsonpath='{.metadata.labels.team}')" "x" "a foreign label"

    # resize: growing expands the claim, shrinking is refused (never applied)
    k patch dp merchants -n "$ns" --type=json -p '[{"op":"replace","path":"/spec/outputPorts/0/storage/size","value":"8Gi"}]' >/dev/null ||
        fail "resize"
    wait_out 10 8Gi k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.spec.resources.requests.storage}' ||
        fail "the claim was not expanded"
    k patch dp merchants -n "$ns" --type=json -p '[{"op":"replace","path":"/spec/outputPorts/0/storage/size","value":"2Gi"}]' >/dev/null
    wait_out 10 3 k get dp merchants -n "$ns" -o jsonpath='{.status.observedGeneration}' || fail "generation 3 not observed"
    assert_eq "$(k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.spec.resources.requests.storage}')" 8Gi "claim after a shrink"

    # suspend / resume
    k patch dp merchants -n "$ns" --type=merge -p '{"spec":{"suspend":true}}' >/dev/null
    wait_for 10 phase_is "$ns" merchants Suspended || fail "not Suspended"
    assert_eq "$(k get cronjob merchants-transform -n "$ns" -o jsonpath='{.spec.suspend}')" true "CronJob suspended"
    k patch dp merchants -n "$ns" --type=merge -p '{"spec":{"suspend":false}}' >/dev/null
    wait_for 10 phase_is "$ns" merchants Ready || fail "not Ready after resume"
    assert_eq "$(k get cronjob merchants-transform -n "$ns" -o jsonpath='{.spec.suspend}')" false "CronJob resumed"

    # a run of the CronJob: a Job it owns, its outcome written as the job
    # controller writes it
    local cj_uid now
    cj_uid=$(k get cronjob merchants-transform -n "$ns" -o jsonpath='{.metadata.uid}')
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    cat > "$E2E_TMP/run.yaml" <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: merchants-transform-1
  namespace: $ns
  labels: {app.kubernetes.io/managed-by: dpm, mesh.io/data-product: merchants}
  ownerReferences:
    - {apiVersion: batch/v1, kind: CronJob, name: merchants-transform, uid: $cj_uid, controller: true}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: spark-submit, image: apache/spark:3.5.1}]
EOF
    k create -f "$E2E_TMP/run.yaml" >/dev/null || fail "cannot create the run"
    k patch job merchants-transform-1 -n "$ns" --subresource=status --type=merge -p \
        "{\"status\":{\"startTime\":\"$now\",\"completionTime\":\"$now\",\"succeeded\":1,\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null ||
        fail "cannot write the run's status"
    k wait dp/merchants -n "$ns" --for=condition=FreshnessMet --timeout=10s >/dev/null ||
        fail "a successful run did not make it fresh: $(k get dp merchants -n "$ns" -o jsonpath='{.status.conditions}')"
    assert_eq "$(k get dp merchants -n "$ns" -o jsonpath='{.status.transformation.lastSuccessfulTime}')" "$now" "lastSuccessfulTime"
    k patch job merchants-transform-1 -n "$ns" --subresource=status --type=merge -p \
        "{\"status\":{\"succeeded\":0,\"failed\":1,\"completionTime\":null,\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\",\"reason\":\"BackoffLimitExceeded\",\"message\":\"Job has reached the specified backoff limit\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null
    wait_for 10 phase_is "$ns" merchants Degraded || fail "a failed run did not degrade it"
    out=$(k get dp merchants -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="TransformationReady")].message}')
    assert_contains "$out" "backoff limit" "TransformationReady message"

    # metrics
    out=$(curl -s --max-time 5 "$OP_METRICS/metrics")
    assert_contains "$out" 'dpm_operator_reconciles_total{result="success"}' "/metrics"
    assert_contains "$out" 'dpm_operator_dataproducts{phase="Degraded"} 1' "/metrics phases"
    assert_contains "$out" "dpm_operator_reconcile_duration_seconds_count" "/metrics histogram"

    # Retain: the claim outlives the product, without owner; the owned
    # children go with it (garbage collection)
    k delete dp merchants -n "$ns" >/dev/null
    wait_for 20 sh -c "! timeout 10 kubectl get cronjob merchants-transform -n $ns" || fail "the CronJob was not collected"
    k get pvc merchants-merchants-current -n "$ns" >/dev/null || fail "the retained claim is gone"
    assert_eq "$(k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.metadata.labels.mesh\.io/data-product}')" merchants "retained claim's label"

    # SIGTERM: a clean exit within 5 s
    local t0 rc
    t0=$(date +%s%N)
    kill -TERM "$OP_PID"
    wait "$OP_PID"
    rc=$?
    assert_eq "$rc" 0 "exit code after SIGTERM"
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ] || fail "SIGTERM took more than 5 s"
    grep -q '"msg":"stopped"' "$E2E_TMP/op.err" || fail "no stopped line in the log"
}

scenario_operator_foreign_and_leader() {
    local ns out
    ns=$(new_ns opforeign)
    # an object of someone else's in the way of a child: never changed
    k create configmap merchants-contract -n "$ns" --from-literal=owner=someone >/dev/null
    start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
    apply_merchants "$ns"
    wait_for 20 phase_is "$ns" merchants Failed || fail "phase with a conflict: $(k get dp merchants -n "$ns" -o jsonpath='{.status.phase}')"
    out=$(k get dp merchants -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')
    assert_eq "$out" "Conflict" "Ready reason"
    assert_eq "$(k get cm merchants-contract -n "$ns" -o jsonpath='{.data.owner}')" someone "the foreign ConfigMap"
    assert_contains "$(k describe dp merchants -n "$ns")" "Conflict" "describe shows the conflict event"
    # the lease is held by this replica, and released on SIGTERM
    out=$(k get lease dpm-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}')
    [ -n "$out" ] || fail "no lease holder"
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
    out=$(k get lease dpm-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}')
    assert_eq "$out" "" "lease holder after SIGTERM"
}

# The operator under a ServiceAccount bound only to charts/dpm/files/operator-clusterrole.yaml
# (the server enforces RBAC): the whole Ready path, a repair, a run-level
# pruning and events, with no request forbidden.
scenario_operator_rbac() {
    local ns tok
    ns=$(new_ns oprbac)
    k apply -f "$E2E_ROOT/charts/dpm/files/operator-clusterrole.yaml" >/dev/null || fail "apply the ClusterRole"
    cluster_object clusterrole/dpm-operator # the chart's scenarios install their own
    k create serviceaccount dpm-operator -n "$ns" >/dev/null
    k create clusterrolebinding "e2e-dpm-operator-$ns" --clusterrole=dpm-operator \
        --serviceaccount="$ns:dpm-operator" >/dev/null || fail "bind the ClusterRole"
    cluster_object "clusterrolebinding/e2e-dpm-operator-$ns"
    tok=$(k create token dpm-operator -n "$ns" --duration=10m) || fail "no token"
    cp "$KUBECONFIG" "$E2E_TMP/sa.kubeconfig"
    local user
    user=$(KUBECONFIG=$E2E_TMP/sa.kubeconfig kubectl config view --minify -o jsonpath='{.contexts[0].context.user}')
    KUBECONFIG=$E2E_TMP/sa.kubeconfig kubectl config set-credentials "$user" --token="$tok" >/dev/null
    OP_KUBECONFIG=$E2E_TMP/sa.kubeconfig start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
    apply_merchants "$ns"
    wait_for 20 k get pvc merchants-merchants-current -n "$ns" || fail "no claim: $(tail -3 "$E2E_TMP/op.err")"
    bind_claim "$ns" merchants-merchants-current
    k wait dp/merchants -n "$ns" --for=condition=Ready --timeout=20s >/dev/null ||
        fail "never Ready under the ClusterRole: $(grep -i forbidden "$E2E_TMP/op.err" | head -3)"
    k patch rolebinding merchants-transform -n "$ns" --type=merge -p '{"metadata":{"labels":{"mesh.io/domain":"other"}}}' >/dev/null
    wait_out 10 merchant-core k get rolebinding merchants-transform -n "$ns" -o jsonpath='{.metadata.labels.mesh\.io/domain}' ||
        fail "label drift not repaired under the ClusterRole"
    assert_contains "$(k get events -n "$ns" -o jsonpath='{.items[*].reason}')" "Created" "events written"
    k delete dp merchants -n "$ns" >/dev/null
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
    k delete clusterrolebinding "e2e-dpm-operator-$ns" >/dev/null
    if grep -qi forbidden "$E2E_TMP/op.err"; then
        fail "requests forbidden: $(grep -i forbidden "$E2E_TMP/op.err" | head -3)"
    fi
}

# A cross-domain dependency that appears and becomes Ready later: the
# dependant waits in Pending (InputNotFound, then InputNotReady) and turns
# Ready by itself when its input does.
scenario_operator_dependency() {
    local ns
    ns=$(new_ns opdep)
    start_operator "$ns"
    cat > "$E2E_TMP/scores.yaml" <<EOY
apiVersion: mesh.io/v1alpha1
kind: DataProduct
metadata: {name: merchant-scores, namespace: $ns}
spec:
  domain: risk-analytics
  owner: team-risk@company.com
  description: Scores per merchant
  inputPorts:
    - name: merchants
      type: data-product
      dataProductRef: {namespace: $ns, name: merchants, outputPort: merchants-current}
  transformation: {engine: spark-k8s, version: "3.5.1"}
  outputPorts:
    - name: scores
      type: kafka-topic
      region: eu-west-1
      retention: 30d
      contract:
        format: avro
        schema:
          - {name: merchant_id, type: string, required: true, pii: false}
  expectations: {freshness: "1d"}
EOY
    k apply -f "$E2E_TMP/scores.yaml" >/dev/null || fail "apply the dependant"
    wait_for 15 phase_is "$ns" merchant-scores Pending || fail "dependant not Pending"
    assert_eq "$(k get dp merchant-scores -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="InputsReady")].reason}')" \
        InputNotFound "InputsReady reason without the input"
    apply_merchants "$ns"
    wait_out 15 InputNotReady k get dp merchant-scores -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="InputsReady")].reason}' ||
        fail "the dependant did not see its input appear"
    wait_for 20 k get pvc merchants-merchants-current -n "$ns" || fail "no claim"
    bind_claim "$ns" merchants-merchants-current
    k wait dp/merchants -n "$ns" --for=condition=Ready --timeout=20s >/dev/null || fail "input never Ready"
    k wait dp/merchant-scores -n "$ns" --for=condition=Ready --timeout=20s >/dev/null ||
        fail "the dependant did not follow: $(k get dp merchant-scores -n "$ns" -o jsonpath='{.status.conditions}')"
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
}

# The Spark operator's flavour (its CRDs from ../shared/thirdparty/): a
# ScheduledSparkApplication; a run (a SparkApplication labelled with the
# schedule's name, as the Spark operator creates it) COMPLETED makes the
# product fresh, FAILED degrades it.
scenario_operator_spark_operator() {
    local ns now
    install_spark_crds
    ns=$(new_ns opspark)
    OP_SPARK="--spark-operator always" start_operator "$ns"
    grep -q '"sparkOperator":true' "$E2E_TMP/op.err" || fail "flavour not detected: $(head -2 "$E2E_TMP/op.err")"
    apply_merchants "$ns"
    wait_for 20 k get scheduledsparkapplication merchants-transform -n "$ns" || fail "no ScheduledSparkApplication"
    wait_for 10 k get pvc merchants-merchants-current -n "$ns" || fail "no claim"
    bind_claim "$ns" merchants-merchants-current
    k wait dp/merchants -n "$ns" --for=condition=Ready --timeout=20s >/dev/null || fail "never Ready"
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    cat > "$E2E_TMP/run.yaml" <<EOY
apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: merchants-transform-1
  namespace: $ns
  labels: {app.kubernetes.io/managed-by: dpm, mesh.io/data-product: merchants, sparkoperator.k8s.io/scheduled-app-name: merchants-transform}
spec:
  type: Python
  mode: cluster
  image: apache/spark:3.5.1
  mainApplicationFile: local:///opt/dataproduct/transform.py
  sparkVersion: 3.5.1
  driver: {cores: 1, memory: 2g}
  executor: {cores: 1, instances: 1, memory: 2g}
EOY
    k create -f "$E2E_TMP/run.yaml" >/dev/null || fail "cannot create the run"
    k patch sparkapplication merchants-transform-1 -n "$ns" --subresource=status --type=merge -p \
        "{\"status\":{\"driverInfo\":{},\"applicationState\":{\"state\":\"COMPLETED\"},\"terminationTime\":\"$now\"}}" >/dev/null ||
        fail "cannot write the run's status"
    k wait dp/merchants -n "$ns" --for=condition=FreshnessMet --timeout=10s >/dev/null ||
        fail "a COMPLETED run did not make it fresh: $(k get dp merchants -n "$ns" -o jsonpath='{.status.transformation}')"
    k patch sparkapplication merchants-transform-1 -n "$ns" --subresource=status --type=merge -p \
        '{"status":{"applicationState":{"state":"FAILED","errorMessage":"driver OOMKilled"}}}' >/dev/null
    wait_for 10 phase_is "$ns" merchants Degraded || fail "a FAILED run did not degrade it"
    assert_contains "$(k get dp merchants -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="TransformationReady")].message}')" \
        "OOMKilled" "TransformationReady message"
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
}

# Kubernetes 1.20 (the in-tree server emulating it): CronJob as batch/v1beta1,
# chosen by discovery.
scenario_operator_kube_1_20() {
    in_tree_only "--emulate-version is a flag of the in-tree server"
    extra_server old120 --emulate-version 1.20
    KUBECONFIG=$XS_KUBECONFIG k create namespace merchant-core >/dev/null || fail "namespace"
    KUBECONFIG=$XS_KUBECONFIG start_operator merchant-core
    grep -q '"cronJob":"batch/v1beta1"' "$E2E_TMP/op.err" || fail "not batch/v1beta1: $(head -2 "$E2E_TMP/op.err")"
    KUBECONFIG=$XS_KUBECONFIG k apply -f "$E2E_ROOT/examples/dataproducts/merchants.yaml" >/dev/null || fail "apply"
    wait_for 20 env KUBECONFIG="$XS_KUBECONFIG" timeout 10 kubectl get cronjobs.v1beta1.batch merchants-transform -n merchant-core ||
        fail "no batch/v1beta1 CronJob: $(tail -3 "$E2E_TMP/op.err")"
    wait_for 10 env KUBECONFIG="$XS_KUBECONFIG" timeout 10 kubectl get pvc merchants-merchants-current -n merchant-core || fail "no claim"
    KUBECONFIG=$XS_KUBECONFIG bind_claim merchant-core merchants-merchants-current
    KUBECONFIG=$XS_KUBECONFIG k wait dp/merchants -n merchant-core --for=condition=Ready --timeout=20s >/dev/null ||
        fail "never Ready on 1.20"
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
    stop_server "$XS_PID"
}

# Two replicas with --leader-elect: one leads and reconciles, the other
# waits with warm caches; SIGTERM to the leader releases the Lease and the
# other takes over at once (no wait for the lease to expire) and carries on.
scenario_operator_two_replicas() {
    local ns first second holder
    ns=$(new_ns opha)
    start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
    first=$OP_PID
    OP_LOG=op2 start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
    second=$OP_PID
    apply_merchants "$ns"
    wait_for 20 k get pvc merchants-merchants-current -n "$ns" || fail "no claim"
    grep -q '"msg":"leading' "$E2E_TMP/op.err" || fail "the first replica does not lead"
    grep -q '"msg":"leading' "$E2E_TMP/op2.err" && fail "both replicas lead"
    holder=$(k get lease dpm-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}')
    assert_contains "$holder" "_$first" "lease holder"
    kill -TERM "$first"
    wait "$first" || fail "exit code of the first replica"
    wait_for 5 grep -q '"msg":"leading' "$E2E_TMP/op2.err" || fail "the second replica did not take over within 5 s"
    assert_contains "$(k get lease dpm-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}')" "_$second" "new holder"
    # the new leader reconciles: the claim bound -> Ready
    bind_claim "$ns" merchants-merchants-current
    k wait dp/merchants -n "$ns" --for=condition=Ready --timeout=20s >/dev/null || fail "the new leader did not reconcile"
    kill -TERM "$second"
    wait "$second" || fail "exit code of the second replica"
}
