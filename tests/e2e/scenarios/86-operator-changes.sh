# dpm operator following changes, driven with the stock kubectl: a schedule
# change, output ports added and removed, the deletion policy (Delete: the
# claim goes with the product, by the cluster's garbage collector;
# Delete -> Retain strips the claim's owner), a streaming product (its Job's
# outcome written as the job controller writes it; suspend stops the
# stream), a MeshPolicy change flipping Compliant, and SIGTERM in the middle
# of work with a second replica taking over and finishing it.

source "$E2E_ROOT/tests/e2e/support/operator.sh"

dp_get() { k get dp "$2" -n "$1" -o jsonpath="$3"; }
condition_of() { # ns dp type field
    dp_get "$1" "$2" "{.status.conditions[?(@.type==\"$3\")].$4}"
}
generation_observed() { # ns dp
    [ "$(dp_get "$1" "$2" '{.status.observedGeneration}')" = "$(dp_get "$1" "$2" '{.metadata.generation}')" ]
}

# A schedule change reaches the CronJob; a grpc port added gets its Service
# and a storage port its claim; removed again, the Service is deleted and
# the retained claim stays.
scenario_operator_spec_changes() {
    local ns out
    ns=$(new_ns opedit)
    start_operator "$ns"
    apply_merchants "$ns"
    wait_out 20 "0 0 * * *" k get cronjob merchants-transform -n "$ns" -o jsonpath='{.spec.schedule}' ||
        fail "no CronJob with the schedule derived from the freshness: $(tail -3 "$E2E_TMP/op.err")"

    k patch dp merchants -n "$ns" --type=merge -p '{"spec":{"transformation":{"schedule":"*/30 * * * *"}}}' >/dev/null ||
        fail "schedule change"
    wait_out 10 "*/30 * * * *" k get cronjob merchants-transform -n "$ns" -o jsonpath='{.spec.schedule}' ||
        fail "the CronJob did not follow the schedule: $(k get cronjob merchants-transform -n "$ns" -o jsonpath='{.spec.schedule}')"
    wait_for 10 generation_observed "$ns" merchants || fail "generation 2 not observed"

    k patch dp merchants -n "$ns" --type=json -p '[
        {"op":"add","path":"/spec/outputPorts/-","value":{"name":"live","type":"grpc","port":9090}},
        {"op":"add","path":"/spec/outputPorts/-","value":{"name":"archive","type":"parquet-files","region":"eu-central-1",
         "retention":"30d","storage":{"size":"1Gi"},"contract":{"format":"parquet",
         "schema":[{"name":"merchant_id","type":"string","required":true,"pii":false}]}}}]' >/dev/null ||
        fail "ports added"
    wait_for 10 k get service merchants-live -n "$ns" || fail "no Service for the grpc port: $(tail -3 "$E2E_TMP/op.err")"
    out=$(k get service merchants-live -n "$ns" -o jsonpath='{.spec.ports[0].port} {.metadata.ownerReferences[0].kind} {.spec.selector.mesh\.io/output-port}')
    assert_eq "$out" "9090 DataProduct live" "the Service's port, owner, selector"
    wait_for 10 k get pvc merchants-archive -n "$ns" || fail "no claim for the storage port"
    assert_eq "$(k get pvc merchants-archive -n "$ns" -o jsonpath='{.spec.resources.requests.storage}')" 1Gi "new claim's size"
    wait_for 10 generation_observed "$ns" merchants || fail "generation 3 not observed"
    out=$(dp_get "$ns" merchants '{.status.outputPorts[*].name}')
    assert_eq "$out" "merchants-current live archive" "status.outputPorts"

    k patch dp merchants -n "$ns" --type=json -p '[{"op":"remove","path":"/spec/outputPorts/2"},{"op":"remove","path":"/spec/outputPorts/1"}]' >/dev/null ||
        fail "ports removed"
    wait_for 15 sh -c "! timeout 10 kubectl get service merchants-live -n $ns" || fail "the Service of a removed port stayed"
    wait_for 10 generation_observed "$ns" merchants || fail "generation 4 not observed"
    k get pvc merchants-archive -n "$ns" >/dev/null || fail "the retained claim of a removed port was deleted"
    assert_eq "$(dp_get "$ns" merchants '{.status.outputPorts[*].name}')" "merchants-current" "status.outputPorts after the removal"
    assert_contains "$(k get events -n "$ns" -o jsonpath='{.items[*].reason}')" "Deleted" "a Deleted event"
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
}

owner_of_claim() { k get pvc merchants-merchants-current -n "$1" -o jsonpath='{.metadata.ownerReferences[0].kind}'; }

# deletionPolicy: Delete owns the claim (controller reference); a switch to
# Retain strips the reference, back to Delete restores it, and deleting the
# product has the garbage collector (kube-controller-manager's on a real
# cluster) take the claim with it.
scenario_operator_deletion_policy() {
    local ns
    ns=$(new_ns opdel)
    start_operator "$ns"
    sed -e "s/^  namespace: .*/  namespace: $ns/" -e '$a\  deletionPolicy: Delete' \
        "$E2E_ROOT/examples/dataproducts/merchants.yaml" > "$E2E_TMP/merchants.yaml"
    k apply -f "$E2E_TMP/merchants.yaml" >/dev/null || fail "apply"
    wait_for 20 k get pvc merchants-merchants-current -n "$ns" || fail "no claim: $(tail -3 "$E2E_TMP/op.err")"
    wait_out 10 DataProduct owner_of_claim "$ns" || fail "a Delete claim without owner"
    assert_eq "$(k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.metadata.ownerReferences[0].controller}')" true "controller reference"

    k patch dp merchants -n "$ns" --type=merge -p '{"spec":{"deletionPolicy":"Retain"}}' >/dev/null || fail "switch to Retain"
    wait_out 10 "" k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.metadata.ownerReferences}' ||
        fail "Delete -> Retain kept the owner reference"
    k patch dp merchants -n "$ns" --type=merge -p '{"spec":{"deletionPolicy":"Delete"}}' >/dev/null || fail "switch to Delete"
    wait_out 10 DataProduct owner_of_claim "$ns" || fail "Retain -> Delete did not own the claim"

    k delete dp merchants -n "$ns" --wait=false >/dev/null || fail "delete"
    wait_for 60 sh -c "! timeout 10 kubectl get pvc merchants-merchants-current -n $ns" ||
        fail "the claim of a Delete product was not collected: $(k get pvc merchants-merchants-current -n "$ns" -o jsonpath='{.metadata}')"
    wait_for 30 sh -c "! timeout 10 kubectl get cronjob merchants-transform -n $ns" || fail "the CronJob was not collected"
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
}

# A streaming product: a Job rather than a CronJob.  Its state is written as
# the job controller writes it (on a real cluster it also writes it: the
# pod stays Pending without nodes); suspend deletes the Job, resume brings
# it back, and a failure degrades the product.
scenario_operator_streaming() {
    local ns now out
    ns=$(new_ns opstream)
    start_operator "$ns"
    cat > "$E2E_TMP/stream.yaml" <<EOY
apiVersion: mesh.io/v1alpha1
kind: DataProduct
metadata: {name: scores, namespace: $ns}
spec:
  domain: risk-analytics
  owner: team-risk@company.com
  description: Fraud scores streamed continuously
  inputPorts:
    - {name: tx, type: kafka-topic, connection: "kafka://kafka.internal:9092/transactions"}
  transformation: {engine: spark-k8s, version: "3.5.1", mode: streaming}
  outputPorts:
    - name: scores
      type: kafka-topic
      region: eu-west-1
      retention: 30d
      contract:
        format: avro
        schema:
          - {name: transaction_id, type: string, required: true, pii: false}
  expectations: {freshness: "1m"}
  deletionPolicy: Delete
EOY
    k apply -f "$E2E_TMP/stream.yaml" >/dev/null || fail "apply the streaming product"
    wait_for 20 k get job scores-transform -n "$ns" || fail "no Job: $(tail -3 "$E2E_TMP/op.err")"
    k get cronjob scores-transform -n "$ns" >/dev/null 2>&1 && fail "a CronJob for a streaming product"
    out=$(k get job scores-transform -n "$ns" -o jsonpath='{.metadata.ownerReferences[0].kind} {.spec.template.spec.containers[0].name}')
    assert_contains "$out" "DataProduct " "the Job's owner"
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    k patch job scores-transform -n "$ns" --subresource=status --type=merge \
        -p "{\"status\":{\"startTime\":\"$now\",\"active\":1}}" >/dev/null || fail "cannot write the Job's status"
    wait_out 15 Running condition_of "$ns" scores TransformationReady reason ||
        fail "a running stream: $(dp_get "$ns" scores '{.status.conditions}')"
    k wait dp/scores -n "$ns" --for=condition=Ready --timeout=15s >/dev/null ||
        fail "never Ready while streaming: $(dp_get "$ns" scores '{.status.conditions}')"

    k patch dp scores -n "$ns" --type=merge -p '{"spec":{"suspend":true}}' >/dev/null
    wait_for 15 sh -c "! timeout 10 kubectl get job scores-transform -n $ns" || fail "suspend did not stop the stream"
    wait_for 10 phase_is "$ns" scores Suspended || fail "not Suspended: $(dp_get "$ns" scores '{.status.phase}')"
    k patch dp scores -n "$ns" --type=merge -p '{"spec":{"suspend":false}}' >/dev/null
    wait_for 15 k get job scores-transform -n "$ns" || fail "resume did not restart the stream"
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    k patch job scores-transform -n "$ns" --subresource=status --type=merge -p \
        "{\"status\":{\"startTime\":\"$now\",\"failed\":1,\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\",\"reason\":\"BackoffLimitExceeded\",\"message\":\"Job has reached the specified backoff limit\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null ||
        fail "cannot write the failure"
    wait_for 15 phase_is "$ns" scores Degraded || fail "a failed stream did not degrade it: $(dp_get "$ns" scores '{.status.phase}')"
    assert_eq "$(condition_of "$ns" scores TransformationReady reason)" RunFailed "TransformationReady reason"
    assert_contains "$(condition_of "$ns" scores TransformationReady message)" "backoff limit" "TransformationReady message"
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
}

# An Audit MeshPolicy (status only) matching the scenario's namespace: a
# finding turns Compliant False with the policy/rule; the policy widened,
# the product is re-checked without being touched and turns Compliant.
scenario_operator_meshpolicy_compliant() {
    local ns pol
    ns=$(new_ns oppol)
    pol="e2e-residency-$ns"
    start_operator "$ns"
    apply_merchants "$ns"
    wait_out 20 True condition_of "$ns" merchants Compliant status ||
        fail "not Compliant without policy: $(dp_get "$ns" merchants '{.status.conditions}')"
    k apply -f - >/dev/null <<EOY || fail "apply the MeshPolicy"
apiVersion: mesh.io/v1alpha1
kind: MeshPolicy
metadata: {name: $pol}
spec:
  enforcement: Audit
  match: {domains: ["*"], namespaces: ["$ns"]}
  rules:
    - {name: residency, path: "spec.outputPorts[*].region", in: [eu-west-1]}
EOY
    cluster_object "meshpolicy/$pol"
    wait_out 15 False condition_of "$ns" merchants Compliant status ||
        fail "a new policy did not re-check the product: $(dp_get "$ns" merchants '{.status.conditions}')"
    assert_contains "$(condition_of "$ns" merchants Compliant message)" "$pol/residency" "Compliant message"
    assert_contains "$(k describe dp merchants -n "$ns")" "$pol/residency" "describe shows the finding"
    k patch meshpolicy "$pol" --type=json \
        -p '[{"op":"replace","path":"/spec/rules/0/in","value":["eu-west-1","eu-central-1"]}]' >/dev/null ||
        fail "widen the policy"
    wait_out 15 True condition_of "$ns" merchants Compliant status ||
        fail "the widened policy did not flip Compliant: $(dp_get "$ns" merchants '{.status.conditions}')"
    assert_eq "$(dp_get "$ns" merchants '{.metadata.generation}')" 1 "the product itself untouched"
    k delete meshpolicy "$pol" >/dev/null
    kill -TERM "$OP_PID"
    wait "$OP_PID" || fail "exit code after SIGTERM"
}

# How many products of namespace $1 have a status for their generation 1.
observed_count() {
    k get dp -n "$1" -o jsonpath='{range .items[*]}{.status.observedGeneration}{"\n"}{end}' | grep -c '^1$'
}

# SIGTERM to the leader in the middle of work (slowed by a low --qps): it
# ends within 5 s with exit 0, releases the Lease, and the waiting replica
# takes over at once and gives every product its status.
scenario_operator_sigterm_midwork() {
    local ns first second t0 n i ms
    ns=$(new_ns opterm)
    n=20
    : > "$E2E_TMP/many.yaml"
    for i in $(seq 1 $n); do
        sed -e "s/^  name: merchants$/  name: m$i/" -e "s/^  namespace: .*/  namespace: $ns/" \
            "$E2E_ROOT/examples/dataproducts/merchants.yaml" >> "$E2E_TMP/many.yaml"
        echo "---" >> "$E2E_TMP/many.yaml"
    done
    start_operator "$ns" --leader-elect --leader-election-namespace "$ns" --qps 4 --burst 4
    first=$OP_PID
    wait_for 10 grep -q '"msg":"leading' "$E2E_TMP/op.err" || fail "the first replica does not lead"
    OP_LOG=op2 start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
    second=$OP_PID
    k apply -f "$E2E_TMP/many.yaml" >/dev/null || fail "apply $n products"
    wait_for 20 grep -q '"msg":"created' "$E2E_TMP/op.err" || fail "the leader did not start working"
    t0=$(date +%s%N)
    kill -TERM "$first"
    wait "$first" || fail "exit code of the first replica after SIGTERM"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -lt 5000 ] || fail "SIGTERM mid-work took ${ms} ms"
    grep -q '"msg":"stopped"' "$E2E_TMP/op.err" || fail "no stopped line in the first replica's log"
    [ "$(observed_count "$ns")" -lt "$n" ] ||
        fail "the work was over before SIGTERM: nothing was left mid-way"
    wait_for 5 grep -q '"msg":"leading' "$E2E_TMP/op2.err" || fail "the second replica did not take over within 5 s"
    assert_contains "$(k get lease dpm-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}')" "_$second" "new holder"
    wait_out 60 "$n" observed_count "$ns" ||
        fail "the new leader did not finish: $(k get dp -n "$ns" -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase} {end}')"
    for i in $(seq 1 $n); do
        k get cronjob "m$i-transform" -n "$ns" >/dev/null 2>&1 || fail "m$i has no CronJob"
    done
    kill -TERM "$second"
    wait "$second" || fail "exit code of the second replica"
}
