#!/usr/bin/env bash
# The webhook's HTTP/1.1 framing under hostile input, data-driven:
#   tests/e2e/http/<case>/request    the raw bytes (escapes: see wh_raw.c)
#   tests/e2e/http/<case>/expected   one line per answer, "STATUS [TEXT]"
#                                    (TEXT: found in the answer's first body
#                                    line), then "close" or "open"
# Adding a case needs no C.  Then, with the whole corpus sent over and over
# by parallel clients, a steady well-formed client sees no error, the
# server does not spin, its refusals are in /metrics, /healthz sees a
# wedged event loop, and SIGTERM ends it within 5 s while it is busy.
#   tests/e2e/run-suite-http.sh BUILD [CASE-DIR...]
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
shift || true
DPM=$BUILD/dpm
W=$(mktemp -d /tmp/dpm-http-suite.XXXXXX)
# shellcheck source=support/checks.sh
. tests/e2e/support/checks.sh
if [ ! -x "$DPM" ]; then fail "prerequisites: $DPM (make BUILD=$BUILD)"; finish; fi
RAW=$BUILD/tools/wh_raw
if [ ! -x "$RAW" ]; then fail "prerequisites: $RAW (make BUILD=$BUILD unit)"; finish; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
"$DPM" certs --service dpm-webhook --namespace dpm-system --out "$W/certs" --ip 127.0.0.1 >/dev/null 2>&1
CA=$W/certs/ca.crt

# start NAME ARGS...: dpm webhook on a free port; sets PORT and PID.
start() {
    local name=$1
    shift
    "$DPM" webhook --listen 127.0.0.1:0 --cert-dir "$W/certs" -p examples/policies/gdpr-baseline.yaml "$@" \
        >"$W/$name.out" 2>"$W/$name.log" &
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
hcurl() { timeout 15 curl -sS --cacert "$CA" --max-time 10 "$@"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# matches EXPECTED ACTUAL: line by line, same status (or close/open) and
# the expected text inside the actual line.
matches() {
    local -a e a
    mapfile -t e <"$1"
    mapfile -t a <"$2"
    [ "${#e[@]}" = "${#a[@]}" ] || return 1
    local i
    for i in "${!e[@]}"; do
        local es=${e[$i]%% *} as=${a[$i]%% *} et=""
        [ "$es" = "$as" ] || return 1
        [ "${e[$i]}" != "$es" ] && et=${e[$i]#* }
        [ -z "$et" ] || [[ "${a[$i]}" == *"$et"* ]] || return 1
    done
}

if ! start a --max-body 200000 --read-timeout 3 --idle-timeout 2; then
    fail "webhook starts" "$(head -5 "$W/a.log")"
    finish
fi
A_PID=$PID A_PORT=$PORT
if [ $# -gt 0 ]; then cases=("$@"); else mapfile -t cases < <(find tests/e2e/http -mindepth 1 -maxdepth 1 -type d | sort); fi

# A steady, well-formed client for the whole corpus run: one review every
# 50 ms on its own keep-alive connections; every answer must be 200.
cat >"$W/steady.json" <<'EOF'
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"steady",
 "kind":{"group":"mesh.io","version":"v1alpha1","kind":"DataProduct"},
 "resource":{"group":"mesh.io","version":"v1alpha1","resource":"dataproducts"},
 "operation":"CREATE","namespace":"payments","name":"steady","userInfo":{"username":"steady"},
 "object":{"apiVersion":"mesh.io/v1alpha1","kind":"DataProduct","metadata":{"name":"steady","namespace":"payments"},
  "spec":{"domain":"payments","owner":"team@company.com","description":"steady client",
   "inputPorts":[{"name":"in","type":"kafka-topic","connection":"topic/in"}],
   "transformation":{"engine":"spark-k8s","version":"3.2.1","resources":{"memory":"1Gi","cpu":"1"}},
   "outputPorts":[{"name":"out","type":"iceberg-table","region":"eu-west-1","retention":"30d",
     "contract":{"format":"parquet","schema":[{"name":"id","type":"string","required":true,"pii":false}]}}]}}}}
EOF
steady() {
    local end=$(($(date +%s) + $1)) n=0 bad=0 code
    while [ "$(date +%s)" -lt "$end" ]; do
        code=$(hcurl -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary @"$W/steady.json" "https://127.0.0.1:$A_PORT/validate" 2>/dev/null)
        n=$((n + 1))
        [ "$code" = 200 ] || bad=$((bad + 1))
        sleep 0.05
    done
    echo "$n $bad" >"$W/steady.result"
}

# ---- the corpus, one case at a time ------------------------------------------
steady 600 &
STEADY=$!
for c in "${cases[@]}"; do
    name=${c#tests/e2e/http/}
    if [ ! -f "$c/request" ] || [ ! -f "$c/expected" ]; then
        fail "$name: a case needs request and expected"
        continue
    fi
    timeout 20 "$RAW" "$A_PORT" "$CA" "$c/request" >"$W/actual" 2>"$W/raw.err"
    if matches "$c/expected" "$W/actual"; then ok "$name"
    else fail "$name" "expected: $(tr '\n' '|' <"$c/expected")" "actual:   $(tr '\n' '|' <"$W/actual") $(head -c 300 "$W/raw.err")"; fi
done

# ---- the whole corpus at once, four clients, three rounds -----------------------
for r in 1 2 3 4; do
    (for _ in 1 2 3; do for c in "${cases[@]}"; do timeout 20 "$RAW" "$A_PORT" "$CA" "$c/request" >/dev/null 2>&1; done; done) &
    pids+=($!)
done
wait "${pids[@]:1}" 2>/dev/null
kill "$STEADY" 2>/dev/null
wait "$STEADY" 2>/dev/null
sleep 0.2
steady 2
read -r n bad <"$W/steady.result"
if [ "$bad" = 0 ] && [ "$n" -ge 3 ]; then ok "a steady well-formed client after the corpus: $n answers, all 200"
else fail "a steady well-formed client after the corpus: all 200" "$bad of $n failed"; fi
# The corpus ran while the steady client did too: no error there either.
if grep -q '"level":"error"' "$W/a.log"; then fail "no error logged under the corpus" "$(grep '"level":"error"' "$W/a.log" | head -3)"
else ok "no error logged under the corpus"; fi

# ---- no spin: an idle server after the corpus uses no CPU ------------------------
t0=$(cpu_ticks "$A_PID")
sleep 2
t1=$(cpu_ticks "$A_PID")
if [ $((t1 - t0)) -le 20 ]; then ok "idle after the corpus: $((t1 - t0)) CPU ticks in 2 s"
else fail "idle after the corpus: at most 20 CPU ticks in 2 s" "$((t1 - t0)) ticks"; fi

# ---- refusals are counted -----------------------------------------------------------
hcurl -o "$W/metrics" "https://127.0.0.1:$A_PORT/metrics"
for code in 400 413 414 431 501 505; do
    if grep -q "^dpm_webhook_requests_total{endpoint=\"none\",operation=\"n/a\",decision=\"refused\",code=\"$code\"} [1-9]" "$W/metrics"; then
        ok "/metrics counts the $code refusals"
    else fail "/metrics counts the $code refusals" "$(grep 'endpoint="none"' "$W/metrics" | head -8)"; fi
done

# ---- a request not through in time: 408 -----------------------------------------------
printf '%s\n' 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":' >"$W/slow"
t0=$(date +%s%N)
timeout 20 "$RAW" "$A_PORT" "$CA" "$W/slow" >"$W/actual" 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
if printf '408 did not arrive whole\nclose\n' >"$W/exp" && matches "$W/exp" "$W/actual" && [ "$ms" -ge 2500 ] && [ "$ms" -le 6000 ]; then
    ok "a body that stops: 408 after --read-timeout 3 (${ms} ms), then close"
else fail "a body that stops: 408 after --read-timeout 3" "$(tr '\n' '|' <"$W/actual") ${ms} ms"; fi
hcurl -o "$W/metrics" "https://127.0.0.1:$A_PORT/metrics"
if grep -q '^dpm_webhook_connection_timeouts_total [1-9]' "$W/metrics" &&
    grep -q '^dpm_webhook_requests_total{endpoint="none",operation="n/a",decision="refused",code="408"} 1' "$W/metrics"; then
    ok "/metrics: the timeout and its 408 counted"
else fail "/metrics: the timeout and its 408 counted" "$(grep -e timeouts -e 'code="408"' "$W/metrics")"; fi

# ---- SIGTERM while the loops are busy with hostile input ------------------------------
hostile=()
for r in 1 2 3 4; do
    (while :; do for c in "${cases[@]}"; do timeout 20 "$RAW" "$A_PORT" "$CA" "$c/request" >/dev/null 2>&1; done; done) &
    hostile+=($!)
    pids+=($!)
    disown $! # killed below: no job notice in the suite's output
done
sleep 1.5
t0=$(date +%s%N)
kill -TERM "$A_PID"
for _ in $(seq 1 100); do kill -0 "$A_PID" 2>/dev/null || break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
if ! kill -0 "$A_PID" 2>/dev/null; then ok "SIGTERM under hostile load: ended in ${ms} ms"
else fail "SIGTERM under hostile load: ended within 5 s" "still running after ${ms} ms"; fi
for p in "${hostile[@]}"; do kids=$(pgrep -P "$p"); kill -9 "$p" $kids 2>/dev/null; done
wait 2>/dev/null

# ---- a wedged event loop: /healthz fails, SIGTERM still ends the process ------------------
# DPM_WEBHOOK_TEST_WEDGE blocks event loop 1 on its first read (tests only).
if DPM_WEBHOOK_TEST_WEDGE=30 start w --threads 2 --liveness-timeout 2; then
    W_PID=$PID W_PORT=$PORT
    # The kernel spreads connections over the loops' sockets by their
    # addresses: of eight, one lands on loop 1 but for 1 time in 256.
    for i in 1 2 3 4 5 6 7 8; do
        (timeout 8 openssl s_client -quiet -connect "127.0.0.1:$W_PORT" -CAfile "$CA" \
            < <(sleep 0.5; printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 6) >/dev/null 2>&1) &
    done
    sleep 4
    # A probe that lands on the wedged loop gets no answer (as a kubelet
    # probe would not): retry until one lands on loop 0.
    for _ in $(seq 1 12); do
        code=$(timeout 5 curl -sS --cacert "$CA" --max-time 2 -o "$W/hz" -w '%{http_code}' "https://127.0.0.1:$W_PORT/healthz" 2>/dev/null)
        [ "$code" = 503 ] && break
    done
    if [ "$code" = 503 ] && grep -q 'event loop 1 has not run' "$W/hz"; then ok "/healthz: 503 naming the wedged event loop ($(cat "$W/hz"))"
    else fail "/healthz: 503 naming the wedged event loop" "$code $(cat "$W/hz" 2>/dev/null)"; fi
    t0=$(date +%s%N)
    kill -TERM "$W_PID"
    for _ in $(seq 1 100); do kill -0 "$W_PID" 2>/dev/null || break; sleep 0.1; done
    ms=$((($(date +%s%N) - t0) / 1000000))
    if ! kill -0 "$W_PID" 2>/dev/null && [ "$ms" -le 5500 ]; then ok "SIGTERM with a wedged event loop: ended in ${ms} ms"
    else fail "SIGTERM with a wedged event loop: ended within 5 s" "${ms} ms"; fi
    if grep -q 'did not stop within' "$W/w.log"; then ok "the forced exit is logged"
    else fail "the forced exit is logged" "$(tail -3 "$W/w.log")"; fi
else
    fail "webhook with --threads 2 starts" "$(head -5 "$W/w.log")"
fi
if grep -l 'ERROR: AddressSanitizer\|runtime error' "$W"/*.log >/dev/null 2>&1; then
    fail "no sanitizer report" "$(grep -h -A5 'ERROR: AddressSanitizer\|runtime error' "$W"/*.log | head -20)"
else ok "no sanitizer report in any server log"; fi
finish
