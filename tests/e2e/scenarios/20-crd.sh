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

# Who refuses an unknown field under kubectl's default (strict) validation
# depends on the server: from 1.25 on the server checks it
# (fieldValidation=Strict, advertised in its OpenAPI): 'unknown field
# "spec.fromat"'; before, kubectl checks the object against the server's
# OpenAPI v2 schema itself: 'unknown field "fromat" in <definition>'.  The
# in-tree server advertises fieldValidation under --emulate-version 1.20
# too (it publishes no schemas in OpenAPI v2 for kubectl to check with).
#   assert_unknown_field OUTPUT PARENT FIELD V2-DEFINITION
assert_unknown_field() {
    case "$1" in
    *"unknown field \"$2.$3\""*) server_at_least 25 || [ "${E2E_INTREE:-0}" = 1 ] ||
        fail "server-side field validation from a 1.$(server_minor) server: $1" ;;
    *"unknown field \"$3\" in $4"*) ! server_at_least 25 ||
        fail "client-side validation against a 1.$(server_minor) server: $1" ;;
    *) fail "want kubectl to refuse the unknown field $2.$3, got [$1]" ;;
    esac
}

scenario_crd_unknown_fields() {
    local ns out
    install_crd
    ns=$(new_ns unk)
    dp_yaml u1 "$ns" | sed 's/^  owner:/  fromat: x\n  owner:/' > "$E2E_TMP/bad.yaml"
    out=$(k apply -f "$E2E_TMP/bad.yaml" 2>&1) && fail "an unknown field was accepted with strict validation"
    assert_unknown_field "$out" spec fromat io.mesh.v1alpha1.DataProduct.spec
    out=$(k apply --validate=false -f "$E2E_TMP/bad.yaml" 2>&1) || fail "apply --validate=false: $out"
    out=$(k get dp u1 -n "$ns" -o jsonpath='{.spec.fromat}|{.spec.owner}')
    assert_eq "$out" "|team@company.com" "the unknown field is pruned"
    dp_yaml u2 "$ns" | sed 's/^  namespace:.*/&\n  domain: seed-style/' > "$E2E_TMP/meta.yaml"
    out=$(k apply -f "$E2E_TMP/meta.yaml" 2>&1) && fail "metadata.domain was accepted"
    assert_unknown_field "$out" metadata domain io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta
}

scenario_crd_schema_validation() {
    local ns out
    install_crd
    ns=$(new_ns val)
    dp_yaml v1 "$ns" | grep -v '^  domain:' > "$E2E_TMP/nodomain.yaml"
    # the server's own check, on every version (kubectl does not validate)
    out=$(k apply --validate=false -f "$E2E_TMP/nodomain.yaml" 2>&1) &&
        fail "the server accepted a DataProduct without spec.domain"
    assert_contains "$out" 'The DataProduct "v1" is invalid'
    assert_contains "$out" "spec.domain: Required value"
    # kubectl's default: before 1.25 kubectl refuses it from the OpenAPI v2
    # schema (see assert_unknown_field), from 1.25 the server does
    out=$(k apply -f "$E2E_TMP/nodomain.yaml" 2>&1) && fail "a DataProduct without spec.domain was accepted"
    case "$out" in
    *'The DataProduct "v1" is invalid'*"spec.domain: Required value"*) ;;
    *'missing required field "domain" in io.mesh.v1alpha1.DataProduct.spec'*)
        ! server_at_least 25 || fail "client-side validation against a 1.$(server_minor) server: $out" ;;
    *) fail "want spec.domain refused as required, got [$out]" ;;
    esac
    # the server's 422, parsed
    out=$(raw POST "/apis/mesh.io/v1alpha1/namespaces/$ns/dataproducts" \
        "$(k create --dry-run=client --validate=false -f "$E2E_TMP/nodomain.yaml" -o json)")
    assert_status "$out" 422 Invalid
    assert_eq "$(body_of "$out" details.causes.0.field)/$(body_of "$out" details.causes.0.reason)" \
        "spec.domain/FieldValueRequired" "the 422's cause"
}

# OpenAPI `pattern` is Go's regexp (RE2): \d and (?:...) work, and a
# pattern Go cannot compile is refused when the CRD is written, with Go's
# error text.
pattern_crd() { # broken-pattern-or-empty
    cat <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: patterns.e2e.dpm.io}
spec:
  group: e2e.dpm.io
  scope: Namespaced
  names: {plural: patterns, singular: pattern, kind: Pattern}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                digits: {type: string, pattern: '^\d{2,4}(?:-\w+)?\$'}
YAML
    [ -z "$1" ] || echo "                broken: {type: string, pattern: '$1'}"
}

scenario_crd_pattern_re2() {
    local ns out
    out=$(pattern_crd '^(a|b)++$' | k create -f - 2>&1) && fail "a CRD with pattern ^(a|b)++\$ was accepted"
    assert_contains "$out" 'properties[spec].properties[broken].pattern: Invalid value: "^(a|b)++$": must be a valid regular expression, but isn'"'"'t: error parsing regexp: invalid nested repetition operator: `++`'
    pattern_crd "" | k apply -f - >/dev/null || fail "apply CRD"
    k wait --for condition=established crd/patterns.e2e.dpm.io --timeout=20s >/dev/null || fail "CRD not established"
    ns=$(new_ns pattern)
    out=$(raw POST "/apis/e2e.dpm.io/v1/namespaces/$ns/patterns" \
        '{"apiVersion":"e2e.dpm.io/v1","kind":"Pattern","metadata":{"name":"ok"},"spec":{"digits":"2024-q1"}}')
    assert_eq "$(status_of "$out")" "201" "a value matching ^\\d{2,4}(?:-\\w+)?\$"
    out=$(raw POST "/apis/e2e.dpm.io/v1/namespaces/$ns/patterns" \
        '{"apiVersion":"e2e.dpm.io/v1","kind":"Pattern","metadata":{"name":"no"},"spec":{"digits":"12345"}}')
    assert_status "$out" 422 Invalid
    assert_eq "$(body_of "$out" message)" \
        'Pattern.e2e.dpm.io "no" is invalid: spec.digits: Invalid value: "12345": spec.digits in body should match '"'"'^\d{2,4}(?:-\w+)?$'"'" \
        "a value not matching"
    k delete crd patterns.e2e.dpm.io --wait=false >/dev/null || fail "delete CRD"
}
