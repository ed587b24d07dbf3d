# The transport refuses what kube-apiserver refuses: oversized bodies and
# headers, malformed requests; --token-auth-file users authenticate.

scenario_transport_limits() {
    in_tree_only "talks HTTPS to the in-tree server directly"
    local admin out
    admin=$(token_of admin)
    head -c 3200000 /dev/zero | tr '\0' 'a' > "$E2E_TMP/big"
    out=$(direct "$admin" POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' \
        --data-binary @"$E2E_TMP/big")
    assert_eq "$(echo "$out" | head -1)" "413" "3 MiB body"
    assert_contains "$out" "Request entity too large: limit is 3145728"
    out=$(direct "$admin" GET /api/v1/namespaces -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' 'b')")
    assert_eq "$(echo "$out" | head -1)" "431" "70 KB header"
    out=$(direct "$admin" POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' \
        --data-binary '{"apiVersion":"v1","kind":"ConfigMap",')
    assert_eq "$(echo "$out" | head -1)" "400" "truncated JSON"
    assert_contains "$out" '"reason":"BadRequest"'
    # a malformed request line over TLS: 400, and the server stays up
    out=$(printf 'GARBAGE\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "${E2E_SERVER#https://}" \
        -CAfile "$E2E_DIR/ca.crt" 2>/dev/null | head -1)
    assert_contains "$out" "HTTP/1.1 400"
    out=$(direct "$admin" GET /healthz)
    assert_eq "$(echo "$out" | tail -1)" "ok" "server alive"
    # keep-alive: two requests on one connection
    out=$(curl -sS --cacert "$E2E_DIR/ca.crt" -H "Authorization: Bearer $admin" -w '%{num_connects}\n' \
        -o /dev/null "$E2E_SERVER/healthz" -o /dev/null "$E2E_SERVER/livez" | tr '\n' ' ')
    assert_eq "$out" "1 0 " "connections opened for two requests"
}

scenario_token_auth_file() {
    in_tree_only "--token-auth-file is a flag of the in-tree server"
    printf 'tok-carol,carol,42,"team-a,team-b"\n' > "$E2E_TMP/tokens"
    extra_server tf --token-auth-file "$E2E_TMP/tokens"
    local out
    out=$(KUBECONFIG=$XS_KUBECONFIG k --token=tok-carol auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}')
    assert_eq "$out" 'carol ["team-a","team-b","system:authenticated"]' "token file user"
    grep -q '^tok-carol,carol,42,' "$E2E_TMP/tf/dir/tokens.csv" || fail "tokens.csv lacks the added user"
    printf 'broken-line\n' > "$E2E_TMP/bad"
    out=$("$E2E_BIN/dpm-test-apiserver" --dir "$E2E_TMP/bd" --token-auth-file "$E2E_TMP/bad" 2>&1) &&
        fail "a malformed token file was accepted"
    assert_contains "$out" "$E2E_TMP/bad:1:1"
    stop_server "$XS_PID"
}
