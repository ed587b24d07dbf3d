# CustomResourceDefinitions: served once created, status subresource,
# printer columns, pruning / unknown fields, schema validation.

install_crd() {
    k apply -f "$E2E_ROOT/crds/mesh.io_dataproducts.yaml" >/dev/null || fail "apply CRD"
    k wait --for condition=established crd/dataproducts.mesh.io --timeout=20s >/dev/null ||
        fail "CRD not established"
}

dp_yaml() { # name ns
    cat <<YAML
apiVersion: mesh.io/v1alpha1
kind: DataProduct
metadata:
  name: $1
  namespace: $2
spec:
  domain: $2
  owner: team@company.com
  description: test product
  inputPorts:
    - {name: raw, type: kafka-topic, connection: "arn:aws:kafka:eu-west-1:1:topic/raw"}
  transformation: {engine: spark-k8s, version: "3.5.1"}
  outputPorts:
    - name: out
      type: iceberg-table
      contract:
        format: parquet
        schema:
          - {name: id, type: string, required: true, pii: false}
  expectations: {freshness: 1h}
YAML
}

scenario_crd_served() {
    local ns out
    install_crd
    ns=$(new_ns crd)
    out=$(k api-resources --api-group=mesh.io 2>&1)
    assert_contains "$out" "dataproducts"
    assert_contains "$out" "DataProduct"
    dp_yaml orders "$ns" > "$E2E_TMP/dp.yaml"
    out=$(k apply -f "$E2E_TMP/dp.yaml" 2>&1) || fail "apply dp: $out"
    assert_eq "$out" "dataproduct.mesh.io/orders created"
    out=$(k get dp -n "$ns")
    assert_contains "$(echo "$out" | head -1)" "DOMAIN"
    assert_contains "$(echo "$out" | head -1)" "OWNER"
    assert_contains "$(echo "$out" | head -1)" "PHASE"
    assert_contains "$out" "team@company.com"
    out=$(k get dataproducts.mesh.io orders -n "$ns" -o jsonpath='{.metadata.generation}')
    assert_eq "$out" "1" "generation after create"
    out=$(k describe dp orders -n "$ns")
    assert_contains "$out" "Kind:         DataProduct"
    out=$(k delete dp orders -n "$ns" 2>&1) || fail "delete: $out"
    assert_eq "$out" 'dataproduct.mesh.io "orders" deleted'
}

scenario_crd_status_and_generation() {
    local ns out
    install_crd
    ns=$(new_ns gen)
    dp_yaml g1 "$ns" | k apply -f - >/dev/null || fail "apply"
    k patch dp g1 -n "$ns" --subresource=status --type=merge -p '{"status":{"phase":"Ready"}}' >/dev/null ||
        fail "status patch"
    out=$(k get dp g1 -n "$ns" -o jsonpath='{.metadata.generation} {.status.phase}')
    assert_eq "$out" "1 Ready" "a status write must not bump generation"
    k wait dp/g1 -n "$ns" --for=jsonpath='{.status.phase}'=Ready --timeout=10s >/dev/null || fail "wait"
    k patch dp g1 -n "$ns" --type=merge -p '{"spec":{"description":"changed"},"status":{"phase":"Failed"}}' >/dev/null ||
        fail "spec patch"
    out=$(k get dp g1 -n "$ns" -o jsonpath='{.metadata.generation} {.status.phase}')
    assert_eq "$out" "2 Ready" "a spec write bumps generation and leaves status alone"
    k label dp g1 -n "$ns" x=y >/dev/null || fail "label"
    out=$(k get dp g1 -n "$ns" -o jsonpath='{.metadata.generation}')
    assert_eq "$out" "2" "a metadata change must not bump generation"
}

scenario_crd_unknown_fields() {
    local ns out
    install_crd
    ns=$(new_ns unk)
    dp_yaml u1 "$ns" | sed 's/^  owner:/  fromat: x\n  owner:/' > "$E2E_TMP/bad.yaml"
    out=$(k apply -f "$E2E_TMP/bad.yaml" 2>&1) && fail "an unknown field was accepted with strict validation"
    assert_contains "$out" 'unknown field "spec.fromat"'
    out=$(k apply --validate=false -f "$E2E_TMP/bad.yaml" 2>&1) || fail "apply --validate=false: $out"
    out=$(k get dp u1 -n "$ns" -o jsonpath='{.spec.fromat}|{.spec.owner}')
    assert_eq "$out" "|team@company.com" "the unknown field is pruned"
    dp_yaml u2 "$ns" | sed 's/^  namespace:.*/&\n  domain: seed-style/' > "$E2E_TMP/meta.yaml"
    out=$(k apply -f "$E2E_TMP/meta.yaml" 2>&1) && fail "metadata.domain was accepted"
    assert_contains "$out" 'unknown field "metadata.domain"'
}

scenario_crd_schema_validation() {
    local ns out
    install_crd
    ns=$(new_ns val)
    dp_yaml v1 "$ns" | grep -v '^  domain:' > "$E2E_TMP/nodomain.yaml"
    out=$(k apply -f "$E2E_TMP/nodomain.yaml" 2>&1) && fail "a DataProduct without spec.domain was accepted"
    assert_contains "$out" 'The DataProduct "v1" is invalid'
    assert_contains "$out" "spec.domain: Required value"
}
