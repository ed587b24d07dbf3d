# PATCH in every flavour, server-side apply, deletion semantics, garbage
# collection and namespace deletion.

scenario_patch_types() {
    local ns out
    ns=$(new_ns patch)
    k create cm p -n "$ns" --from-literal=a=1 --from-literal=b=2 >/dev/null || fail "create"
    k patch cm p -n "$ns" --type=merge -p '{"data":{"a":"10","b":null}}' >/dev/null || fail "merge patch"
    out=$(k get cm p -n "$ns" -o jsonpath='{.data}')
    assert_eq "$out" '{"a":"10"}' "merge patch result"
    k patch cm p -n "$ns" --type=json -p '[{"op":"add","path":"/data/c","value":"3"},{"op":"remove","path":"/data/a"}]' >/dev/null ||
        fail "json patch"
    out=$(k get cm p -n "$ns" -o jsonpath='{.data}')
    assert_eq "$out" '{"c":"3"}' "json patch result"
    out=$(k patch cm p -n "$ns" --type=json -p '[{"op":"test","path":"/data/c","value":"4"}]' 2>&1) &&
        fail "a failing test op was accepted"
    assert_contains "$out" "The request is invalid"
    k patch cm p -n "$ns" -p '{"metadata":{"labels":{"x":"y"}}}' >/dev/null || fail "strategic merge patch"
    assert_eq "$(k get cm p -n "$ns" -o jsonpath='{.metadata.labels.x}')" "y" "strategic patch"
    out=$(raw PATCH "/api/v1/namespaces/$ns/configmaps/p" '{"data":{"d":"4"}}' application/strategic-merge-patch+json)
    assert_eq "$(echo "$out" | head -1)" "200" "raw strategic merge patch"
    out=$(raw PATCH "/api/v1/namespaces/$ns/configmaps/p" '{}' text/plain)
    assert_status "$out" 415 UnsupportedMediaType
    if server_at_least 21; then
        assert_contains "$(body_of "$out" message)" "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    else
        # 1.20: go-restful refuses the Content-Type itself, with its own text
        assert_eq "$(body_of "$out" message)" "415: Unsupported Media Type" "message on 1.$(server_minor)"
    fi
}

scenario_patch_custom_resource_rejects_strategic() {
    local ns out
    k apply -f "$E2E_ROOT/crds/mesh.io_meshpolicies.yaml" >/dev/null || fail "apply CRD"
    k wait --for condition=established crd/meshpolicies.mesh.io --timeout=20s >/dev/null || fail "established"
    cat <<YAML | k apply -f - >/dev/null || fail "create policy"
apiVersion: mesh.io/v1alpha1
kind: MeshPolicy
metadata: {name: e2e-strategic}
spec:
  enforcement: Warn
  rules: [{name: described, path: spec.description, required: true}]
YAML
    out=$(raw PATCH "/apis/mesh.io/v1alpha1/meshpolicies/e2e-strategic" '{"spec":{"enforcement":"Deny"}}' application/strategic-merge-patch+json)
    assert_eq "$(echo "$out" | head -1)" "415" "strategic merge patch of a custom resource"
    k delete meshpolicy e2e-strategic >/dev/null || fail "delete"
}

scenario_server_side_apply() {
    local ns out
    ns=$(new_ns ssa)
    cat > "$E2E_TMP/cm.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: $ns}
data: {owner: first}
YAML
    out=$(k apply --server-side -f "$E2E_TMP/cm.yaml" 2>&1) || fail "apply --server-side: $out"
    assert_eq "$out" "configmap/ssa serverside-applied"
    out=$(k get cm ssa -n "$ns" -o jsonpath='{.metadata.managedFields[0].manager} {.metadata.managedFields[0].operation}')
    assert_eq "$out" "kubectl Apply" "managedFields"
    sed 's/first/second/' "$E2E_TMP/cm.yaml" > "$E2E_TMP/cm2.yaml"
    out=$(k apply --server-side --field-manager=other -f "$E2E_TMP/cm2.yaml" 2>&1) && fail "a conflicting apply succeeded"
    assert_contains "$out" 'Apply failed with 1 conflict: conflict with "kubectl"'
    assert_contains "$out" ".data.owner"
    out=$(k apply --server-side --field-manager=other --force-conflicts -f "$E2E_TMP/cm2.yaml" 2>&1) || fail "forced apply: $out"
    assert_eq "$(k get cm ssa -n "$ns" -o jsonpath='{.data.owner}')" "second" "forced apply"
}

# A Service port without `protocol`: 1.20's server-side apply refuses it
# (the key has no default in its OpenAPI; 1.21 added one); kubectl's
# client-side apply never needed it.  Container ports have the default in
# 1.20 already.
scenario_server_side_apply_list_keys() {
    local ns out
    ns=$(new_ns ssakeys)
    cat > "$E2E_TMP/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: noproto, namespace: $ns}
spec:
  ports: [{name: http, port: 80}]
YAML
    out=$(raw PATCH "/api/v1/namespaces/$ns/services/noproto?fieldManager=e2e" "$(cat "$E2E_TMP/svc.yaml")" \
        application/apply-patch+yaml)
    if server_at_least 21; then
        assert_eq "$(status_of "$out")" "201" "apply of a Service port without protocol"
        assert_eq "$(body_of "$out" spec.ports.0.protocol)" "TCP" "defaulted protocol"
    else
        assert_eq "$(status_of "$out")" "500" "apply of a Service port without protocol on 1.$(server_minor)"
        assert_eq "$(body_of "$out" message)" \
            'failed to create typed patch object: .spec.ports: element 0: associative list with keys has an element that omits key field "protocol" (and doesn'"'"'t have default value)' \
            "1.20's refusal"
        out=$(k get service noproto -n "$ns" 2>&1) && fail "the refused Service was stored"
    fi
    # with the key set, every version takes it; container ports default theirs
    sed -i 's/port: 80}/port: 80, protocol: TCP}/' "$E2E_TMP/svc.yaml"
    out=$(k apply --server-side -f "$E2E_TMP/svc.yaml" 2>&1) || fail "apply with protocol: $out"
    cat <<YAML > "$E2E_TMP/dep.yaml"
apiVersion: apps/v1
kind: Deployment
metadata: {name: noproto, namespace: $ns}
spec:
  selector: {matchLabels: {app: noproto}}
  template:
    metadata: {labels: {app: noproto}}
    spec:
      containers: [{name: app, image: registry.invalid/x:1, ports: [{containerPort: 8080}]}]
YAML
    out=$(k apply --server-side -f "$E2E_TMP/dep.yaml" 2>&1) || fail "apply of a container port without protocol: $out"
    assert_eq "$(k get deployment noproto -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].ports[0].protocol}')" \
        "TCP" "container port protocol defaulted"
}

scenario_finalizers() {
    local ns out
    ns=$(new_ns fin)
    cat <<YAML | k apply -f - >/dev/null || fail "create"
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: $ns, finalizers: [example.com/hold]}
YAML
    k delete cm held -n "$ns" --wait=false >/dev/null || fail "delete"
    out=$(k get cm held -n "$ns" -o jsonpath='{.metadata.deletionTimestamp}')
    [ -n "$out" ] || fail "deletionTimestamp not set on an object with finalizers"
    k patch cm held -n "$ns" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null || fail "remove finalizer"
    wait_for 10 bash -c "! timeout 10 kubectl get cm held -n $ns" || fail "object not gone after its last finalizer"
}

owner_and_child() { # ns
    k create cm owner -n "$1" >/dev/null || fail "create owner"
    local uid
    uid=$(k get cm owner -n "$1" -o jsonpath='{.metadata.uid}')
    cat <<YAML | k apply -f - >/dev/null || fail "create child"
apiVersion: v1
kind: ConfigMap
metadata:
  name: child
  namespace: $1
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: $uid}]
YAML
}

scenario_garbage_collection() {
    local ns out
    ns=$(new_ns gc)
    owner_and_child "$ns"
    k delete cm owner -n "$ns" >/dev/null || fail "delete owner"
    wait_for 20 bash -c "! timeout 10 kubectl get cm child -n $ns" || fail "the dependent was not collected"
    owner_and_child "$ns"
    k delete cm owner -n "$ns" --cascade=orphan >/dev/null || fail "orphan delete"
    wait_for 20 bash -c "! timeout 10 kubectl get cm owner -n $ns" || fail "owner not gone (orphan)"
    out=$(k get cm child -n "$ns" -o jsonpath='{.metadata.ownerReferences}') || fail "orphaned child gone"
    assert_eq "$out" "" "ownerReferences of an orphan"
    k delete cm child -n "$ns" >/dev/null
    owner_and_child "$ns"
    k delete cm owner -n "$ns" --cascade=foreground >/dev/null || fail "foreground delete"
    wait_for 20 bash -c "! timeout 10 kubectl get cm owner -n $ns" || fail "owner not gone (foreground)"
    out=$(k get cm child -n "$ns" 2>&1) && fail "child left after a foreground delete"
    true
}

scenario_namespace_deletion() {
    local ns out
    ns=$(new_ns nsdel)
    k create cm inside -n "$ns" >/dev/null || fail "create"
    k delete namespace "$ns" --wait=false >/dev/null || fail "delete ns"
    wait_for 30 bash -c "! timeout 10 kubectl get namespace $ns" || fail "namespace not gone"
    out=$(k get cm inside -n "$ns" 2>&1) && fail "content of a deleted namespace survived"
    true
}

scenario_scale_subresource() {
    local ns out
    ns=$(new_ns scale)
    cat <<YAML | k apply -f - >/dev/null || fail "create deployment"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $ns}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: a, image: registry.k8s.io/pause:3.9}]
YAML
    out=$(k scale deployment web -n "$ns" --replicas=3 2>&1) || fail "scale: $out"
    assert_eq "$out" "deployment.apps/web scaled"
    out=$(k get deployment web -n "$ns" -o jsonpath='{.spec.replicas} {.metadata.generation}')
    assert_eq "$out" "3 2" "replicas and generation after scale"
    out=$(k get --raw "/apis/apps/v1/namespaces/$ns/deployments/web/scale" | jget spec.replicas)
    assert_eq "$out" "3" "Scale object"
}
