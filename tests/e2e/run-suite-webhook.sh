#!/usr/bin/env bash
# The webhook suite: `dpm webhook` as a real process over real TLS, driven
# with curl and openssl s_client (Debian packages).
#   tests/e2e/run-suite-webhook.sh BUILD
# Prints "ok NAME" / "FAIL NAME" per check and ends with "N passed, N failed".
# It never hangs: every client runs under `timeout`, every server is killed
# on exit, and ports are picked free at run time.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DPM=$BUILD/dpm
HERE=tests/e2e/webhook
EX=examples
W=$(mktemp -d /tmp/dpm-webhook-suite.XXXXXX)
# shellcheck source=support/checks.sh
. tests/e2e/support/checks.sh

for tool in curl openssl; do
    if ! command -v $tool >/dev/null; then
        fail "prerequisites: $tool is not installed (apt-get install $tool)"
        finish
    fi
done
if [ ! -x "$DPM" ] || [ ! -f "$BUILD/libdpm.a" ]; then
    fail "prerequisites: $DPM and $BUILD/libdpm.a (make BUILD=$BUILD)"
    finish
fi

# ---- the helper: built with this build (make unit) --------------------------
TOOL=$BUILD/tools/wh_tool
if [ ! -x "$TOOL" ]; then fail "prerequisites: $TOOL (make BUILD=$BUILD unit)"; finish; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
tool() { timeout 20 "$TOOL" "$@"; }

# ---- --help: the documented limits -------------------------------------------
"$DPM" webhook --help >"$W/help" 2>&1
if grep -q 'read again only when it changes again' "$W/help" && grep -q 'closed at once, before the TLS handshake' "$W/help" &&
    grep -q -e '--idle-timeout SECONDS' "$W/help"; then
    ok "--help documents the -p retry rule, the connection cap and --idle-timeout"
else fail "--help documents the -p retry rule, the connection cap and --idle-timeout" "$(grep -A3 -e '--policy' -e '--idle' "$W/help")"; fi

# ---- servers ----------------------------------------------------------------
# start_webhook NAME ARGS...: runs dpm webhook on a free port of 127.0.0.1
# (--listen 127.0.0.1:0: the kernel picks it, the ready line reports it);
# sets PORT and PID; stdout in $W/NAME.out, the JSON log in $W/NAME.log.
start_webhook() {
    local name=$1
    shift
    "$DPM" webhook --listen 127.0.0.1:0 "$@" >"$W/$name.out" 2>"$W/$name.log" &
    PID=$!
    pids+=("$PID")
    for _ in $(seq 1 150); do
        PORT=$(sed -n 's|^ready https://127.0.0.1:\([0-9]*\)$|\1|p' "$W/$name.out" 2>/dev/null)
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# HTTPS helpers.  CA is the CA of the server being talked to.
hcurl() { timeout 15 curl -sS --cacert "$CA" --max-time 10 "$@"; }
post() { # post PATH FILE [curl args]: prints the body
    local path=$1 file=$2
    shift 2
    hcurl -H 'Content-Type: application/json' --data-binary @"$file" "$@" "https://127.0.0.1:$PORT$path"
}
status_of() { # status_of CURLARGS...: prints the HTTP code
    hcurl -o "$W/body" -D "$W/headers" -w '%{http_code}' "$@"
}
# serial of the certificate that a new handshake presents
served_serial() {
    timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername dpm-webhook </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null
}
file_serial() { openssl x509 -noout -serial -in "$1"; }
serial_is() { [ "$(served_serial "$1")" = "$2" ]; }
# handshake PORT ARGS...: 0 when a TLS handshake with these s_client options succeeds
handshake() {
    local port=$1
    shift
    timeout 10 openssl s_client -connect "127.0.0.1:$port" "$@" </dev/null >"$W/sclient" 2>&1 &&
        grep -q '^New, TLSv1' "$W/sclient" && ! grep -q 'Cipher is (NONE)' "$W/sclient"
}
# wait_for SECONDS COMMAND...: polls every 0.2 s
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    while [ $SECONDS -le $deadline ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
# the text `dpm validate` prints after "error: " / "warning: "
validate_lines() { # validate_lines SEVERITY ARGS...
    local sev=$1
    shift
    timeout 20 "$DPM" validate "$@" | sed -n "s/^[^ ]*: $sev: //p"
}

# ---- certificates -----------------------------------------------------------
certs() { # certs DIR [ARGS]
    local dir=$1
    shift
    timeout 30 "$DPM" certs --service dpm-webhook --namespace dpm-system --out "$dir" --ip 127.0.0.1 "$@" \
        >/dev/null 2>"$W/certs.err"
}
certs_ok() { certs "$W/ecdsa" && test -s "$W/ecdsa/ca.crt" -a -s "$W/ecdsa/tls.crt" -a -s "$W/ecdsa/tls.key"; }
check "dpm certs writes ca.crt, tls.crt, tls.key (ECDSA)" certs_ok
rsa_ok() { certs "$W/rsa" --key rsa && openssl x509 -noout -text -in "$W/rsa/tls.crt" | grep -q 'rsaEncryption'; }
check "dpm certs --key rsa" rsa_ok
san_ok() {
    openssl x509 -noout -ext subjectAltName -in "$W/ecdsa/tls.crt" >"$W/san" &&
        grep -q 'DNS:dpm-webhook.dpm-system.svc.cluster.local' "$W/san" && grep -q 'DNS:dpm-webhook.dpm-system.svc,' "$W/san" &&
        grep -q 'DNS:dpm-webhook,' "$W/san" && grep -q 'IP Address:127.0.0.1' "$W/san"
}
check "serving certificate names the service (4 DNS names) and the IP" san_ok

mkdir -p "$W/pol"
cp "$EX/policies/gdpr-baseline.yaml" "$EX/policies/resource-ceilings.yaml" "$W/pol/"
POLICIES=(-p "$W/pol/gdpr-baseline.yaml" -p "$W/pol/resource-ceilings.yaml")

# ============================================================================
# Server A: ECDSA, gdpr-baseline (Deny) + resource-ceilings (Warn)
# ============================================================================
CA=$W/ecdsa/ca.crt
if ! start_webhook a --cert-dir "$W/ecdsa" --max-body 200000 "${POLICIES[@]}"; then
    fail "dpm webhook starts and prints ready" "$(cat "$W/a.log" "$W/a.out" 2>/dev/null | head -20)"
    finish
fi
ok "dpm webhook starts and prints ready"
A_PORT=$PORT A_PID=$PID
URL=https://127.0.0.1:$A_PORT

# ---- endpoints --------------------------------------------------------------
code_is() { [ "$(hcurl -o "$W/body" -w '%{http_code}' "$URL$2")" = "$1" ]; }
check "GET /healthz 200" code_is 200 /healthz
check "GET /readyz 200 (certificates loaded, policies synced)" code_is 200 /readyz

# ---- AdmissionReviews ---------------------------------------------------------
SEED=$EX/dataproducts/payment-transactions-enriched.yaml
tool review --uid uid-seed-v1 "$SEED" >"$W/seed-v1.json"
tool review --uid uid-seed-v1beta1 --version v1beta1 "$SEED" >"$W/seed-v1beta1.json"

post /validate "$W/seed-v1.json" >"$W/r" 2>&1
if [ "$(tool get response.allowed "$W/r")" = true ] && [ "$(tool get response.uid "$W/r")" = uid-seed-v1 ] &&
    [ "$(tool get apiVersion "$W/r")" = admission.k8s.io/v1 ] && [ "$(tool get kind "$W/r")" = AdmissionReview ] &&
    ! tool get response.status "$W/r" >/dev/null; then
    ok "v1: the seed product is allowed, uid echoed, answered in v1"
else fail "v1: the seed product is allowed, uid echoed, answered in v1" "$(head -c 1500 "$W/r")"; fi

post /validate "$W/seed-v1beta1.json" >"$W/r" 2>&1
if [ "$(tool get response.allowed "$W/r")" = true ] && [ "$(tool get response.uid "$W/r")" = uid-seed-v1beta1 ] &&
    [ "$(tool get apiVersion "$W/r")" = admission.k8s.io/v1beta1 ]; then
    ok "v1beta1: allowed and answered in v1beta1"
else fail "v1beta1: allowed and answered in v1beta1" "$(head -c 1500 "$W/r")"; fi

# deny_matches NAME REVIEW EXPECTED_LINES_FILE: 403, Forbidden, and the
# message is "N violation(s):" then exactly the expected lines.
deny_matches() {
    local name=$1 review=$2 expected=$3 ep=${4:-/validate}
    post "$ep" "$review" >"$W/r" 2>&1
    local n
    n=$(wc -l <"$expected")
    tool get response.status.message "$W/r" >"$W/msg" 2>/dev/null
    if [ "$(tool get response.allowed "$W/r")" = false ] && [ "$(tool get response.status.code "$W/r")" = 403 ] &&
        [ "$(tool get response.status.reason "$W/r")" = Forbidden ] && [ "$n" -gt 0 ] &&
        [ "$(head -1 "$W/msg")" = "$n violation$([ "$n" = 1 ] || echo s):" ] &&
        diff <(tail -n +2 "$W/msg") "$expected" >"$W/diff"; then
        ok "$name"
    else
        fail "$name" "$(head -c 1500 "$W/r")" "$(cat "$W/diff" 2>/dev/null)"
    fi
}

tool review --uid uid-broken "$EX/invalid/broken-contract.yaml" >"$W/broken.json"
validate_lines error "${POLICIES[@]}" "$EX/invalid/broken-contract.yaml" >"$W/broken.expected"
deny_matches "broken contract denied: 403 and every reason, each line equal to dpm validate's" \
    "$W/broken.json" "$W/broken.expected"

tool review --uid uid-pii "$EX/invalid/untagged-pii-outside-eu.yaml" >"$W/pii.json"
validate_lines error "${POLICIES[@]}" "$EX/invalid/untagged-pii-outside-eu.yaml" >"$W/pii.expected"
deny_matches "policy violations (PII, residency, retention) denied, equal to dpm validate's" \
    "$W/pii.json" "$W/pii.expected"

# The Warn policy: allowed, with dpm validate's warnings.
tool review --uid uid-fraud "$EX/dataproducts/fraud-scores.yaml" >"$W/fraud.json"
validate_lines warning "${POLICIES[@]}" "$EX/dataproducts/fraud-scores.yaml" >"$W/fraud.expected"
post /validate "$W/fraud.json" >"$W/r" 2>&1
tool get response.warnings "$W/r" >"$W/warnings" 2>/dev/null
if [ "$(tool get response.allowed "$W/r")" = true ] && [ -s "$W/fraud.expected" ] &&
    [ "$(tool get 'response.warnings[0]' "$W/r")" = "$(head -1 "$W/fraud.expected")" ] &&
    [ "$(wc -l <"$W/fraud.expected")" = "$(tr ',' '\n' <"$W/warnings" | grep -c .)" ]; then
    ok "Warn policy: allowed with warnings equal to dpm validate's"
else fail "Warn policy: allowed with warnings equal to dpm validate's" "$(head -c 1500 "$W/r")"; fi

# UPDATE: a breaking schema change against oldObject.
OLD=$SEED
tool review --uid uid-break --op UPDATE --old "$OLD" "$EX/update/payment-transactions-enriched-v2-breaking.yaml" >"$W/upd-break.json"
validate_lines error "${POLICIES[@]}" --old "$OLD" "$EX/update/payment-transactions-enriched-v2-breaking.yaml" >"$W/upd-break.expected"
deny_matches "UPDATE with a breaking schema change denied, equal to dpm validate --old" \
    "$W/upd-break.json" "$W/upd-break.expected"
if grep -q '^compatibility/' "$W/upd-break.expected"; then ok "the breaking change is reported as compatibility/<mode>"
else fail "the breaking change is reported as compatibility/<mode>" "$(cat "$W/upd-break.expected")"; fi

tool review --uid uid-compat --op UPDATE --old "$OLD" "$EX/update/payment-transactions-enriched-v2-compatible.yaml" >"$W/upd-ok.json"
allowed() { [ "$(post "$1" "$2" | tool get response.allowed)" = true ]; }
check "UPDATE with a compatible schema change allowed" allowed /validate "$W/upd-ok.json"

# UPDATE changing spec.domain.
sed 's/^  domain: fintech-core$/  domain: payments-core/' "$SEED" >"$W/domain-changed.yaml"
tool review --uid uid-domain --op UPDATE --old "$OLD" "$W/domain-changed.yaml" >"$W/upd-domain.json"
validate_lines error "${POLICIES[@]}" --old "$OLD" "$W/domain-changed.yaml" >"$W/upd-domain.expected"
deny_matches "UPDATE changing spec.domain denied, equal to dpm validate --old" "$W/upd-domain.json" "$W/upd-domain.expected"
if grep -q '^spec.domain' "$W/upd-domain.expected"; then ok "the domain change names spec.domain"
else fail "the domain change names spec.domain" "$(cat "$W/upd-domain.expected")"; fi

# DELETE of a product that would be rejected: allowed, no checks.
tool review --uid uid-delete --op DELETE --old "$EX/invalid/broken-contract.yaml" - >"$W/delete.json"
post /validate "$W/delete.json" >"$W/r" 2>&1
if [ "$(tool get response.allowed "$W/r")" = true ] && [ "$(tool get response.uid "$W/r")" = uid-delete ]; then
    ok "DELETE allowed"
else fail "DELETE allowed" "$(head -c 1500 "$W/r")"; fi

# dryRun: the same decision.
tool review --uid uid-dry --dry-run --user dry-runner "$EX/invalid/untagged-pii-outside-eu.yaml" >"$W/dry.json"
deny_matches "dryRun: same decision as a real request" "$W/dry.json" "$W/pii.expected"

# /mutate: defaults and the mesh.io/domain label as a base64 JSONPatch.
tool review --uid uid-mutate "$EX/dataproducts/merchants.yaml" >"$W/mutate.json"
post /mutate "$W/mutate.json" >"$W/r" 2>&1
tool get response.patch "$W/r" 2>/dev/null | base64 -d >"$W/patch" 2>/dev/null
if [ "$(tool get response.allowed "$W/r")" = true ] && [ "$(tool get response.patchType "$W/r")" = JSONPatch ] &&
    tool get '[0]' "$W/patch" >/dev/null &&
    grep -q '"mesh.io/domain":"merchant-core"' "$W/patch" &&
    grep -q '"path":"/spec/deletionPolicy","value":"Retain"' "$W/patch" &&
    grep -q '"path":"/spec/expectations/schemaCompatibility","value":"BACKWARD"' "$W/patch"; then
    ok "/mutate: JSONPatch with the defaults and the mesh.io/domain label"
else fail "/mutate: JSONPatch with the defaults and the mesh.io/domain label" "$(head -c 1500 "$W/r")" "$(cat "$W/patch")"; fi

# /validate-policy
tool review --uid uid-policy "$HERE/broken-policy.yaml" >"$W/bad-policy.json"
validate_lines error "$HERE/broken-policy.yaml" >"$W/bad-policy.expected"
deny_matches "/validate-policy: a broken MeshPolicy denied with every problem" "$W/bad-policy.json" \
    "$W/bad-policy.expected" /validate-policy
tool review --uid uid-good-policy "$EX/policies/gdpr-baseline.yaml" >"$W/good-policy.json"
check "/validate-policy: gdpr-baseline allowed" allowed /validate-policy "$W/good-policy.json"

# ---- metrics (after traffic) --------------------------------------------------
hcurl "$URL/metrics" >"$W/metrics" 2>&1
not_after=$(date -u -d "$(openssl x509 -noout -enddate -in "$W/ecdsa/tls.crt" | cut -d= -f2)" +%s)
metric() { awk -v m="$1" '$1 == m { print $2 }' "$W/metrics"; }
check "/metrics: dpm_webhook_requests_total by endpoint, operation, decision" \
    grep -q '^dpm_webhook_requests_total{endpoint="/validate",operation="CREATE",decision="denied",code="200"} [1-9]' "$W/metrics"
buckets_ok() {
    grep -q '^dpm_webhook_request_duration_seconds_bucket{endpoint="/validate",le="0.0001"}' "$W/metrics" &&
        grep -q '^dpm_webhook_request_duration_seconds_bucket{endpoint="/validate",le="0.0005"}' "$W/metrics" &&
        grep -q '^dpm_webhook_request_duration_seconds_count{endpoint="/validate"} [1-9]' "$W/metrics"
}
check "/metrics: dpm_webhook_request_duration_seconds with sub-millisecond buckets" buckets_ok
check "/metrics: dpm_webhook_inflight_requests" grep -q '^dpm_webhook_inflight_requests [0-9]' "$W/metrics"
check "/metrics: dpm_webhook_policies 2" test "$(metric dpm_webhook_policies)" = 2
if [ -n "$(metric dpm_webhook_certificate_expiry_timestamp_seconds)" ] &&
    [ "$(printf '%.0f' "$(metric dpm_webhook_certificate_expiry_timestamp_seconds)")" = "$not_after" ]; then
    ok "/metrics: certificate expiry is the certificate's notAfter ($not_after)"
else fail "/metrics: certificate expiry is the certificate's notAfter ($not_after)" "$(grep expiry "$W/metrics")"; fi

# ---- bad input --------------------------------------------------------------
code=$(status_of -X GET "$URL/validate")
if [ "$code" = 405 ] && grep -qi '^allow: POST' "$W/headers"; then ok "GET /validate: 405 with Allow: POST"
else fail "GET /validate: 405 with Allow: POST" "$code" "$(cat "$W/headers")"; fi
code=$(status_of -X POST -H 'Content-Type: application/json' --data '{}' "$URL/healthz")
if [ "$code" = 405 ] && grep -qi '^allow: GET' "$W/headers"; then ok "POST /healthz: 405 with Allow: GET"
else fail "POST /healthz: 405 with Allow: GET" "$code" "$(cat "$W/headers")"; fi
code=$(status_of -H 'Content-Type: text/plain' --data-binary @"$W/seed-v1.json" "$URL/validate")
if [ "$code" = 415 ] && grep -q 'application/json' "$W/body"; then ok "wrong content type: 415"
else fail "wrong content type: 415" "$code" "$(cat "$W/body")"; fi
head -c 300000 /dev/zero | tr '\0' ' ' >"$W/big"
code=$(status_of -H 'Content-Type: application/json' --data-binary @"$W/big" "$URL/validate")
if [ "$code" = 413 ] && grep -q '200000' "$W/body"; then ok "body over --max-body (Content-Length): 413"
else fail "body over --max-body (Content-Length): 413" "$code" "$(cat "$W/body")"; fi
code=$(status_of -H "Content-Type: application/json" -H "Transfer-Encoding: chunked" --data-binary @"$W/seed-v1.json" "$URL/validate")
if [ "$code" = 200 ] && [ "$(tool get response.allowed "$W/body")" = true ]; then ok "chunked body: decoded and reviewed"
else fail "chunked body: decoded and reviewed" "$code" "$(cat "$W/body")"; fi
# Answered before the body is read, then a lingering close: the client,
# still sending, reads the answer rather than a TCP reset (a close with its
# data unread would reset the connection, and the reset can overtake the
# answer).  Repeated, as a race would show only now and then.
refused_repeatedly() { # refused_repeatedly CODE TEXT CURLARGS...
    local want=$1 text=$2 i got
    shift 2
    for i in $(seq 1 25); do
        got=$(status_of -H "Content-Type: application/json" "$@" --data-binary @"$W/big" "$URL/validate" 2>"$W/curl.err")
        if [ "$got" != "$want" ] || ! grep -q "$text" "$W/body"; then
            echo "attempt $i: $got $(cat "$W/curl.err")"
            return 1
        fi
    done
}
check "body over --max-body: 413 read by the client 25 times of 25 (lingering close)" refused_repeatedly 413 200000
check "chunked body of 300 KB over --max-body: 413 read by the client 25 times of 25 (lingering close)" \
    refused_repeatedly 413 200000 -H "Transfer-Encoding: chunked"
printf '{"apiVersion": "admission.k8s.io/v1", "kind": ' >"$W/malformed"
code=$(status_of -H 'Content-Type: application/json' --data-binary @"$W/malformed" "$URL/validate")
if [ "$code" = 400 ] && grep -q 'byte [0-9]' "$W/body"; then ok "malformed JSON: 400 naming the byte ($(head -c 120 "$W/body"))"
else fail "malformed JSON: 400 naming the byte" "$code" "$(cat "$W/body")"; fi
printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}' >"$W/nouid"
code=$(status_of -H 'Content-Type: application/json' --data-binary @"$W/nouid" "$URL/validate")
if [ "$code" = 400 ] && grep -q 'request.uid' "$W/body"; then ok "AdmissionReview without request.uid: 400"
else fail "AdmissionReview without request.uid: 400" "$code" "$(cat "$W/body")"; fi
# Reviews that are not what kube-apiserver sends (400 naming the field) and
# reviews exactly as it sends them (answered), a corpus: adding a case needs
# no code.  tests/e2e/webhook/reviews/<case>/review.json is POSTed to the
# endpoint in <case>/endpoint (default /validate); the first line of
# <case>/expected is the HTTP status, each further line a text the body
# must contain.
for c in "$HERE"/reviews/*/; do
    name=$(basename "$c")
    ep=/validate
    [ -f "$c/endpoint" ] && ep=$(cat "$c/endpoint")
    code=$(status_of -H 'Content-Type: application/json' --data-binary @"$c/review.json" "$URL$ep")
    missing=""
    while IFS= read -r want; do
        grep -qF -- "$want" "$W/body" || missing="$want"
    done < <(tail -n +2 "$c/expected")
    if [ "$code" = "$(head -1 "$c/expected")" ] && [ -z "$missing" ]; then ok "review corpus: $name ($code $ep)"
    else fail "review corpus: $name ($ep)" "status $code, want $(head -1 "$c/expected")" "missing: $missing" \
        "$(head -c 800 "$W/body")"; fi
done
code=$(status_of "$URL/nope")
if [ "$code" = 404 ]; then ok "unknown path: 404"; else fail "unknown path: 404" "$code"; fi
# the server is still fine after all of that, on one keep-alive connection
code=$(hcurl -o /dev/null -w '%{http_code}' "$URL/healthz" -o /dev/null "$URL/readyz")
if [ "$code" = 200200 ]; then ok "still serving after bad input (two requests, one connection)"
else fail "still serving after bad input" "$code"; fi

# ---- TLS ----------------------------------------------------------------------
# SECLEVEL=0 lets this client offer the old protocol and suites, so the
# refusals below are the server's.
if handshake "$A_PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'; then fail "TLS 1.1 refused" "$(tail -5 "$W/sclient")"
elif grep -q 'alert protocol version' "$W/sclient"; then ok "TLS 1.1 refused (protocol version alert)"
else fail "TLS 1.1 refused (protocol version alert)" "$(grep -i error "$W/sclient")"; fi
if handshake "$A_PORT" -tls1_2 && grep -q 'Protocol *: TLSv1.2' "$W/sclient"; then ok "TLS 1.2 accepted"
else fail "TLS 1.2 accepted" "$(tail -5 "$W/sclient")"; fi
if handshake "$A_PORT" -tls1_3 && grep -q 'TLSv1.3' "$W/sclient"; then ok "TLS 1.3 accepted"
else fail "TLS 1.3 accepted" "$(tail -5 "$W/sclient")"; fi
if handshake "$A_PORT" && grep -q 'New, TLSv1.3' "$W/sclient"; then ok "TLS 1.3 preferred"
else fail "TLS 1.3 preferred" "$(grep New, "$W/sclient")"; fi
for c in ECDHE-ECDSA-AES128-SHA AES128-SHA DES-CBC3-SHA AES256-SHA256 ECDHE-ECDSA-AES256-SHA384; do
    if handshake "$A_PORT" -tls1_2 -cipher "$c:@SECLEVEL=0"; then fail "weak TLS 1.2 suite $c refused" "$(grep 'Cipher is' "$W/sclient")"
    else ok "weak TLS 1.2 suite $c refused"; fi
done
if handshake "$A_PORT" -tls1_2 && grep -q 'Cipher is ECDHE-ECDSA-.*GCM\|Cipher is ECDHE-ECDSA-CHACHA20' "$W/sclient" &&
    grep -q 'Peer signature type: ECDSA' "$W/sclient"; then
    ok "ECDSA key: forward-secret AEAD suite"
else fail "ECDSA key: forward-secret AEAD suite" "$(grep -E 'Cipher is|Peer sig' "$W/sclient")"; fi

# HTTP/1.1 only (ALPN): lws 4.1's HTTP/2 server stalls on responses past 4 KiB.
if handshake "$A_PORT" -alpn h2,http/1.1 && grep -q 'ALPN protocol: http/1.1' "$W/sclient"; then ok "ALPN: http/1.1 chosen over h2"
else fail "ALPN: http/1.1 chosen over h2" "$(grep -i alpn "$W/sclient")"; fi
# Connection: close is answered with "connection: close" and an orderly TLS
# shutdown (close_notify), not a bare TCP close that clients report as an error.
(printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'; sleep 2) |
    timeout 10 openssl s_client -connect "127.0.0.1:$A_PORT" -ign_eof -msg >"$W/close.out" 2>&1
if grep -qi '^connection: close' "$W/close.out" && grep -q '<<< .*Alert.*close_notify' "$W/close.out" &&
    ! grep -qi 'unexpected eof' "$W/close.out"; then ok "Connection: close: answered with connection: close, then close_notify"
else fail "Connection: close: answered with connection: close, then close_notify" "$(grep -i -E 'connection:|alert|eof' "$W/close.out")"; fi
size=$(hcurl -o "$W/metrics2" -w '%{size_download} %{http_version}' "$URL/metrics")
if [ "${size#* }" = 1.1 ] && [ "${size%% *}" -gt 4096 ] && [ "$(grep -c '^# HELP' "$W/metrics2")" = "$(grep -c '^# TYPE' "$W/metrics2")" ] &&
    [ -z "$(tail -c 1 "$W/metrics2")" ]; then ok "a response over 4 KiB arrives whole (/metrics, ${size%% *} bytes)"
else fail "a response over 4 KiB arrives whole" "$size"; fi

# ---- slow and idle clients -----------------------------------------------------
# Server B: short read timeout and a small connection cap.
if start_webhook b --cert-dir "$W/ecdsa" --read-timeout 2 --idle-timeout 3 --max-connections 4 "${POLICIES[@]}"; then
    B_PORT=$PORT B_PID=$PID
    # slow_client NAME PAYLOAD: sends PAYLOAD then waits 9 s; writes how long
    # the connection lived (ms) to $W/NAME.ms.
    slow_client() {
        local t0
        t0=$(date +%s%N)
        timeout 12 openssl s_client -quiet -connect "127.0.0.1:$B_PORT" < <(printf "$2"; sleep 9) >/dev/null 2>&1
        echo $((($(date +%s%N) - t0) / 1000000)) >"$W/$1.ms"
    }
    slow_client slow-headers 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: appl' &
    slow_client slow-body 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"apiVersion":' &
    # A body trickled a byte every 0.5 s: each read is in time, the whole is not.
    trickle_client() {
        local t0
        t0=$(date +%s%N)
        timeout 12 openssl s_client -quiet -connect "127.0.0.1:$B_PORT" < <(
            printf 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n'
            for _ in $(seq 1 18); do printf ' '; sleep 0.5; done
        ) >/dev/null 2>&1
        echo $((($(date +%s%N) - t0) / 1000000)) >"$W/trickle-body.ms"
    }
    trickle_client &
    sleep 0.5
    t=$(CA=$CA hcurl -o /dev/null -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
        --data-binary @"$W/seed-v1.json" "https://127.0.0.1:$B_PORT/validate")
    if [ "${t%% *}" = 200 ] && awk -v s="${t#* }" 'BEGIN { exit !(s < 1.0) }'; then ok "other clients served while slow clients wait ($t s)"
    else fail "other clients served while slow clients wait" "$t"; fi
    wait_for 12 test -s "$W/slow-headers.ms" -a -s "$W/slow-body.ms" -a -s "$W/trickle-body.ms"
    for s in slow-headers slow-body trickle-body; do
        ms=$(cat "$W/$s.ms" 2>/dev/null || echo 99999)
        if [ "$ms" -ge 1500 ] && [ "$ms" -le 5000 ]; then ok "$s client cut off after --read-timeout 2 (${ms} ms)"
        else fail "$s client cut off after --read-timeout 2" "lived ${ms} ms"; fi
    done
    # The cap is exact whatever the threads: of 10 clients connecting at
    # once and then idling for 5 s, 4 complete their TLS handshake and 6 are
    # closed at once; a new client is served once the idle ones are gone.
    # (The check waits for the 4 handshakes rather than a fixed second: on a
    # loaded machine ten openssl processes take a while to start.)
    idle=()
    for i in $(seq 1 10); do
        (timeout 14 openssl s_client -connect "127.0.0.1:$B_PORT" < <(sleep 5) >"$W/idle$i" 2>&1) &
        idle+=($!)
    done
    wait_for 4 bash -c "[ \$(grep -l '^New, TLSv1' $W/idle* 2>/dev/null | wc -l) -ge 4 ]"
    if handshake "$B_PORT"; then fail "--max-connections 4: a new connection past the cap is refused"
    else ok "--max-connections 4: a new connection past the cap is refused"; fi
    wait "${idle[@]}" 2>/dev/null
    n=$(grep -l '^New, TLSv1' "$W"/idle* 2>/dev/null | wc -l)
    if [ "$n" = 4 ]; then ok "--max-connections 4: 4 of 10 idle clients connected, the others refused"
    else fail "--max-connections 4: 4 of 10 idle clients connected, the others refused" "$n connected"; fi
    if wait_for 5 env CA="$CA" bash -c "$(declare -f hcurl); hcurl -o /dev/null https://127.0.0.1:$B_PORT/healthz"; then
        ok "a new client is served once the idle ones are gone"
    else fail "a new client is served once the idle ones are gone"; fi
    CA=$CA hcurl -o "$W/b.metrics" "https://127.0.0.1:$B_PORT/metrics"
    refused=$(awk '$1 == "dpm_webhook_connections_refused_total" { print $2 }' "$W/b.metrics")
    open=$(awk '$1 == "dpm_webhook_open_connections" { print $2 }' "$W/b.metrics")
    if [ "${refused:-0}" -ge 7 ] && [ "${open:-x}" = 1 ]; then ok "metrics: $refused connections refused, $open open (the scrape's own)"
    else fail "metrics: refused connections counted, open connections back to 1" "refused=$refused open=$open"; fi
    # Idle clients of every kind hold a slot only until their timeout: a
    # TCP connection that sends nothing, one that stops inside its
    # ClientHello, one that completes TLS and sends no request (each cut
    # after --read-timeout 2), and a keep-alive connection idle after its
    # answer (cut after --idle-timeout 3).
    # lifetime NAME COMMAND...: how long COMMAND ran (ms), in $W/NAME.ms
    lifetime() {
        local name=$1 t0
        shift
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        echo $((($(date +%s%N) - t0) / 1000000)) >"$W/$name.ms"
    }
    tcp_silent() { exec 3<>"/dev/tcp/127.0.0.1/$B_PORT" && timeout 12 cat <&3; }
    # a TLS record header announcing 512 bytes of ClientHello, then nothing
    tcp_partial_hello() { exec 3<>"/dev/tcp/127.0.0.1/$B_PORT" && printf '\026\003\001\002\000\001\000' >&3 && timeout 12 cat <&3; }
    tls_silent() { timeout 12 openssl s_client -quiet -connect "127.0.0.1:$B_PORT" < <(sleep 10); }
    keepalive_idle() {
        timeout 12 openssl s_client -quiet -connect "127.0.0.1:$B_PORT" < <(printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 10) >"$W/ka-idle.out" 2>&1
    }
    rm -f "$W"/idle-*.ms
    lifetime idle-tcp tcp_silent &
    lifetime idle-hello tcp_partial_hello &
    lifetime idle-tls tls_silent &
    sleep 0.3
    lifetime idle-keepalive keepalive_idle &
    # (polled: an openssl process may take a while to start on a loaded machine)
    if wait_for 2 grep -q '^HTTP/1.1 200' "$W/ka-idle.out"; then ok "a client is served while three idle ones wait"
    else fail "a client is served while three idle ones wait" "$(head -3 "$W/ka-idle.out")"; fi
    if handshake "$B_PORT"; then fail "4 idle connections hold the 4 slots: a fifth is refused"
    else ok "4 idle connections hold the 4 slots: a fifth is refused"; fi
    t0=$(date +%s%N)
    if wait_for 4 env CA="$CA" bash -c "$(declare -f hcurl); hcurl -o /dev/null https://127.0.0.1:$B_PORT/healthz"; then
        ok "a new client gets a slot once the idle ones are cut ($((($(date +%s%N) - t0) / 1000000)) ms later)"
    else fail "a new client gets a slot once the idle ones are cut"; fi
    wait_for 10 test -s "$W/idle-tcp.ms" -a -s "$W/idle-hello.ms" -a -s "$W/idle-tls.ms" -a -s "$W/idle-keepalive.ms"
    for c in "idle-tcp:TCP client sending nothing:1500:3500" "idle-hello:TCP client stopping inside its ClientHello:1500:3500" \
        "idle-tls:TLS client sending no request:1500:3500" "idle-keepalive:keep-alive client idle after its answer:2500:4700"; do
        IFS=: read -r f what lo hi <<<"$c"
        ms=$(cat "$W/$f.ms" 2>/dev/null || echo 99999)
        if [ "$ms" -ge "$lo" ] && [ "$ms" -le "$hi" ]; then ok "$what: closed after $ms ms (--read-timeout 2, --idle-timeout 3)"
        else fail "$what: closed within ${lo}-${hi} ms" "lived $ms ms"; fi
    done
    check "server B alive after slow and idle clients" kill -0 "$B_PID"
    stop "$B_PID"
else
    fail "server B (--read-timeout 2 --max-connections 4) starts" "$(head -5 "$W/b.log")"
fi

# ---- TLS options ------------------------------------------------------------------
if start_webhook tls13 --cert-dir "$W/ecdsa" --tls-min-version 1.3 "${POLICIES[@]}"; then
    if handshake "$PORT" -tls1_2; then fail "--tls-min-version 1.3 refuses TLS 1.2"
    else ok "--tls-min-version 1.3 refuses TLS 1.2"; fi
    if handshake "$PORT" -tls1_3; then ok "--tls-min-version 1.3 accepts TLS 1.3"
    else fail "--tls-min-version 1.3 accepts TLS 1.3" "$(tail -3 "$W/sclient")"; fi
    stop "$PID"
else fail "--tls-min-version 1.3: server starts" "$(head -5 "$W/tls13.log")"; fi

if start_webhook rsa --cert-dir "$W/rsa" "${POLICIES[@]}"; then
    r=$(CA=$W/rsa/ca.crt post /validate "$W/seed-v1.json" 2>&1)
    if [ "$(printf '%s' "$r" | tool get response.allowed)" = true ]; then ok "RSA key: a review over TLS verified against the CA"
    else fail "RSA key: a review over TLS verified against the CA" "$r"; fi
    if handshake "$PORT" -tls1_2 && grep -q 'Cipher is ECDHE-RSA-.*GCM\|Cipher is ECDHE-RSA-CHACHA20' "$W/sclient"; then
        ok "RSA key, TLS 1.2: ECDHE-RSA AEAD suite"
    else fail "RSA key, TLS 1.2: ECDHE-RSA AEAD suite" "$(grep 'Cipher is' "$W/sclient")"; fi
    if handshake "$PORT" -tls1_3; then ok "RSA key, TLS 1.3"; else fail "RSA key, TLS 1.3"; fi
    stop "$PID"
else fail "RSA key: server starts" "$(head -5 "$W/rsa.log")"; fi

# --client-ca: a client CA and two client certificates (one from another CA).
mk_client() { # mk_client NAME CA_NAME
    timeout 20 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
        -keyout "$W/$2.key" -out "$W/$2.crt" 2>/dev/null || return 1
    timeout 20 openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$W/$1.key" -out "$W/$1.csr" 2>/dev/null &&
        timeout 20 openssl x509 -req -in "$W/$1.csr" -CA "$W/$2.crt" -CAkey "$W/$2.key" -CAcreateserial -days 2 \
            -out "$W/$1.crt" 2>/dev/null
}
if mk_client kube-apiserver client-ca && mk_client intruder other-ca &&
    start_webhook mtls --cert-dir "$W/ecdsa" --client-ca "$W/client-ca.crt" "${POLICIES[@]}"; then
    code=$(status_of "https://127.0.0.1:$PORT/healthz" 2>/dev/null)
    if [ "$code" != 200 ]; then ok "--client-ca: a client without a certificate is refused"
    else fail "--client-ca: a client without a certificate is refused" "$code"; fi
    code=$(status_of --cert "$W/intruder.crt" --key "$W/intruder.key" "https://127.0.0.1:$PORT/healthz" 2>/dev/null)
    if [ "$code" != 200 ]; then ok "--client-ca: a certificate from another CA is refused"
    else fail "--client-ca: a certificate from another CA is refused" "$code"; fi
    code=$(status_of --cert "$W/kube-apiserver.crt" --key "$W/kube-apiserver.key" "https://127.0.0.1:$PORT/healthz")
    if [ "$code" = 200 ]; then ok "--client-ca: a certificate from the client CA is accepted"
    else fail "--client-ca: a certificate from the client CA is accepted" "$code" "$(tail -3 "$W/mtls.log")"; fi
    stop "$PID"
else fail "--client-ca: client certificates and server" "$(head -5 "$W/mtls.log" 2>/dev/null)"; fi

# ---- certificate rotation -------------------------------------------------------
# keepalive_client PORT NAME: one TLS connection, a request now and another
# 3 s later; the responses go to $W/NAME.
keepalive_client() {
    timeout 15 openssl s_client -quiet -connect "127.0.0.1:$1" < <(
        printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
        sleep 3
        printf 'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
        sleep 2
    ) >"$W/$2" 2>/dev/null
}
# request_loop PORT NAME: 25 reviews, one every 0.1 s, new connections;
# writes the HTTP codes to $W/NAME
request_loop() {
    for _ in $(seq 1 25); do
        timeout 5 curl -sk -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
            --data-binary @"$W/seed-v1.json" "https://127.0.0.1:$1/validate"
        sleep 0.1
    done >"$W/$2"
}
rotation_checks() { # rotation_checks LABEL PORT PID NEW_CERT ROTATE_FUNCTION
    local label=$1 port=$2 pid=$3 newcert=$4 rotate=$5
    local want
    want=$(file_serial "$newcert")
    keepalive_client "$port" "$label-ka" &
    local ka=$!
    request_loop "$port" "$label-loop" &
    local loop=$!
    sleep 0.5
    $rotate
    local t0=$SECONDS
    if wait_for 4 serial_is "$port" "$want"; then
        ok "$label: new handshakes get the new certificate within $((SECONDS - t0 + 1)) s"
    else fail "$label: new handshakes get the new certificate" "served $(served_serial "$port"), want $want"; fi
    wait "$ka" "$loop"
    if [ "$(grep -c '^HTTP/1.1 200' "$W/$label-ka")" = 2 ]; then ok "$label: the keep-alive connection survives the rotation"
    else fail "$label: the keep-alive connection survives the rotation" "$(cat "$W/$label-ka")"; fi
    if [ "$(grep -c '^200$' "$W/$label-loop")" = 25 ]; then ok "$label: no request dropped during the rotation (25/25)"
    else fail "$label: no request dropped during the rotation" "$(sort "$W/$label-loop" | uniq -c)"; fi
    kill -0 "$pid" 2>/dev/null || fail "$label: server alive"
}

# Plain files replaced by rename.
mkdir -p "$W/rot"
cp "$W/ecdsa/tls.crt" "$W/ecdsa/tls.key" "$W/rot/"
certs "$W/rot-new"
rotate_plain() {
    cp "$W/rot-new/tls.key" "$W/rot/tls.key.tmp" && cp "$W/rot-new/tls.crt" "$W/rot/tls.crt.tmp" &&
        mv "$W/rot/tls.key.tmp" "$W/rot/tls.key" && mv "$W/rot/tls.crt.tmp" "$W/rot/tls.crt"
}
if start_webhook rot --cert-dir "$W/rot" "${POLICIES[@]}"; then
    ROT_PORT=$PORT ROT_PID=$PID
    if [ "$(served_serial "$ROT_PORT")" = "$(file_serial "$W/ecdsa/tls.crt")" ]; then ok "rotation: the first certificate is served"
    else fail "rotation: the first certificate is served"; fi
    rotation_checks "rotation (files replaced)" "$ROT_PORT" "$ROT_PID" "$W/rot-new/tls.crt" rotate_plain
    # A broken pair (a key that does not match) is ignored.
    certs "$W/rot-bad"
    cp "$W/rot-bad/tls.key" "$W/rot/tls.key.tmp" && mv "$W/rot/tls.key.tmp" "$W/rot/tls.key"
    sleep 2.5
    if [ "$(served_serial "$ROT_PORT")" = "$(file_serial "$W/rot-new/tls.crt")" ] &&
        hcurl -k -o /dev/null "https://127.0.0.1:$ROT_PORT/healthz"; then
        ok "rotation: a key not matching the certificate is ignored, the old pair keeps serving"
    else fail "rotation: a key not matching the certificate is ignored" "$(served_serial "$ROT_PORT")"; fi
    if grep -q 'certificate not reloaded' "$W/rot.log"; then ok "rotation: the broken pair is logged"
    else fail "rotation: the broken pair is logged" "$(tail -3 "$W/rot.log")"; fi
    # ... and once the matching certificate arrives, it is taken.
    cp "$W/rot-bad/tls.crt" "$W/rot/tls.crt.tmp" && mv "$W/rot/tls.crt.tmp" "$W/rot/tls.crt"
    want=$(file_serial "$W/rot-bad/tls.crt")
    if wait_for 4 serial_is "$ROT_PORT" "$want"; then
        ok "rotation: the completed pair is taken on the next poll"
    else fail "rotation: the completed pair is taken on the next poll"; fi
    hcurl -k "https://127.0.0.1:$ROT_PORT/metrics" >"$W/rot-metrics"
    r=$(awk '$1 == "dpm_webhook_certificate_reloads_total" { print $2 }' "$W/rot-metrics")
    if [ "$r" = 2 ]; then ok "rotation: dpm_webhook_certificate_reloads_total 2"
    else fail "rotation: dpm_webhook_certificate_reloads_total 2" "got '$r'"; fi
    stop "$ROT_PID"
else fail "rotation: server starts" "$(head -5 "$W/rot.log")"; fi

# As a Kubernetes Secret volume does it: DIR/..data -> ..TIMESTAMP,
# DIR/tls.crt -> ..data/tls.crt; an update writes a new timestamped dir and
# swaps ..data by rename.
S=$W/secret
mkdir -p "$S/..2024_01_01_00_00_00.000000001"
cp "$W/ecdsa/tls.crt" "$W/ecdsa/tls.key" "$S/..2024_01_01_00_00_00.000000001/"
ln -s ..2024_01_01_00_00_00.000000001 "$S/..data"
ln -s ..data/tls.crt "$S/tls.crt"
ln -s ..data/tls.key "$S/tls.key"
certs "$W/sec-new"
rotate_secret() {
    local d=..2024_01_02_00_00_00.000000002
    mkdir -p "$S/$d" && cp "$W/sec-new/tls.crt" "$W/sec-new/tls.key" "$S/$d/" &&
        ln -s "$d" "$S/..data_tmp" && mv -T "$S/..data_tmp" "$S/..data" &&
        rm -rf "$S/..2024_01_01_00_00_00.000000001"
}
if start_webhook secret --cert-dir "$S" "${POLICIES[@]}"; then
    rotation_checks "rotation (Secret volume ..data swap)" "$PORT" "$PID" "$W/sec-new/tls.crt" rotate_secret
    stop "$PID"
else fail "rotation (Secret volume): server starts" "$(head -5 "$W/secret.log")"; fi

# ---- policy files -----------------------------------------------------------------
cp "$EX/policies/gdpr-baseline.yaml" "$W/live-policy.yaml"
if start_webhook pol --cert-dir "$W/ecdsa" -p "$W/live-policy.yaml"; then
    P_PORT=$PORT P_PID=$PID
    decision() { # prints allowed/warnings count for the PII product
        timeout 10 curl -sS --cacert "$CA" -H 'Content-Type: application/json' --data-binary @"$W/pii.json" \
            "https://127.0.0.1:$P_PORT/validate" >"$W/pol-r" && tool get response.allowed "$W/pol-r"
    }
    decision_is() { [ "$(decision)" = "$1" ]; }
    if [ "$(decision)" = false ]; then ok "policy file: Deny in force"; else fail "policy file: Deny in force" "$(cat "$W/pol-r")"; fi
    # Deny -> Warn, written in place as an editor would.
    sed 's/enforcement: Deny/enforcement: Warn/' "$EX/policies/gdpr-baseline.yaml" >"$W/live-policy.yaml"
    t0=$(date +%s%N)
    if wait_for 4 decision_is true; then
        ms=$((($(date +%s%N) - t0) / 1000000))
        if tool get 'response.warnings[3]' "$W/pol-r" >/dev/null; then ok "policy file edit (Deny -> Warn) takes effect without a restart (${ms} ms), violations become warnings"
        else fail "policy file edit: violations become warnings" "$(cat "$W/pol-r")"; fi
    else fail "policy file edit (Deny -> Warn) takes effect without a restart" "$(tail -3 "$W/pol.log")"; fi
    # A broken edit keeps the previous policies, and is logged.
    printf 'apiVersion: mesh.io/v1alpha1\nkind: MeshPolicy\nmetadata: {name: gdpr-baseline}\nspec:\n  enforcement: Deny\n  rules:\n    - {name: x, check: nope}\n' >"$W/live-policy.yaml"
    sleep 2.5
    if [ "$(decision)" = true ]; then ok "a broken policy edit keeps the previous policies"
    else fail "a broken policy edit keeps the previous policies" "$(cat "$W/pol-r")"; fi
    if grep -q 'policies not loaded' "$W/pol.log" && grep -q 'unknown check' "$W/pol.log"; then ok "the broken policy edit is logged with its reason"
    else fail "the broken policy edit is logged with its reason" "$(tail -3 "$W/pol.log")"; fi
    printf 'apiVersion: mesh.io/v1alpha1\nkind: MeshPolicy\nmetadata: {name: gdpr-baseline}\nspec:\n  enforcement: [\n' >"$W/live-policy.yaml"
    sleep 2.5
    if [ "$(decision)" = true ] && kill -0 "$P_PID"; then ok "a policy file that is not YAML keeps the previous policies"
    else fail "a policy file that is not YAML keeps the previous policies" "$(cat "$W/pol-r")"; fi
    # Back to Deny.
    cp "$EX/policies/gdpr-baseline.yaml" "$W/live-policy.yaml"
    if wait_for 4 decision_is false; then
        ok "the fixed policy file is taken again (Deny)"
    else fail "the fixed policy file is taken again (Deny)"; fi
    stop "$P_PID"
else fail "policy files: server starts" "$(head -5 "$W/pol.log")"; fi

# ---- logs and SIGTERM (server A) ------------------------------------------------------
sed 's/^metadata:$/metadata:\n  annotations: {token: "hunter2-must-not-be-logged"}/' \
    "$EX/invalid/untagged-pii-outside-eu.yaml" >"$W/secret-product.yaml"
tool review --uid uid-secret --user jane@company.com "$W/secret-product.yaml" >"$W/secret.json"
CA=$W/ecdsa/ca.crt PORT=$A_PORT post /validate "$W/secret.json" >"$W/r" 2>&1
sleep 0.2
kill -TERM "$A_PID"
t0=$(date +%s%N)
rc=124
for _ in $(seq 1 60); do
    if ! kill -0 "$A_PID" 2>/dev/null; then
        wait "$A_PID"
        rc=$?
        break
    fi
    sleep 0.1
done
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$rc" = 0 ]; then ok "SIGTERM: exits 0 in ${ms} ms"; else fail "SIGTERM: exits 0 promptly" "rc $rc after ${ms} ms"; fi
check "logs are JSON lines" tool jsonlines "$W/a.log"
denial=$(grep '"uid-secret"' "$W/a.log" | head -1)
if [ -n "$denial" ] && printf '%s\n' "$denial" >"$W/denial" &&
    [ "$(tool get uid "$W/denial")" = uid-secret ] && [ "$(tool get user "$W/denial")" = jane@company.com ] &&
    [ "$(tool get object "$W/denial")" = crm/customer-profiles ] &&
    [ "$(tool get msg "$W/denial")" = denied ] &&
    tool get 'reasons[3]' "$W/denial" >/dev/null; then
    ok "a denial logs uid, object, user and every reason"
else fail "a denial logs uid, object, user and every reason" "$denial"; fi
if grep -q 'uid-secret' "$W/r" && ! grep -q 'hunter2' "$W/a.log"; then ok "the object's content is never logged"
else fail "the object's content is never logged" "$(grep hunter2 "$W/a.log" | head -2)"; fi
if grep -q '"msg":"stopped"' "$W/a.log"; then ok "SIGTERM: drained and logged stopped"; else fail "SIGTERM: logged stopped"; fi
if ! grep -q 'AddressSanitizer\|runtime error:' "$W"/*.log; then ok "no sanitizer report in any server log"
else fail "no sanitizer report in any server log" "$(grep -l 'AddressSanitizer\|runtime error:' "$W"/*.log)"; fi

finish
