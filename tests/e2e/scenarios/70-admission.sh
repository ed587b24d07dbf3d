# Admission webhooks from Validating/MutatingWebhookConfigurations.

start_webhook() {
    local d=$E2E_TMP/wh
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=e2e-webhook-ca" \
        -keyout "$d/ca.key" -out "$d/ca.crt" -days 1 2>/dev/null || fail "openssl ca"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=webhook" \
        -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null || fail "openssl csr"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:webhook-svc.e2e-hooks.svc\n' > "$d/ext"
    openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -extfile "$d/ext" -out "$d/tls.crt" -days 1 2>/dev/null || fail "openssl sign"
    python3 "$E2E_ROOT/tests/e2e/support/webhook.py" "$d/tls.crt" "$d/tls.key" "$d/port" 2> "$d/err" &
    echo $! >> "$E2E_TMP/pids"
    wait_for 10 test -f "$d/port" || fail "webhook did not start: $(cat "$d/err")"
    WH_PORT=$(cat "$d/port")
    WH_CA=$(base64 -w0 < "$d/ca.crt")
}

scenario_admission_webhooks() {
    local_only "the webhook listens on this machine's loopback"
    local ns out
    ns=$(new_ns adm)
    start_webhook
    k label namespace "$ns" e2e-admission=on >/dev/null
    cat <<YAML | k apply -f - >/dev/null || fail "create webhook configurations"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: e2e-validate-$ns}
webhooks:
  - name: validate.e2e.example.com
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 2
    clientConfig: {url: "https://127.0.0.1:$WH_PORT/validate", caBundle: "$WH_CA"}
    namespaceSelector: {matchLabels: {e2e-admission: "on"}}
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: e2e-mutate-$ns}
webhooks:
  - name: mutate.e2e.example.com
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    clientConfig: {url: "https://127.0.0.1:$WH_PORT/mutate", caBundle: "$WH_CA"}
    namespaceSelector: {matchLabels: {e2e-admission: "on"}}
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
YAML
    out=$(k create cm ok1 -n "$ns" 2>&1) || fail "create allowed object: $out"
    assert_contains "$out" "Warning: e2e warning"
    assert_eq "$(k get cm ok1 -n "$ns" -o jsonpath='{.metadata.labels.mutated}')" "true" "mutating webhook patch"
    cat <<YAML > "$E2E_TMP/deny.yaml"
apiVersion: v1
kind: ConfigMap
metadata: {name: bad, namespace: $ns, labels: {deny: "true"}}
YAML
    out=$(k apply -f "$E2E_TMP/deny.yaml" 2>&1) && fail "a denied object was stored"
    assert_contains "$out" 'admission webhook "validate.e2e.example.com" denied the request: labelled deny'
    out=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["name"]=="ok1" and r["operation"]=="CREATE":
        print(r["kind"]["kind"], r["resource"]["resource"], r["namespace"], r["userInfo"]["username"], r["dryRun"])
        break' "$E2E_TMP/wh/port.requests")
    assert_eq "$out" "ConfigMap configmaps $ns admin False" "AdmissionReview request fields"
    out=$(k create cm ok2 -n default 2>&1) || fail "namespaceSelector: $out"
    assert_not_contains "$out" "e2e warning" "namespaceSelector excludes default"
    k delete validatingwebhookconfiguration "e2e-validate-$ns" >/dev/null
    k delete mutatingwebhookconfiguration "e2e-mutate-$ns" >/dev/null
    k delete cm ok2 -n default >/dev/null
}

scenario_admission_failure_policy() {
    local_only "the webhook listens on this machine's loopback"
    local ns out
    ns=$(new_ns admfail)
    k label namespace "$ns" e2e-fail=on >/dev/null
    cat <<YAML | k apply -f - >/dev/null || fail "create webhook configuration"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: e2e-down-$ns}
webhooks:
  - name: down.e2e.example.com
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 1
    clientConfig: {url: "https://127.0.0.1:1/validate"}
    namespaceSelector: {matchLabels: {e2e-fail: "on"}}
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  - name: ignored.e2e.example.com
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Ignore
    timeoutSeconds: 1
    clientConfig: {url: "https://127.0.0.1:1/validate"}
    namespaceSelector: {matchLabels: {e2e-fail: "on"}}
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [secrets]}]
YAML
    out=$(k create cm x -n "$ns" 2>&1) && fail "failurePolicy Fail let the object in"
    assert_contains "$out" 'Internal error occurred: failed calling webhook "down.e2e.example.com"'
    out=$(k create secret generic s -n "$ns" 2>&1) || fail "failurePolicy Ignore blocked: $out"
    k delete validatingwebhookconfiguration "e2e-down-$ns" >/dev/null
}

scenario_admission_service_reference() {
    in_tree_only "--webhook-service-map is a flag of the in-tree server"
    start_webhook
    extra_server svc --webhook-service-map "e2e-hooks/webhook-svc:443=127.0.0.1:$WH_PORT"
    local out
    export KUBECONFIG=$XS_KUBECONFIG
    cat <<YAML | k apply -f - >/dev/null || fail "create webhook configuration"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: e2e-service}
webhooks:
  - name: service.e2e.example.com
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    clientConfig:
      service: {namespace: e2e-hooks, name: webhook-svc, path: /validate, port: 443}
      caBundle: "$WH_CA"
    objectSelector: {matchLabels: {checked: "yes"}}
    rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
YAML
    cat <<YAML > "$E2E_TMP/deny.yaml"
apiVersion: v1
kind: ConfigMap
metadata: {name: svc-deny, namespace: default, labels: {checked: "yes", deny: "true"}}
YAML
    out=$(k apply -f "$E2E_TMP/deny.yaml" 2>&1) && fail "the service-addressed webhook did not deny"
    assert_contains "$out" 'admission webhook "service.e2e.example.com" denied the request: labelled deny'
    out=$(k create cm unchecked -n default 2>&1) || fail "objectSelector: $out"
    assert_not_contains "$out" "e2e warning" "objectSelector excludes unlabelled objects"
    stop_server "$XS_PID"
}
