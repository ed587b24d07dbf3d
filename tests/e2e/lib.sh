# Helpers for the e2e scenarios (sourced by run-suite.sh into every
# scenario's shell).  Environment set by run-suite.sh:
#   KUBECONFIG  the cluster; E2E_INTREE=1 when it is the in-tree server
#   E2E_DIR     the in-tree server's --dir (CA, tokens.csv, admin.crt)
#   E2E_SERVER  https://127.0.0.1:PORT (in-tree) ; E2E_PROXY http://127.0.0.1:PORT (kubectl proxy)
#   E2E_BIN     the build directory ; E2E_TMP a scratch directory for this scenario
#   E2E_LOCAL=1 the API server runs on this machine's loopback (in-tree, or
#               tests/e2e/real-cluster.sh): it can call a webhook on 127.0.0.1,
#               and E2E_DIR has its CA, CA key and tokens.csv
# A scenario is a function scenario_NAME; it fails by calling fail "why"
# (or by a non-zero exit); skip "why" ends it as skipped.

k() { timeout 30 kubectl "$@"; }

fail() { echo "E2E-FAIL: $*" >&2; exit 1; }
skip() { echo "E2E-SKIP: $*" >&2; exit 3; }
in_tree_only() { [ "${E2E_INTREE:-0}" = 1 ] || skip "needs the in-tree API server: $*"; }
# The API server can reach this machine's loopback and E2E_DIR is its own.
local_only() { [ "${E2E_LOCAL:-0}" = 1 ] || skip "needs an API server on this machine's loopback: $*"; }

# The server's minor version (v1.20.2 -> 20), from /version: scenarios
# expect what that version does where Kubernetes changed.
server_minor() {
    if [ ! -s "$E2E_TMP/server.minor" ]; then
        curl -sS --max-time 20 "$E2E_PROXY/version" | jget minor | tr -dc '0-9' > "$E2E_TMP/server.minor"
    fi
    [ -s "$E2E_TMP/server.minor" ] || fail "cannot read the server's /version"
    cat "$E2E_TMP/server.minor"
}
server_at_least() { [ "$(server_minor)" -ge "$1" ]; }

# The HTTP status (first line) and a field of the JSON body of raw's output:
#   status_of "$out" ; body_of "$out" reason
status_of() { printf '%s\n' "$1" | head -1; }
body_of() { printf '%s\n' "$1" | tail -n +2 | jget "$2"; }
# Asserts a raw answer is a Status with this code, reason and (optionally)
# exactly this message:  assert_status "$out" 409 Conflict ["message"]
assert_status() {
    local out=$1 code=$2 reason=$3
    assert_eq "$(status_of "$out")" "$code" "HTTP status"
    assert_eq "$(body_of "$out" kind)" "Status" "kind of the body"
    assert_eq "$(body_of "$out" code)" "$code" "Status code"
    assert_eq "$(body_of "$out" reason)" "$reason" "Status reason"
    [ $# -lt 4 ] || assert_eq "$(body_of "$out" message)" "$4" "Status message"
}

assert_eq() { [ "$1" = "$2" ] || fail "${3:-value}: want [$2], got [$1]"; }
assert_contains() {
    case "$1" in *"$2"*) ;; *) fail "${3:-output}: want it to contain [$2], got [$1]" ;; esac
}
assert_not_contains() {
    case "$1" in *"$2"*) fail "${3:-output}: want it not to contain [$2], got [$1]" ;; *) ;; esac
}

# A namespace for the scenario, deleted by run-suite.sh afterwards.
new_ns() {
    local ns="e2e-$1-$RANDOM"
    k create namespace "$ns" >/dev/null || fail "cannot create namespace $ns"
    echo "$ns" >> "$E2E_TMP/namespaces"
    # the controllers' own objects arrive first, so watches see only ours
    wait_for 10 timeout 10 kubectl get configmap kube-root-ca.crt -n "$ns" || true
    wait_for 10 timeout 10 kubectl get serviceaccount default -n "$ns" || true
    echo "$ns"
}

# A cluster-scoped object the scenario made (kind/name, e.g.
# persistentvolume/x): run-suite.sh deletes it after the scenario.
cluster_object() { echo "$1" >> "$E2E_TMP/cluster-objects"; }

# Waits up to $1 seconds for each CRD named after it to be Established.
# Not `kubectl wait --for condition=established`: kube-apiserver answers the
# create with status.conditions null and its controllers add the conditions
# a moment later (seconds for a CRD of 700 KB on a busy machine), and
# kubectl wait gives up at once on a null list (".status.conditions accessor
# error: <nil> is of the type <nil>").
crd_established() {
    [ "$(timeout 10 kubectl get crd "$1" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" = True ]
}
wait_established() {
    local t=$1 crd
    shift
    for crd in "$@"; do
        wait_for "$t" crd_established "$crd" || return 1
    done
}

# The Spark operator's CRDs from ../shared/thirdparty/spark-operator/,
# created (not applied: a client-side apply would copy 700 KB into the
# last-applied annotation, past its 256 KB limit) and Established.
install_spark_crds() {
    local crd out
    for crd in "$E2E_ROOT"/../shared/thirdparty/spark-operator/sparkoperator.k8s.io_*.yaml; do
        [ -f "$crd" ] || skip "no Spark operator CRDs in ../shared/thirdparty/spark-operator/"
        out=$(k create -f "$crd" 2>&1) || assert_contains "$out" "AlreadyExists" "create CRD"
    done
    wait_established 60 sparkapplications.sparkoperator.k8s.io scheduledsparkapplications.sparkoperator.k8s.io ||
        fail "the Spark operator CRDs not Established within 60 s: $(k get crd sparkapplications.sparkoperator.k8s.io -o jsonpath='{.status}')"
}

# raw METHOD PATH [BODY [CONTENT-TYPE]] through kubectl proxy: prints the
# HTTP status on the first line, then the body.
raw() {
    local m=$1 p=$2 body=${3:-} ct=${4:-application/json}
    if [ -n "$body" ]; then
        curl -sS --max-time 20 -X "$m" -H "Content-Type: $ct" --data-binary "$body" \
            -o "$E2E_TMP/raw.body" -w '%{http_code}\n' "$E2E_PROXY$p"
    else
        curl -sS --max-time 20 -X "$m" -o "$E2E_TMP/raw.body" -w '%{http_code}\n' "$E2E_PROXY$p"
    fi
    cat "$E2E_TMP/raw.body"
}

# jq-less JSON field extraction with python3 (present on the CI image).
jget() { python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    if k == "": continue
    d = d[int(k)] if isinstance(d, list) else d.get(k) if isinstance(d, dict) else None
    if d is None: break
print("" if d is None else (json.dumps(d) if isinstance(d,(dict,list)) else d))' "$1"; }

# Waits up to $1 seconds for a command to succeed.
wait_for() {
    local t=$1; shift
    local i=0
    while [ $i -lt $((t * 5)) ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

# Waits up to $1 seconds for a command's output to be $2 (the command runs
# again at each try; `wait_for T test "$(CMD)" = X` would run it once).
wait_out() {
    local t=$1 want=$2
    shift 2
    wait_for "$t" output_is "$want" "$@"
}
output_is() { local want=$1; shift; [ "$("$@" 2>/dev/null)" = "$want" ]; }

# Direct HTTPS to the in-tree server with a bearer token (or none).
direct() {
    local tok=$1 m=$2 p=$3
    shift 3
    local auth=()
    [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
    curl -sS --max-time 20 --cacert "$E2E_DIR/ca.crt" "${auth[@]}" -X "$m" "$@" \
        -o "$E2E_TMP/direct.body" -w '%{http_code}\n' "$E2E_SERVER$p"
    cat "$E2E_TMP/direct.body"
}

token_of() { grep ",$1," "$E2E_DIR/tokens.csv" | head -1 | cut -d, -f1; }

# An extra in-tree server for scenarios that need their own flags:
#   extra_server NAME [FLAGS...]  -> sets XS_KUBECONFIG, XS_PID, XS_URL
extra_server() {
    local name=$1
    shift
    local d=$E2E_TMP/$name
    mkdir -p "$d"
    "$E2E_BIN/dpm-test-apiserver" --dir "$d/dir" --port 0 "$@" > "$d/out" 2> "$d/err" &
    XS_PID=$!
    echo "$XS_PID" >> "$E2E_TMP/pids"
    local i
    for i in $(seq 1 100); do grep -q '^ready ' "$d/out" 2>/dev/null && break; sleep 0.1; done
    grep -q '^ready ' "$d/out" || fail "extra server $name did not start: $(cat "$d/err")"
    XS_URL=$(sed -n 's/^ready //p' "$d/out")
    XS_KUBECONFIG=$d/dir/admin.kubeconfig
}

stop_server() { # pid
    kill -TERM "$1" 2>/dev/null || return 0
    local i
    for i in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    fail "server $1 did not exit within 5 s of SIGTERM"
}
