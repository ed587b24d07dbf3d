# Discovery, version, health and the plain CRUD of a ConfigMap with kubectl.

scenario_version_and_discovery() {
    local out
    out=$(k version 2>&1) || fail "kubectl version: $out"
    assert_contains "$out" "Server Version: v1."
    out=$(k api-resources 2>&1) || fail "api-resources: $out"
    for r in "configmaps " "namespaces " "deployments " "cronjobs " "leases " \
             "customresourcedefinitions " "validatingwebhookconfigurations " "poddisruptionbudgets "; do
        assert_contains "$out" "$r" "api-resources"
    done
    out=$(k get --raw /api)
    assert_contains "$out" '"kind":"APIVersions"'
    out=$(k get --raw /apis)
    assert_contains "$out" '"kind":"APIGroupList"'
    assert_contains "$out" '"name":"apps"'
    out=$(k get --raw /api/v1)
    assert_contains "$out" '"name":"configmaps"'
    assert_contains "$out" '"name":"namespaces/status"'
    out=$(k get --raw /healthz)
    assert_eq "$out" "ok" "/healthz"
    out=$(k get --raw /readyz)
    assert_eq "$out" "ok" "/readyz"
    out=$(raw GET /apis/nope.example.com/v1/things)
    assert_eq "$(echo "$out" | head -1)" "404" "unknown group"
}

scenario_configmap_crud() {
    local ns out uid rv
    ns=$(new_ns crud)
    cat > "$E2E_TMP/cm.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: $ns
  labels: {app: demo}
data:
  color: blue
YAML
    out=$(k apply -f "$E2E_TMP/cm.yaml" 2>&1) || fail "apply: $out"
    assert_eq "$out" "configmap/settings created"
    out=$(k get cm settings -n "$ns" -o json) || fail "get -o json"
    uid=$(echo "$out" | jget metadata.uid)
    rv=$(echo "$out" | jget metadata.resourceVersion)
    [ -n "$uid" ] && [ -n "$rv" ] || fail "uid/resourceVersion missing: $out"
    [ -n "$(echo "$out" | jget metadata.creationTimestamp)" ] || fail "creationTimestamp missing"
    sed -i 's/blue/green/' "$E2E_TMP/cm.yaml"
    out=$(k apply -f "$E2E_TMP/cm.yaml" 2>&1) || fail "apply again: $out"
    assert_eq "$out" "configmap/settings configured"
    out=$(k get cm settings -n "$ns" -o yaml)
    assert_contains "$out" "color: green"
    assert_contains "$out" "uid: $uid"
    [ "$(k get cm settings -n "$ns" -o jsonpath='{.metadata.resourceVersion}')" -gt "$rv" ] ||
        fail "resourceVersion did not grow"
    out=$(k apply -f "$E2E_TMP/cm.yaml" 2>&1)
    assert_eq "$out" "configmap/settings unchanged"
    out=$(k describe cm settings -n "$ns")
    assert_contains "$out" "Name:         settings"
    assert_contains "$out" "app=demo"
    out=$(k get cm -n "$ns" -o wide)
    assert_contains "$out" "settings"
    out=$(k create cm settings -n "$ns" 2>&1) && fail "second create succeeded"
    assert_contains "$out" 'configmaps "settings" already exists'
    out=$(k get cm nothere -n "$ns" 2>&1) && fail "get of a missing object succeeded"
    assert_eq "$out" 'Error from server (NotFound): configmaps "nothere" not found'
    out=$(k create cm Bad_Name -n "$ns" 2>&1) && fail "an invalid name was accepted"
    assert_contains "$out" "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    out=$(k delete cm settings -n "$ns" 2>&1) || fail "delete: $out"
    assert_eq "$out" "configmap \"settings\" deleted"
    out=$(k get cm settings -n "$ns" 2>&1) && fail "deleted object still there"
    assert_contains "$out" "NotFound"
}

scenario_metadata_validation() {
    local ns out
    ns=$(new_ns meta)
    cat > "$E2E_TMP/bad.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: badlabel
  namespace: $ns
  labels: {app: "bad value"}
YAML
    out=$(k apply -f "$E2E_TMP/bad.yaml" 2>&1) && fail "an invalid label value was accepted"
    assert_contains "$out" 'The ConfigMap "badlabel" is invalid: metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters'
    out=$(raw POST "/api/v1/namespaces/$ns/configmaps" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"a":5}}}')
    assert_status "$out" 400 BadRequest
    assert_contains "$(body_of "$out" message)" 'ConfigMap in version "v1" cannot be handled as a ConfigMap'
    out=$(raw POST "/api/v1/namespaces/$ns/configmaps" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"o"}]}}')
    assert_status "$out" 422 Invalid
    assert_contains "$(body_of "$out" message)" 'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty'
}

scenario_create_in_missing_namespace() {
    local out
    out=$(k create cm x -n no-such-namespace-e2e 2>&1) && fail "created in a missing namespace"
    assert_contains "$out" 'namespaces "no-such-namespace-e2e" not found'
}

scenario_optimistic_concurrency() {
    local ns out rv body
    ns=$(new_ns occ)
    k create cm occ -n "$ns" --from-literal=a=1 >/dev/null || fail "create"
    rv=$(k get cm occ -n "$ns" -o jsonpath='{.metadata.resourceVersion}')
    k patch cm occ -n "$ns" --type=merge -p '{"data":{"a":"2"}}' >/dev/null || fail "patch"
    body="{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"occ\",\"namespace\":\"$ns\",\"resourceVersion\":\"$rv\"},\"data\":{\"a\":\"3\"}}"
    out=$(raw PUT "/api/v1/namespaces/$ns/configmaps/occ" "$body")
    assert_status "$out" 409 Conflict \
        'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again'
    assert_eq "$(body_of "$out" details.name)/$(body_of "$out" details.kind)" "occ/configmaps" "Conflict details"
    out=$(raw POST "/api/v1/namespaces/$ns/configmaps" "$body")
    # the storage refuses a create carrying a resourceVersion before it
    # looks for the name: a plain error, 500 without a reason
    assert_eq "$(status_of "$out")" "500" "POST with a resourceVersion"
    assert_eq "$(body_of "$out" message)" "resourceVersion should not be set on objects to be created"
    assert_eq "$(body_of "$out" reason)" "" "reason of a plain storage error"
    body="{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"occ\",\"namespace\":\"$ns\"},\"data\":{\"a\":\"3\"}}"
    out=$(raw POST "/api/v1/namespaces/$ns/configmaps" "$body")
    assert_status "$out" 409 AlreadyExists 'configmaps "occ" already exists'
    out=$(raw GET "/api/v1/namespaces/$ns/configmaps/none")
    assert_status "$out" 404 NotFound 'configmaps "none" not found'
    assert_eq "$(body_of "$out" details.name)/$(body_of "$out" details.kind)" "none/configmaps" "NotFound details"
}

scenario_dry_run() {
    local ns out
    ns=$(new_ns dry)
    out=$(k create cm ghost -n "$ns" --dry-run=server -o jsonpath='{.metadata.name}' 2>&1) || fail "dry run: $out"
    assert_eq "$out" "ghost"
    out=$(k get cm ghost -n "$ns" 2>&1) && fail "a dry-run create was stored"
    assert_contains "$out" "NotFound"
}
