#!/usr/bin/env bash
# The docs cannot rot: every command block of README.md and docs/*.md is run
# (or carries the reason it is not), by tests/docs/check_docs.py, against a
# cluster of this machine started here: the in-tree API server with dpm's
# CRDs (and the Spark operator's, from ../shared/thirdparty, when present),
# dpm webhook registered by URL and caBundle, dpm operator. The convention
# (<!-- test: run --> / <!-- test: skip REASON --> before a ```sh or
# ```console block) is in docs/hacking.md and check_docs.py. Also:
#   - docs/cli.md is exactly what tests/docs/gen-cli.sh prints from the
#     binary's --help (make docs-cli rewrites it);
#   - every ```dot block of the docs renders with Graphviz;
#   - every relative link of the docs points to a file that exists.
#   tests/docs/run-suite.sh BUILD
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${1:-build}
BUILD_ABS=$(cd "$BUILD" 2>/dev/null && pwd)
W=$(mktemp -d /tmp/dpm-docs-suite.XXXXXX)
. tests/e2e/support/checks.sh
for f in "$BUILD/dpm" "$BUILD/dpm-test-apiserver"; do [ -x "$f" ] || { fail setup "$f is not built"; finish; }; done
command -v kubectl >/dev/null || { fail setup "kubectl is missing"; finish; }
command -v python3 >/dev/null || { fail setup "python3 is missing"; finish; }
docs=(README.md docs/*.md)

# 1. The CLI reference is the binary's help.
if tests/docs/gen-cli.sh "$BUILD/dpm" | diff -u docs/cli.md - >"$W/cli.diff"; then
    ok "docs/cli.md is dpm's --help (tests/docs/gen-cli.sh)"
else fail "docs/cli.md is dpm's --help (make docs-cli rewrites it)" "$(head -30 "$W/cli.diff")"; fi

# 2. Diagrams written in DOT render.
if command -v dot >/dev/null; then
    n=0
    for f in "${docs[@]}"; do
        awk -v out="$W/dot.$(basename "$f")" '/^```dot *$/{p=1; k++; next} /^``` *$/{p=0} p{print > (out "." k)}' "$f"
    done
    for d in "$W"/dot.*; do
        [ -f "$d" ] || continue
        n=$((n + 1))
        check "the diagram $(basename "$d" | sed 's/^dot\.//') renders with Graphviz" dot -Tsvg -o "$d.svg" "$d"
    done
    [ $n -gt 0 ] || fail "the docs hold a DOT diagram" "no \`\`\`dot block in ${docs[*]}"
else
    echo "skip diagrams: Graphviz's dot is not installed"
fi

# 3. Relative links resolve.
bad=""
for f in "${docs[@]}"; do
    dir=$(dirname "$f")
    for l in $(grep -o '\](\([^)#:]*\)[)#]' "$f" | sed 's/^](//; s/[)#]$//' | sort -u); do
        [ -e "$dir/$l" ] || bad="$bad $f→$l"
    done
done
check "relative links of the docs resolve" test -z "$bad"
[ -n "$bad" ] && echo "    missing:$bad"

# 4. The commands. A scratch working directory with the repository's
# top-level entries linked (writes stay in it), HOME with ~/.kube/config,
# PATH finding BUILD's dpm first.
work=$W/work
mkdir -p "$work" "$W/home/.kube" "$W/out"
for e in "$ROOT"/*; do ln -s "$e" "$work/$(basename "$e")"; done
export HOME=$W/home
start() {
    local name=$1; shift
    url=
    "$@" >"$W/$name.out" 2>"$W/$name.err" &
    pids+=($!)
    for _ in $(seq 200); do
        grep -q '^ready' "$W/$name.out" 2>/dev/null && { url=$(sed -n 's/^ready //p' "$W/$name.out" | head -1); return 0; }
        sleep 0.1
    done
    fail "setup: $name did not start" "$(tail -5 "$W/$name.err")"; finish
}
start apiserver "$BUILD/dpm-test-apiserver" --dir "$W/apiserver" --port 0
cp "$W/apiserver/admin.kubeconfig" "$HOME/.kube/config"
export KUBECONFIG=$HOME/.kube/config
k() { timeout 30 kubectl "$@"; }
k apply -f crds/ >"$W/setup.log" 2>&1 || { fail "setup: CRDs" "$(cat "$W/setup.log")"; finish; }
for crd in "$ROOT"/../shared/thirdparty/spark-operator/sparkoperator.k8s.io_*.yaml; do
    [ -f "$crd" ] && k apply --server-side -f "$crd" >>"$W/setup.log" 2>&1
done
k wait --for=condition=Established crd --all --timeout=30s >>"$W/setup.log" 2>&1
"$BUILD/dpm" certs --service dpm-webhook --namespace dpm-system --out "$W/certs" --ip 127.0.0.1 >/dev/null 2>&1
start webhook "$BUILD/dpm" webhook --cert-dir "$W/certs" --listen 127.0.0.1:0 --kubeconfig "$KUBECONFIG"
wh_url=$url
ca=$(base64 -w0 "$W/certs/ca.crt")
for kind in Validating Mutating; do
    ep=validate; [ $kind = Mutating ] && ep=mutate
    cat <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ${kind}WebhookConfiguration
metadata: {name: dpm}
webhooks:
  - name: $ep.dataproducts.mesh.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 5
    clientConfig: {url: "$url/$ep", caBundle: "$ca"}
    rules:
      - {apiGroups: [mesh.io], apiVersions: [v1alpha1], resources: [dataproducts], operations: [CREATE, UPDATE]}
---
YAML
done | k apply -f - >>"$W/setup.log" 2>&1 || { fail "setup: webhook configurations" "$(cat "$W/setup.log")"; finish; }
# CronJob flavour (the Spark CRDs above serve the README's render dry-run only).
start operator "$BUILD/dpm" operator --kubeconfig "$KUBECONFIG" --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 \
    --spark-operator never
op_metrics=http://127.0.0.1:$(sed -n 's/^metrics-port //p' "$W/operator.out")/metrics
for ns in fintech-core merchant-core risk-analytics crm; do k create namespace $ns >/dev/null 2>&1; done
export PATH=$BUILD_ABS:$PATH

# The checker itself can fail: each block of its fixture gets the verdict
# its heading names (ok, or FAIL: unmarked, no reason, other output, exit
# status, an unknown dpm option, a server never ready).
mkdir -p "$W/fixture-out"
want=$(sed -n 's/^## \(ok\|FAIL\):.*/\1/p' tests/docs/fixture/checker.md | tr '\n' ' ')
got=$(python3 tests/docs/check_docs.py --workdir "$work" --out "$W/fixture-out" --dpm "$BUILD_ABS/dpm" \
      tests/docs/fixture/checker.md 2>&1 | sed -n 's/^\(ok\|FAIL\) .*/\1/p' | tr '\n' ' ')
check "the checker's verdicts on its fixture: $want" test "$got" = "$want"
[ "$got" = "$want" ] || echo "    got: $got"

python3 tests/docs/check_docs.py --workdir "$work" --out "$W/out" --dpm "$BUILD_ABS/dpm" "${docs[@]}" >"$W/check.out" 2>&1
rc=$?
cat "$W/check.out" | grep -v '^ok '
while read -r line; do
    case $line in "ok "*) ok "${line#ok }" ;; "FAIL "*) failed=$((failed + 1)) ;; esac
done <"$W/check.out"
grep -q '^# [0-9]* blocks run' "$W/check.out" || fail "check_docs.py ran to the end (exit $rc)"

# 5. The metrics of docs/operations.md are the ones the daemons export, both ways.
{ curl -s --cacert "$W/certs/ca.crt" "$wh_url/metrics"; curl -s "$op_metrics"; } |
    sed -n 's/^# TYPE \(dpm_[a-z0-9_]*\) .*/\1/p' | sort -u >"$W/exported"
grep -o '`dpm_[a-z0-9_]\+' docs/operations.md | tr -d '`' | sort -u >"$W/documented"
if [ "$(wc -l <"$W/exported")" -lt 10 ]; then
    fail "the daemons' metrics scraped" "$(cat "$W/exported")"
else
    undocumented=$(comm -23 "$W/exported" "$W/documented" | tr '\n' ' ')
    gone=$(comm -13 "$W/exported" "$W/documented" | tr '\n' ' ')
    check "every exported metric ($(wc -l <"$W/exported")) is in docs/operations.md" test -z "$undocumented"
    [ -n "$undocumented" ] && echo "    undocumented: $undocumented"
    check "every metric docs/operations.md names is exported" test -z "$gone"
    [ -n "$gone" ] && echo "    not exported: $gone"
fi
finish
