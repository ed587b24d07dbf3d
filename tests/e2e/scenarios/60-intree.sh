# In-tree-only behaviour: --emulate-version, --state-dir, fault injection,
# clean exit on SIGTERM.

scenario_emulate_1_20() {
    in_tree_only "--emulate-version is a flag of the in-tree server"
    extra_server old --emulate-version 1.20
    local out
    out=$(KUBECONFIG=$XS_KUBECONFIG k version -o json | jget serverVersion.minor)
    assert_eq "$out" "20" "minor version"
    out=$(KUBECONFIG=$XS_KUBECONFIG k api-resources --api-group=batch -o wide)
    assert_contains "$out" "batch/v1beta1"
    out=$(KUBECONFIG=$XS_KUBECONFIG k get --raw /apis/batch/v1)
    assert_not_contains "$out" '"cronjobs"' "batch/v1 on 1.20"
    out=$(KUBECONFIG=$XS_KUBECONFIG k get --raw /apis/batch/v1beta1)
    assert_contains "$out" '"cronjobs"' "batch/v1beta1 on 1.20"
    stop_server "$XS_PID"
}

scenario_state_dir_restart() {
    in_tree_only "--state-dir is a flag of the in-tree server"
    local st=$E2E_TMP/state uid out
    mkdir -p "$st"
    extra_server s1 --state-dir "$st"
    KUBECONFIG=$XS_KUBECONFIG k create cm keep -n default --from-literal=a=b >/dev/null || fail "create"
    uid=$(KUBECONFIG=$XS_KUBECONFIG k get cm keep -n default -o jsonpath='{.metadata.uid}')
    stop_server "$XS_PID"
    local dir=$E2E_TMP/s1/dir
    "$E2E_BIN/dpm-test-apiserver" --dir "$dir" --port 0 --state-dir "$st" > "$E2E_TMP/s2.out" 2>&1 &
    local pid=$!
    echo "$pid" >> "$E2E_TMP/pids"
    wait_for 10 grep -q '^ready ' "$E2E_TMP/s2.out" || fail "restart"
    out=$(KUBECONFIG=$dir/admin.kubeconfig k get cm keep -n default -o jsonpath='{.metadata.uid} {.data.a}')
    assert_eq "$out" "$uid b" "object after restart"
    stop_server "$pid"
}

scenario_fault_injection() {
    in_tree_only "fault injection is an endpoint of the in-tree server"
    local ns out admin
    ns=$(new_ns fault)
    admin=$(token_of admin)
    k create cm f -n "$ns" >/dev/null || fail "create"
    out=$(direct "$admin" POST /debug/faults -H 'Content-Type: application/json' \
        -d '{"verb":"get","resource":"configmaps","name":"f","count":1,"action":"status","code":503}')
    assert_eq "$(echo "$out" | head -1)" "201" "add fault"
    out=$(raw GET "/api/v1/namespaces/$ns/configmaps/f")
    assert_eq "$(echo "$out" | head -1)" "503" "injected 503"
    out=$(raw GET "/api/v1/namespaces/$ns/configmaps/f")
    assert_eq "$(echo "$out" | head -1)" "200" "the rule is used up"
    direct "$admin" POST /debug/faults -H 'Content-Type: application/json' \
        -d '{"verb":"list","resource":"configmaps","count":1,"action":"status","code":429,"retryAfterSeconds":1}' >/dev/null
    curl -sS -D "$E2E_TMP/h" -o /dev/null "$E2E_PROXY/api/v1/namespaces/$ns/configmaps"
    out=$(cat "$E2E_TMP/h")
    assert_contains "$out" "429"
    assert_contains "$out" "Retry-After: 1"
    # close-watches ends open watch streams
    ( curl -sS -N --max-time 20 "$E2E_PROXY/api/v1/namespaces/$ns/configmaps?watch=1" > /dev/null ) &
    local pid=$!
    sleep 0.5
    out=$(direct "$admin" POST /debug/faults/close-watches)
    assert_eq "$(echo "$out" | head -1)" "200" "close-watches"
    local i ended=0
    for i in $(seq 1 50); do kill -0 $pid 2>/dev/null || { ended=1; break; }; sleep 0.1; done
    assert_eq "$ended" "1" "the watch ended on close-watches"
    out=$(direct "$(token_of bob)" GET /debug/faults)
    assert_eq "$(echo "$out" | head -1)" "403" "faults need system:masters"
    direct "$admin" DELETE /debug/faults >/dev/null
}
