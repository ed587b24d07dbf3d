# dpm operator's /metrics as Prometheus scrapes it while the operator works:
# API requests by verb and code with their duration histogram, the
# workqueue's wait histogram and delayed keys, DataProducts by phase counted
# as their status moves, and zero API writes (events included) for a
# reconcile with nothing to change.  Helpers are this file's own: each
# scenario file runs alone.

# Starts dpm operator for namespace $1; sets OPM_PID and OPM_URL.
opm_start() {
    k apply -f "$E2E_ROOT/crds/" >/dev/null || fail "cannot install the CRDs"
    "$E2E_BIN/dpm" operator --kubeconfig "$KUBECONFIG" --namespace "$1" --workers 2 \
        --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 --resync 0 --spark-operator never \
        > "$E2E_TMP/opm.out" 2> "$E2E_TMP/opm.err" &
    OPM_PID=$!
    echo "$OPM_PID" >> "$E2E_TMP/pids"
    wait_for 15 grep -q '^ready' "$E2E_TMP/opm.out" || fail "operator not ready: $(tail -3 "$E2E_TMP/opm.err")"
    OPM_URL=http://127.0.0.1:$(sed -n 's/^metrics-port //p' "$E2E_TMP/opm.out")/metrics
}

# The sum of the samples whose series starts with $1 ("name{..." or "name")
# in the scrape $2.
opm_sum() {
    printf '%s\n' "$2" | awk -v p="$1" 'substr($0, 1, 1) != "#" && index($1, p) == 1 { s += $2 } END { print s + 0 }'
}

# API writes (every request but GET and WATCH) in the scrape $1.
opm_writes() {
    printf '%s\n' "$1" | awk 'index($1, "dpm_operator_api_requests_total{") == 1 && $1 !~ /verb="(GET|WATCH)"/ { s += $2 } END { print s + 0 }'
}

scenario_operator_metrics() {
    in_tree_only "makes the claim Bound by writing its status, which a real PV controller may undo"
    local ns m posts dur before n0 after
    ns=$(new_ns opmetrics)
    opm_start "$ns"
    m=$(curl -s --max-time 5 "$OPM_URL")
    # every phase is there from the start, and the start-up lists were counted
    assert_contains "$m" 'dpm_operator_dataproducts{phase="Ready"} 0' "phases before any product"
    [ "$(opm_sum 'dpm_operator_api_requests_total{verb="GET",code="200"}' "$m")" -ge 1 ] ||
        fail "the start-up lists were not counted: $(printf '%s\n' "$m" | grep api_requests)"
    assert_contains "$m" "# TYPE dpm_operator_workqueue_queue_duration_seconds histogram" "queue wait histogram"
    assert_contains "$m" "dpm_operator_workqueue_delayed 0" "delayed keys"

    sed -e "s/^  namespace: .*/  namespace: $ns/" "$E2E_ROOT/examples/dataproducts/merchants.yaml" > "$E2E_TMP/merchants.yaml"
    k apply -f "$E2E_TMP/merchants.yaml" >/dev/null || fail "apply merchants"
    wait_for 20 k get pvc merchants-merchants-current -n "$ns" || fail "no claim: $(tail -3 "$E2E_TMP/opm.err")"
    k patch pvc merchants-merchants-current -n "$ns" --subresource=status --type=merge \
        -p '{"status":{"phase":"Bound"}}' >/dev/null || fail "cannot bind the claim"
    k wait dp/merchants -n "$ns" --for=condition=Ready --timeout=20s >/dev/null || fail "never Ready"
    # settled: every key taken from the queue was reconciled
    wait_for 10 sh -c "m=\$(curl -s --max-time 5 '$OPM_URL'); \
        test \"\$(printf '%s\n' \"\$m\" | awk '\$1 == \"dpm_operator_workqueue_queue_duration_seconds_count\" { print \$2 }')\" = \
             \"\$(printf '%s\n' \"\$m\" | awk 'index(\$1, \"dpm_operator_reconciles_total{\") == 1 { s += \$2 } END { print s + 0 }')\"" ||
        fail "queue wait observations != reconciles"
    m=$(curl -s --max-time 5 "$OPM_URL")
    assert_contains "$m" 'dpm_operator_dataproducts{phase="Ready"} 1' "Ready counted"
    assert_contains "$m" 'dpm_operator_dataproducts{phase="Provisioning"} 0' "Provisioning left"
    # six children and their events created, statuses written
    posts=$(opm_sum 'dpm_operator_api_requests_total{verb="POST",code="201"}' "$m")
    [ "$posts" -ge 12 ] || fail "POST 201 requests: $posts (want >= 12: 6 children, their events)"
    [ "$(opm_sum 'dpm_operator_api_requests_total{verb="PUT",code="200"}' "$m")" -ge 1 ] || fail "no status write counted"
    dur=$(opm_sum 'dpm_operator_api_request_duration_seconds_count{verb="POST"}' "$m")
    assert_eq "$dur" "$(opm_sum 'dpm_operator_api_requests_total{verb="POST"' "$m")" "POST duration observations"
    [ "$(opm_sum 'dpm_operator_workqueue_queue_duration_seconds_count' "$m")" -ge 2 ] || fail "queue waits not observed"

    # a reconcile with nothing to change: no API write at all, events included
    before=$(opm_writes "$m")
    n0=$(opm_sum dpm_operator_reconciles_total "$m")
    k annotate dp merchants -n "$ns" e2e/poke=1 >/dev/null
    wait_for 10 test "$(opm_sum dpm_operator_reconciles_total "$(curl -s --max-time 5 "$OPM_URL")")" -gt "$n0" ||
        fail "the annotation was not reconciled"
    sleep 0.5
    after=$(opm_writes "$(curl -s --max-time 5 "$OPM_URL")")
    assert_eq "$after" "$before" "API writes of a reconcile with nothing to change"

    # a deleted product leaves the phase count
    k delete dp merchants -n "$ns" >/dev/null
    wait_for 10 sh -c "curl -s --max-time 5 '$OPM_URL' | grep -qx 'dpm_operator_dataproducts{phase=\"Ready\"} 0'" ||
        fail "the deleted product is still counted: $(curl -s "$OPM_URL" | grep dataproducts)"
    kill -TERM "$OPM_PID"
    wait "$OPM_PID" || fail "exit code after SIGTERM"
}
