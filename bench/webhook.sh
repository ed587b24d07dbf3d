#!/usr/bin/env bash
# bench/webhook.sh BUILD: `dpm webhook` under load over TLS, against nginx
# serving a static response of the same size over TLS (the machine's
# ceiling), with wrk (Debian packages wrk and nginx; installed here with
# apt-get when missing: this is for benchmarking, CI does not run it).
#
#   1. keep-alive: 64 connections, 2 threads, POST /validate with the
#      AdmissionReview of the seed product (examples/dataproducts/
#      payment-transactions-enriched.yaml, allowed under gdpr-baseline);
#   2. the same load against nginx;
#   3. a new TLS connection per request (Connection: close): handshakes/s;
#   4. a fixed rate of 2,000 req/s (h2load --rps, 16 keep-alive clients,
#      Debian package nghttp2-client) against each, latency per request
#      from h2load's --log-file.
# Prints req/s, p50/p99 latency, errors, the ratio to nginx and the
# webhook's peak RSS (VmHWM), and whether each goal is met:
#   >= 35% of nginx's req/s, p99 at 2,000 req/s within 1.5x nginx's,
#   0 errors, RSS <= 32 MiB.
# WEBHOOK_BENCH_SECONDS (default 10) sets the length of each keep-alive run.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DPM=$BUILD/dpm
SECS=${WEBHOOK_BENCH_SECONDS:-10}
CONNS=64
THREADS=2

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (apt-get)"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"; } >/dev/null 2>&1; then
        echo "webhook bench: cannot install ${need[*]}" >&2
        exit 1
    fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$DPM" ] && [ -f "$BUILD/libdpm.a" ] || { echo "webhook bench: build $DPM first (make BUILD=$BUILD)" >&2; exit 1; }

W=$(mktemp -d /tmp/dpm-webhook-bench.XXXXXX)
WH_PID= NGINX_PID=
cleanup() {
    [ -n "$WH_PID" ] && kill "$WH_PID" 2>/dev/null
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The AdmissionReview, built by the e2e suite's helper from the YAML example.
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags yaml-0.1 jansson) -o "$W/wh_tool" \
    tests/e2e/webhook/wh_tool.c "$BUILD/libdpm.a" \
    $(pkg-config --libs yaml-0.1 jansson libcurl openssl libwebsockets) -lpthread -lm || exit 1
"$W/wh_tool" review --uid 0b6c3a43-5d0e-4d51-9f4e-2b1f7c3d9a10 \
    examples/dataproducts/payment-transactions-enriched.yaml >"$W/review.json" || exit 1
timeout 30 "$DPM" certs --service dpm-webhook --namespace dpm-system --out "$W/certs" --ip 127.0.0.1 2>/dev/null || exit 1

"$DPM" webhook --cert-dir "$W/certs" --listen 127.0.0.1:0 -p examples/policies/gdpr-baseline.yaml \
    --log-level warn >"$W/webhook.out" 2>"$W/webhook.log" &
WH_PID=$!
for _ in $(seq 1 100); do
    WH_PORT=$(sed -n 's|^ready https://127.0.0.1:\([0-9]*\)$|\1|p' "$W/webhook.out")
    [ -n "$WH_PORT" ] && break
    sleep 0.1
done
[ -n "${WH_PORT:-}" ] || { echo "webhook bench: dpm webhook did not start" >&2; cat "$W/webhook.log" >&2; exit 1; }
timeout 10 curl -sS --cacert "$W/certs/ca.crt" -H 'Content-Type: application/json' --data-binary @"$W/review.json" \
    -o "$W/response.json" "https://127.0.0.1:$WH_PORT/validate" || exit 1
grep -q '"allowed":true' "$W/response.json" || { echo "webhook bench: the seed product was not allowed" >&2; cat "$W/response.json" >&2; exit 1; }
RESP_BYTES=$(wc -c <"$W/response.json")

# nginx: the same certificate, a static response of the same size.
mkdir -p "$W/nginx/tmp"
NGINX_PORT=
for _ in $(seq 1 20); do
    p=$((20000 + RANDOM % 40000))
    cat >"$W/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $W/nginx/tmp;
    proxy_temp_path $W/nginx/tmp;
    fastcgi_temp_path $W/nginx/tmp;
    uwsgi_temp_path $W/nginx/tmp;
    scgi_temp_path $W/nginx/tmp;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$p ssl;
        ssl_certificate $W/certs/tls.crt;
        ssl_certificate_key $W/certs/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            default_type application/json;
            return 200 '$(cat "$W/response.json")';
        }
    }
}
EOF
    "$NGINX" -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' 2>>"$W/nginx/start.log" &
    NGINX_PID=$!
    sleep 0.5
    if kill -0 "$NGINX_PID" 2>/dev/null; then NGINX_PORT=$p; break; fi
    NGINX_PID=
done
[ -n "$NGINX_PORT" ] || { echo "webhook bench: nginx did not start" >&2; cat "$W/nginx/start.log" >&2; exit 1; }
NGINX_BYTES=$(timeout 10 curl -sS -k -H 'Content-Type: application/json' --data-binary @"$W/review.json" \
    "https://127.0.0.1:$NGINX_PORT/validate" | wc -c)

cat >"$W/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
if os.getenv("WRK_CLOSE") == "1" then wrk.headers["Connection"] = "close" end
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99),
        e.connect + e.write + e.timeout, e.status, e.read))
end
EOF

# run LABEL URL SECONDS CONNECTIONS CLOSE: sets REQS RPS P50 P99 ERRS
# (connect, write, timeout, non-2xx) and RERRS (read errors: with
# Connection: close wrk counts the server's close after each response as
# one, for nginx as for the webhook; on keep-alive runs they are errors).
run() {
    local out close=$5
    out=$(WRK_BODY=$W/review.json WRK_CLOSE=$5 timeout $(($3 + 30)) wrk -t"$THREADS" -c"$4" -d"$3"s --timeout 5s \
        -s "$W/post.lua" "$2" 2>&1)
    local r
    r=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
    if [ -z "$r" ]; then
        echo "webhook bench: wrk failed against $1:" >&2
        printf '%s\n' "$out" >&2
        exit 1
    fi
    set -- $r
    REQS=$2
    RPS=$(awk -v n="$2" -v us="$3" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
    P50=$(awk -v v="$4" 'BEGIN { printf "%.3f", v / 1000 }')
    P99=$(awk -v v="$5" 'BEGIN { printf "%.3f", v / 1000 }')
    ERRS=$(($6 + $7))
    RERRS=$8
    [ "$close" = 1 ] || { ERRS=$((ERRS + RERRS)); RERRS=0; }
}

# fixed LABEL URL: 2,000 req/s for SECS from 16 keep-alive clients; sets
# FX_N FX_P50 FX_P99 (ms) FX_ERRS (answers other than 200, and requests
# h2load could not make).
fixed() {
    rm -f "$W/h2.log"
    timeout $((SECS + 30)) h2load --h1 -c 16 -t 2 --rps 125 -D "$SECS" -d "$W/review.json" \
        -H 'Content-Type: application/json' --log-file="$W/h2.log" "$2" >"$W/h2.out" 2>&1
    FX_N=$(wc -l <"$W/h2.log" 2>/dev/null || echo 0)
    local want=$((2000 * SECS))
    FX_ERRS=$(awk '$2 != 200' "$W/h2.log" 2>/dev/null | wc -l)
    [ "$FX_N" -ge $((want * 9 / 10)) ] || FX_ERRS=$((FX_ERRS + want - FX_N))
    read -r FX_P50 FX_P99 < <(awk '{ print $3 }' "$W/h2.log" | sort -n |
        awk '{ v[NR] = $1 } END { if (!NR) { print "0 0"; exit }
             i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1;
             printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
}

echo "webhook bench: wrk $THREADS threads, $CONNS connections, ${SECS}s, TLS keep-alive;" \
    "request $(wc -c <"$W/review.json") bytes, response $RESP_BYTES bytes (nginx $NGINX_BYTES); $(nproc) cores"
run warmup "https://127.0.0.1:$WH_PORT/validate" 2 "$CONNS" 0
run webhook "https://127.0.0.1:$WH_PORT/validate" "$SECS" "$CONNS" 0
WH_RPS=$RPS WH_P50=$P50 WH_P99=$P99 WH_ERRS=$ERRS WH_REQS=$REQS
run nginx "https://127.0.0.1:$NGINX_PORT/validate" "$SECS" "$CONNS" 0
NG_RPS=$RPS NG_P50=$P50 NG_P99=$P99 NG_ERRS=$ERRS
run handshakes "https://127.0.0.1:$WH_PORT/validate" 5 16 1
HS_RPS=$RPS HS_P50=$P50 HS_P99=$P99 HS_ERRS=$ERRS HS_REQS=$REQS HS_RERRS=$RERRS
run nginx-handshakes "https://127.0.0.1:$NGINX_PORT/validate" 5 16 1
NHS_RPS=$RPS NHS_P50=$P50 NHS_P99=$P99 NHS_ERRS=$ERRS NHS_REQS=$REQS NHS_RERRS=$RERRS

fixed webhook "https://127.0.0.1:$WH_PORT/validate"
FX_WH_N=$FX_N FX_WH_P50=$FX_P50 FX_WH_P99=$FX_P99 FX_WH_ERRS=$FX_ERRS
fixed nginx "https://127.0.0.1:$NGINX_PORT/validate"
FX_NG_N=$FX_N FX_NG_P50=$FX_P50 FX_NG_P99=$FX_P99 FX_NG_ERRS=$FX_ERRS

RSS_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$WH_PID/status")
NG_RSS_KB=0
for p in $(pgrep -P "$NGINX_PID") "$NGINX_PID"; do
    k=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    NG_RSS_KB=$((NG_RSS_KB + ${k:-0}))
done
# The server's own count: every request answered 200 on /validate.
M=$(timeout 10 curl -sS --cacert "$W/certs/ca.crt" "https://127.0.0.1:$WH_PORT/metrics")
SERVED=$(printf '%s\n' "$M" | awk -F' ' '/^dpm_webhook_requests_total\{endpoint="\/validate".*code="200"\}/ { s += $2 } END { print s + 0 }')

RATIO=$(awk -v a="$WH_RPS" -v b="$NG_RPS" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')
RSS_MIB=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }')
printf '%-28s %10s %9s %9s %7s\n' "" "req/s" "p50 ms" "p99 ms" errors
printf '%-28s %10s %9s %9s %7s\n' "dpm webhook (keep-alive)" "$WH_RPS" "$WH_P50" "$WH_P99" "$WH_ERRS"
printf '%-28s %10s %9s %9s %7s\n' "nginx static (keep-alive)" "$NG_RPS" "$NG_P50" "$NG_P99" "$NG_ERRS"
printf '%-28s %10s %9s %9s %7s\n' "dpm webhook (new TLS conn.)" "$HS_RPS" "$HS_P50" "$HS_P99" "$HS_ERRS"
printf '%-28s %10s %9s %9s %7s\n' "nginx static (new TLS conn.)" "$NHS_RPS" "$NHS_P50" "$NHS_P99" "$NHS_ERRS"
printf '%-28s %10s %9s %9s %7s\n' "dpm webhook (2,000 req/s)" "$FX_WH_N req" "$FX_WH_P50" "$FX_WH_P99" "$FX_WH_ERRS"
printf '%-28s %10s %9s %9s %7s\n' "nginx static (2,000 req/s)" "$FX_NG_N req" "$FX_NG_P50" "$FX_NG_P99" "$FX_NG_ERRS"
echo "new TLS connection per request (16 connections, 5 s, Connection: close): wrk counted the close after" \
    "the response as a read error on $HS_RERRS of $HS_REQS webhook requests and $NHS_RERRS of $NHS_REQS nginx requests"
echo "ratio to nginx: $RATIO%; webhook peak RSS: $RSS_MIB MiB (nginx, all processes: $((NG_RSS_KB / 1024)) MiB);" \
    "webhook served $SERVED /validate requests with 200"
goal() { if [ "$2" = 1 ]; then echo "goal met: $1"; else echo "goal missed: $1"; fi; }
FX_RATIO=$(awk -v a="$FX_WH_P99" -v b="$FX_NG_P99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 99) }')
goal ">= 35% of nginx's req/s ($RATIO%)" "$(awk -v r="$RATIO" 'BEGIN { print (r >= 35) }')"
goal "p99 at 2,000 req/s within 1.5x nginx's ($FX_WH_P99 ms vs $FX_NG_P99 ms: ${FX_RATIO}x)" \
    "$(awk -v r="$FX_RATIO" 'BEGIN { print (r <= 1.5) }')"
goal "0 errors ($WH_ERRS keep-alive, $HS_ERRS new connections, $FX_WH_ERRS at 2,000 req/s)" \
    "$([ $((WH_ERRS + HS_ERRS + FX_WH_ERRS)) = 0 ] && echo 1 || echo 0)"
goal "RSS <= 32 MiB ($RSS_MIB MiB)" "$(awk -v m="$RSS_MIB" 'BEGIN { print (m <= 32) }')"
kill -0 "$WH_PID" 2>/dev/null || { echo "webhook bench: dpm webhook died under load" >&2; exit 1; }
