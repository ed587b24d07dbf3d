# Authentication (tokens, client certificates, service-account tokens) and
# RBAC authorization, SelfSubjectAccessReview (kubectl auth can-i).

scenario_rbac_service_account() {
    local ns tok out kc
    ns=$(new_ns rbac)
    k create serviceaccount robot -n "$ns" >/dev/null || fail "create sa"
    tok=$(k create token robot -n "$ns" 2>&1) || fail "create token: $tok"
    [ -n "$tok" ] || fail "empty token"
    # who the token is: TokenReview on every version; SelfSubjectReview
    # (kubectl auth whoami) from 1.27 on
    out=$(raw POST /apis/authentication.k8s.io/v1/tokenreviews \
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$tok\"}}")
    assert_eq "$(status_of "$out")" "201" "TokenReview status"
    assert_eq "$(body_of "$out" status.authenticated)" "True" "TokenReview authenticated"
    assert_eq "$(body_of "$out" status.user.username)" "system:serviceaccount:$ns:robot" "TokenReview user"
    if server_at_least 27; then
        out=$(k --token="$tok" auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1) || fail "whoami: $out"
        assert_eq "$out" "system:serviceaccount:$ns:robot" "service account user"
    else
        out=$(k --token="$tok" auth whoami 2>&1) && fail "auth whoami worked on 1.$(server_minor): $out"
        assert_contains "$out" "the selfsubjectreviews API is not enabled in the cluster"
    fi
    out=$(k --token="$tok" get cm -n "$ns" 2>&1) && fail "an unbound service account could list configmaps"
    assert_contains "$out" "Error from server (Forbidden): configmaps is forbidden: User \"system:serviceaccount:$ns:robot\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"$ns\""
    out=$(k --token="$tok" get cm nope -n "$ns" 2>&1) && fail "get allowed"
    assert_contains "$out" "configmaps \"nope\" is forbidden: User \"system:serviceaccount:$ns:robot\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"$ns\""
    out=$(k --token="$tok" auth can-i list configmaps -n "$ns" 2>&1 || true)
    assert_eq "$out" "no" "can-i before the binding"
    k create role cm-reader -n "$ns" --verb=get,list,watch --resource=configmaps >/dev/null || fail "create role"
    k create rolebinding robot-reads -n "$ns" --role=cm-reader --serviceaccount="$ns:robot" >/dev/null ||
        fail "create rolebinding"
    wait_for 10 bash -c "[ \"\$(timeout 10 kubectl --token=$tok auth can-i list configmaps -n $ns)\" = yes ]" ||
        fail "can-i after the binding"
    out=$(k --token="$tok" get cm -n "$ns" 2>&1) || fail "list after binding: $out"
    out=$(k --token="$tok" auth can-i delete configmaps -n "$ns" 2>&1 || true)
    assert_eq "$out" "no" "verb not granted"
    out=$(k --token="$tok" auth can-i list configmaps -n default 2>&1 || true)
    assert_eq "$out" "no" "other namespace"
    k delete serviceaccount robot -n "$ns" >/dev/null || fail "delete sa"
    wait_for 10 bash -c "! timeout 10 kubectl --token=$tok get cm -n $ns" || fail "the token outlived its service account"
    out=$(k --token="$tok" get cm -n "$ns" 2>&1 || true)
    assert_contains "$out" "Unauthorized"
}

# A binding naming a Role that does not exist: kube appends the authorizer's
# reason to the 403 message; creating the role then takes effect (the
# server's RBAC view follows RBAC changes).
scenario_rbac_missing_role() {
    local ns tok out
    ns=$(new_ns rbacmiss)
    k create serviceaccount ghostly -n "$ns" >/dev/null || fail "create sa"
    tok=$(k create token ghostly -n "$ns" 2>&1) || fail "create token: $tok"
    k create rolebinding ghost-binding -n "$ns" --role=ghost --serviceaccount="$ns:ghostly" >/dev/null ||
        fail "create rolebinding"
    wait_for 10 bash -c "timeout 10 kubectl --token=$tok get cm -n $ns 2>&1 | grep -q 'RBAC: '" ||
        fail "no RBAC reason in the denial"
    out=$(k --token="$tok" get cm -n "$ns" 2>&1) && fail "listed without the role"
    assert_contains "$out" "Error from server (Forbidden): configmaps is forbidden: User \"system:serviceaccount:$ns:ghostly\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"$ns\": RBAC: role.rbac.authorization.k8s.io \"ghost\" not found"
    assert_eq "$(printf '%s\n' "$out" | grep -o 'not found' | wc -l | tr -d ' ')" "1" "the reason appears once"
    k create role ghost -n "$ns" --verb=list --resource=configmaps >/dev/null || fail "create role"
    wait_for 10 bash -c "timeout 10 kubectl --token=$tok get cm -n $ns >/dev/null 2>&1" ||
        fail "the new role did not take effect"
    k delete role ghost -n "$ns" >/dev/null || fail "delete role"
    wait_for 10 bash -c "! timeout 10 kubectl --token=$tok get cm -n $ns >/dev/null 2>&1" ||
        fail "the deleted role still grants"
}

scenario_authn_tokens_and_certs() {
    local_only "uses the server's CA, CA key and token file"
    local out admin bob
    admin=$(token_of admin)
    bob=$(token_of bob)
    out=$(direct "" GET /api/v1/namespaces)
    if [ "$E2E_INTREE" = 1 ]; then
        # the in-tree server limits anonymous access to health and version
        assert_status "$out" 401 Unauthorized Unauthorized
    else
        # kube-apiserver's default --anonymous-auth: system:anonymous, refused by RBAC
        assert_status "$out" 403 Forbidden \
            'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope'
    fi
    out=$(direct "not-a-token" GET /api/v1/namespaces)
    assert_eq "$(echo "$out" | head -1)" "401" "unknown token"
    out=$(direct "$admin" GET /api/v1/namespaces)
    assert_eq "$(echo "$out" | head -1)" "200" "admin token"
    out=$(direct "$bob" GET /api/v1/namespaces)
    assert_status "$out" 403 Forbidden \
        'namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" at the cluster scope'
    out=$(direct "" GET /healthz)
    assert_eq "$(echo "$out" | head -1)" "200" "anonymous /healthz"
    out=$(direct "" GET /api/v1/namespaces --cert "$E2E_DIR/admin.crt" --key "$E2E_DIR/admin.key")
    assert_eq "$(echo "$out" | head -1)" "200" "client certificate"
    # a certificate from another CA is not trusted
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:masters/CN=mallory" \
        -keyout "$E2E_TMP/m.key" -out "$E2E_TMP/m.crt" -days 1 2>/dev/null || fail "openssl"
    out=$(direct "" GET /api/v1/namespaces --cert "$E2E_TMP/m.crt" --key "$E2E_TMP/m.key")
    assert_eq "$(echo "$out" | head -1)" "401" "untrusted client certificate"
    # a certificate signed by the CA: CN is the user, O the groups
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=dpm-dev/CN=carol" \
        -keyout "$E2E_TMP/c.key" -out "$E2E_TMP/c.csr" 2>/dev/null &&
    openssl x509 -req -in "$E2E_TMP/c.csr" -CA "$E2E_DIR/ca.crt" -CAkey "$E2E_DIR/ca.key" -CAcreateserial \
        -out "$E2E_TMP/c.crt" -days 1 2>/dev/null || fail "openssl sign"
    if ! server_at_least 27; then
        # no SelfSubjectReview before 1.27: the 403 names the certificate's user
        out=$(direct "" GET /api/v1/namespaces/default/configmaps --cert "$E2E_TMP/c.crt" --key "$E2E_TMP/c.key")
        assert_status "$out" 403 Forbidden
        assert_contains "$(body_of "$out" message)" 'User "carol" cannot list resource "configmaps"'
        return 0
    fi
    out=$(direct "" POST /apis/authentication.k8s.io/v1/selfsubjectreviews --cert "$E2E_TMP/c.crt" --key "$E2E_TMP/c.key" \
        -H 'Content-Type: application/json' -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}')
    assert_eq "$(status_of "$out")" "201" "selfsubjectreview"
    assert_eq "$(body_of "$out" status.userInfo.username)" "carol" "user of the certificate"
    assert_contains "$(body_of "$out" status.userInfo.groups)" '"dpm-dev"' "groups of the certificate"
}
