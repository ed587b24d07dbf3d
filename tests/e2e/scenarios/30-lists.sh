# Label and field selectors, pagination, watch.

scenario_selectors() {
    local ns out
    ns=$(new_ns sel)
    k create cm a1 -n "$ns" >/dev/null && k label cm a1 -n "$ns" app=a tier=web >/dev/null
    k create cm b1 -n "$ns" >/dev/null && k label cm b1 -n "$ns" app=b >/dev/null
    k create cm c1 -n "$ns" >/dev/null
    out=$(k get cm -n "$ns" -l app=a -o name | tr '\n' ' ')
    assert_eq "$out" "configmap/a1 " "app=a"
    out=$(k get cm -n "$ns" -l 'app in (a,b)' -o name | tr '\n' ' ')
    assert_eq "$out" "configmap/a1 configmap/b1 " "app in (a,b)"
    out=$(k get cm -n "$ns" -l 'app!=a' -o name | grep -v kube-root | tr '\n' ' ')
    assert_eq "$out" "configmap/b1 configmap/c1 " "app!=a"
    out=$(k get cm -n "$ns" -l '!app' -o name | grep -v kube-root | tr '\n' ' ')
    assert_eq "$out" "configmap/c1 " "!app"
    out=$(k get cm -n "$ns" -l 'app,tier notin (db)' -o name | tr '\n' ' ')
    assert_eq "$out" "configmap/a1 configmap/b1 " "exists + notin (a missing key is not in the set)"
    out=$(k get cm -n "$ns" --field-selector metadata.name=b1 -o name)
    assert_eq "$out" "configmap/b1" "field selector"
    out=$(k get cm -n "$ns" --field-selector metadata.name!=b1,metadata.namespace="$ns" -o name | grep -v kube-root | tr '\n' ' ')
    assert_eq "$out" "configmap/a1 configmap/c1 " "field selector !="
    out=$(k get cm -n "$ns" --field-selector data.x=y 2>&1) && fail "unsupported field selector accepted"
    assert_contains "$out" "Error from server (BadRequest)"
    # configmaps have no field label conversion of their own: runtime's default
    out=$(raw GET "/api/v1/namespaces/$ns/configmaps?fieldSelector=data.x%3Dy")
    assert_status "$out" 400 BadRequest
    assert_contains "$(body_of "$out" message)" \
        '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    # events have a field label conversion of their own
    out=$(raw GET "/api/v1/namespaces/$ns/events?fieldSelector=data.x%3Dy")
    assert_status "$out" 400 BadRequest
    assert_contains "$(body_of "$out" message)" 'field label not supported: data.x'
}

scenario_event_field_selectors() {
    local ns out
    ns=$(new_ns ev)
    cat <<YAML | k apply -f - >/dev/null || fail "create events"
apiVersion: v1
kind: Event
metadata: {name: e1, namespace: $ns}
involvedObject: {kind: DataProduct, name: orders, namespace: $ns}
reason: Created
message: hello
type: Normal
---
apiVersion: v1
kind: Event
metadata: {name: e2, namespace: $ns}
involvedObject: {kind: ConfigMap, name: other, namespace: $ns}
reason: Other
message: bye
type: Warning
YAML
    out=$(k get events -n "$ns" --field-selector involvedObject.name=orders -o name)
    assert_eq "$out" "event/e1"
    out=$(k get events -n "$ns" --field-selector involvedObject.kind=ConfigMap,type=Warning -o name)
    assert_eq "$out" "event/e2"
}

scenario_pagination() {
    local ns out cont n total
    ns=$(new_ns page)
    for i in 1 2 3 4 5; do k create cm "p$i" -n "$ns" >/dev/null || fail "create p$i"; done
    total=$(k get cm -n "$ns" -o name | wc -l)
    out=$(raw GET "/api/v1/namespaces/$ns/configmaps?limit=2")
    assert_eq "$(echo "$out" | head -1)" "200"
    n=$(echo "$out" | tail -n +2 | jget items | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    assert_eq "$n" "2" "page size"
    cont=$(echo "$out" | tail -n +2 | jget metadata.continue)
    [ -n "$cont" ] || fail "no continue token"
    assert_eq "$(echo "$out" | tail -n +2 | jget metadata.remainingItemCount)" "$((total - 2))" "remainingItemCount"
    out=$(raw GET "/api/v1/namespaces/$ns/configmaps?limit=100&continue=$cont")
    n=$(echo "$out" | tail -n +2 | jget items | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    assert_eq "$n" "$((total - 2))" "second page"
    assert_eq "$(echo "$out" | tail -n +2 | jget metadata.continue)" "" "last page has no continue"
    out=$(k get cm -n "$ns" --chunk-size=2 -o name | wc -l)
    assert_eq "$out" "$total" "kubectl --chunk-size"
    out=$(raw GET "/api/v1/namespaces/$ns/configmaps?limit=2&continue=garbage")
    assert_eq "$(echo "$out" | head -1)" "400" "bad continue token"
}

scenario_watch() {
    local ns rv out
    ns=$(new_ns watch)
    k create cm w0 -n "$ns" >/dev/null
    rv=$(raw GET "/api/v1/namespaces/$ns/configmaps" | tail -n +2 | jget metadata.resourceVersion)
    ( curl -sS -N --max-time 10 "$E2E_PROXY/api/v1/namespaces/$ns/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=3" \
        > "$E2E_TMP/watch.out" ) &
    local pid=$!
    sleep 0.5
    k create cm w1 -n "$ns" >/dev/null
    k label cm w1 -n "$ns" x=y >/dev/null
    k delete cm w1 -n "$ns" >/dev/null
    wait $pid || fail "the watch did not end by itself after timeoutSeconds"
    out=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l); print(e["type"], e["object"]["metadata"]["name"])' "$E2E_TMP/watch.out" | tr '\n' ',')
    assert_eq "$out" "ADDED w1,MODIFIED w1,DELETED w1," "watch events"
    out=$(timeout 5 curl -sS -N --max-time 4 "$E2E_PROXY/api/v1/namespaces/$ns/configmaps?watch=1&timeoutSeconds=1" | head -1)
    assert_contains "$out" '"type":"ADDED"' "watch without resourceVersion starts with the state"
    out=$(k get cm w0 -n "$ns" -w --request-timeout=2s 2>&1 | head -2)
    assert_contains "$out" "w0"
}

scenario_watch_expired() {
    in_tree_only "a real server keeps history until etcd compacts it"
    local ns rv out
    ns=$(new_ns expire)
    k create cm first -n "$ns" >/dev/null
    rv=$(k get cm first -n "$ns" -o jsonpath='{.metadata.resourceVersion}')
    for i in $(seq 1 210); do echo "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x$i\"}}"; done > "$E2E_TMP/many.json"
    k apply -f "$E2E_TMP/many.json" -n "$ns" >/dev/null 2>&1 || true
    k create -f "$E2E_TMP/many.json" -n "$ns" >/dev/null 2>&1 || true
    out=$(curl -sS -N --max-time 5 "$E2E_PROXY/api/v1/namespaces/$ns/configmaps?watch=1&resourceVersion=$rv")
    assert_contains "$out" '"type":"ERROR"'
    assert_contains "$out" '"code":410'
    assert_contains "$out" '"reason":"Expired"'
    assert_contains "$out" "too old resource version: $rv ("
}

scenario_watch_bookmarks_initial_events() {
    local ns rv out
    ns=$(new_ns bm)
    k create cm b0 -n "$ns" >/dev/null
    if ! server_at_least 27; then
        # sendInitialEvents came in 1.27: before, it is an unknown parameter
        # and resourceVersionMatch on a watch is refused by ListOptions'
        # validation (resourceVersionMatch itself came in 1.19)
        out=$(raw GET "/api/v1/namespaces/$ns/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
        assert_status "$out" 422 Invalid
        assert_contains "$(body_of "$out" message)" \
            'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch, resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided]'
        assert_eq "$(body_of "$out" details.causes.0.field)" "resourceVersionMatch" "cause field"
        # what 1.20 offers instead: a watch from "" starts with the state
        out=$(curl -sS -N --max-time 5 "$E2E_PROXY/api/v1/namespaces/$ns/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=1")
        assert_contains "$out" '"type":"ADDED"'
        assert_contains "$out" '"name":"b0"'
        return 0
    fi
    out=$(curl -sS -N --max-time 5 "$E2E_PROXY/api/v1/namespaces/$ns/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
    assert_contains "$out" '"type":"ADDED"'
    assert_contains "$out" '"type":"BOOKMARK"'
    assert_contains "$out" '"k8s.io/initial-events-end":"true"'
}
