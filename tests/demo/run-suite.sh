#!/usr/bin/env bash
# make demo (examples/demo.sh), run as a newcomer would, non-interactively:
#   - the whole walk-through: every step's heading in order, and what each
#     step is there to show (the seed's manifest refused by Kubernetes, the
#     converted one admitted, a rejection with all four reasons, a Warn
#     policy's warning, a breaking change refused, the printer columns, the
#     children by label, Ready, the events, the lineage graph); exit 0 and
#     nothing left running;
#   - Ctrl-C (SIGINT to its process group, as a terminal sends it) in the
#     middle: exit 130 within 10 s, nothing left running;
#   - a demo killed outright (SIGKILL: no trap) leaves its servers; `--down`
#     (make demo-down) stops them and removes its state.
#   tests/demo/run-suite.sh BUILD
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
W=$(mktemp -d /tmp/dpm-demo-suite.XXXXXX)
. tests/e2e/support/checks.sh
# Job control: each demo gets its own process group (SIGINT is not ignored
# in it, as in a background job of a script without job control).
set -m
export DPM_DEMO_PAUSE=0 HOME=$W/home
mkdir -p "$HOME"

for f in "$BUILD/dpm" "$BUILD/dpm-test-apiserver"; do [ -x "$f" ] || { fail setup "$f is not built"; finish; }; done
# The demo's daemons run under the sanitizers in the e2e suites; here the
# walk-through of the build a newcomer runs (CI time).
if sanitizer_build "$BUILD"; then
    echo "skip demo: $BUILD is a sanitizer build; the demo runs the optimised build (make demo)"
    finish
fi
command -v kubectl >/dev/null || { fail setup "kubectl is missing"; finish; }

# The pids the demo reported starting ("started NAME (pid N, ...").
started() { sed -n 's/^started \([a-z]*\) (pid \([0-9]*\),.*/\2/p' "$1"; }
# none_running LOG: ok when no process the demo started is alive.
none_running() {
    local p left=""
    for p in $(started "$1"); do kill -0 "$p" 2>/dev/null && left="$left $p($(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-60))"; done
    [ -z "$left" ] || { echo "still running:$left"; return 1; }
}
# wait_for LOG PATTERN SECONDS
wait_for() { local i; for i in $(seq $(($3 * 10))); do grep -q "$2" "$1" && return 0; sleep 0.1; done; return 1; }

# 1. The whole demo.
log=$W/demo.log
DPM_DEMO_DIR=$W/state1 timeout 300 examples/demo.sh "$BUILD" </dev/null >"$log" 2>&1; rc=$?
if [ $rc -eq 0 ]; then ok "demo: exit 0"; else fail "demo: exit 0" "exit $rc" "$(tail -20 "$log")"; fi
headings=(
    "Start a Kubernetes API server"
    "Start dpm webhook and register it"
    "Start dpm operator"
    "The seed's manifest, as first written: rejected by Kubernetes itself"
    "dpm convert makes it a canonical DataProduct"
    "The platform team installs its MeshPolicies"
    "A non-compliant product: rejected at admission, with every reason"
    "The domain teams apply their finished products"
    "A Warn policy: admitted, with its warnings"
    "A breaking schema change: rejected"
    "kubectl get dp: the printer columns"
    "The children the operator made"
    "Storage bound, the stream running: the products become Ready"
    "kubectl describe dp"
    "The mesh's lineage graph"
    "The same checks offline"
)
got=$(grep '^== ' "$log" | sed 's/^== [0-9]*\. //')
want=$(printf '%s\n' "${headings[@]}")
bad=""
i=0
while IFS= read -r h; do
    i=$((i + 1))
    line=$(sed -n "${i}p" <<<"$got")
    case $line in "$h"*) ;; *) bad="$bad; step $i: want '$h', got '$line'" ;; esac
done <<<"$want"
[ "$(wc -l <<<"$got")" -eq ${#headings[@]} ] || bad="$bad; $(wc -l <<<"$got") steps, want ${#headings[@]}"
if [ -z "$bad" ]; then ok "demo: the ${#headings[@]} steps' headings, in order"; else fail "demo: the steps' headings, in order" "${bad#; }"; fi

# section N: the output of step N (up to the next heading).
section() { awk -v n="$1" '/^== [0-9]+\. /{s = ($2 == n".")} s' "$log"; }
has() { local name=$1 n=$2; shift 2; local out; out=$(section "$n"); for p in "$@"; do
    grep -qF -- "$p" <<<"$out" || { fail "$name" "step $n lacks: $p" "$(head -c 1500 <<<"$out")"; return; }; done; ok "$name"; }
has "seed manifest refused by Kubernetes (strict fields)" 4 'unknown field "metadata.domain"' 'unknown field "metadata.owner"' '(exit 1)'
has "converted seed admitted, with the no-schema warning, defaulted" 5 'spec.domain' \
    'dataproduct.mesh.io/payment-transactions-enriched created' 'Warning: spec.outputPorts[0].contract.schema: no schema' '"mesh.io/domain":"fintech-core"'
has "policies installed; the stored seed product judged non-compliant" 6 'gdpr-baseline       Deny' \
    'Compliant=False PolicyFindings: gdpr-baseline/described: spec.description: is required'
has "non-compliant product rejected with all 4 reasons" 7 'denied the request: 4 violations' 'gdpr-baseline/pii-tagged' \
    'gdpr-baseline/pii-classified' 'gdpr-baseline/eu-residency' 'gdpr-baseline/retention-cap' '(exit 1)'
has "finished products admitted (an update of the seed's)" 8 'dataproduct.mesh.io/merchants created' 'payment-transactions-enriched configured'
has "Warn policy: admitted with its warning" 9 'Warning: resource-ceilings/driver-memory: spec.transformation.resources.memory: 12Gi exceeds the maximum 8Gi' \
    'dataproduct.mesh.io/fraud-scores created'
has "breaking schema change refused" 10 'denied the request: 2 violations' 'compatibility/BACKWARD_TRANSITIVE' '(exit 1)'
if section 11 | grep -Eq '^NAMESPACE +NAME +DOMAIN +OWNER +PHASE +FRESHNESS +AGE$' && section 11 | grep -Eq '^merchant-core +merchants +merchant-core +team-merchants@company.com +Provisioning '; then
    ok "kubectl get dp: the columns, merchants Provisioning"
else fail "kubectl get dp: the columns, merchants Provisioning" "$(section 11)"; fi
has "children by label: claim, CronJob, contract ConfigMap, Service, Spark's RBAC" 12 \
    'persistentvolumeclaim/payment-transactions-enriched-enriched-transactions-historical' \
    'cronjob.batch/payment-transactions-enriched-transform' 'configmap/payment-transactions-enriched-contract' \
    'service/payment-transactions-enriched-enriched-transactions-live' 'serviceaccount/payment-transactions-enriched-transform' \
    'rolebinding.rbac.authorization.k8s.io/payment-transactions-enriched-transform'
if [ "$(section 13 | grep -c 'condition met')" -eq 3 ] && [ "$(section 13 | grep -Ec ' Ready +[0-9a-z]+ +[0-9a-z]+$')" -eq 3 ]; then
    ok "all three products Ready"
else fail "all three products Ready" "$(section 13)"; fi
has "kubectl describe dp: conditions and the operator's events" 14 'Type:                  Ready' 'Events:' \
    'created CronJob payment-transactions-enriched-transform' 'phase Ready'
has "the lineage graph from the cluster" 15 'digraph mesh' \
    '"dp:merchant-core/merchants" -> "dp:fintech-core/payment-transactions-enriched" [label="merchants-current"]' \
    '"dp:fintech-core/payment-transactions-enriched" -> "dp:risk-analytics/fraud-scores"'
[ "$(started "$log" | wc -l)" -eq 3 ] && ok "demo: started the API server, the webhook and the operator" ||
    fail "demo: started the API server, the webhook and the operator" "$(grep '^started' "$log")"
check "demo: nothing left running" none_running "$log"
check "demo: its state directory removed" test ! -e "$W/state1"

# 2. Ctrl-C in the middle.
log=$W/ctrlc.log
# env --default-signal=INT: a shell started with SIGINT ignored (nohup …
# &, a background job of a script) passes that on, and bash cannot trap a
# signal ignored at its start: the demo would never see this Ctrl-C.
DPM_DEMO_DIR=$W/state2 env --default-signal=INT examples/demo.sh "$BUILD" </dev/null >"$log" 2>&1 &
demo=$!
if wait_for "$log" '^== 5\. ' 120; then
    kill -INT -- -"$demo"
    t0=$(date +%s%N)
    # wait for the demo itself (not a kill -0 poll, which a reaped job can
    # confuse), a watchdog ending it after 10 s
    (sleep 10; kill -KILL -- -"$demo") >/dev/null 2>&1 &
    dog=$!
    wait "$demo"; rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    kill -- -"$dog" 2>/dev/null; wait "$dog" 2>/dev/null
    if [ "$ms" -lt 10000 ]; then ok "Ctrl-C: the demo stops within 10 s ($ms ms)"
    else fail "Ctrl-C: the demo stops within 10 s" "$ms ms; $(tail -5 "$log")"; fi
    if [ "$rc" = 130 ]; then ok "Ctrl-C: exit status 130"
    else fail "Ctrl-C: exit status 130" "exit status $rc; $(tail -5 "$log")"; fi
    check "Ctrl-C: nothing left running" none_running "$log"
    check "Ctrl-C: its state directory removed" test ! -e "$W/state2"
else
    fail "Ctrl-C: the demo reached step 5" "$(tail -10 "$log")"; kill -KILL -- -"$demo" 2>/dev/null
fi

# 3. A demo killed outright; --down (make demo-down) cleans up.
log=$W/down.log
DPM_DEMO_DIR=$W/state3 examples/demo.sh "$BUILD" </dev/null >"$log" 2>&1 &
demo=$!
if wait_for "$log" '^== 4\. ' 120; then
    kill -KILL "$demo"; wait "$demo" 2>/dev/null
    # The test means something only if servers were left behind.
    if none_running "$log" >/dev/null; then fail "SIGKILL leaves the demo's servers running" "nothing was left"
    else ok "SIGKILL leaves the demo's servers running"; fi
    DPM_DEMO_DIR=$W/state3 examples/demo.sh --down "$BUILD" >"$W/down.out" 2>&1; rc=$?
    check "--down: exit 0, says what it stopped" bash -c "[ $rc -eq 0 ] && grep -q 'stopping operator' '$W/down.out'"
    check "--down: nothing left running" none_running "$log"
    check "--down: its state directory removed" test ! -e "$W/state3"
else
    fail "--down: the demo reached step 4" "$(tail -10 "$log")"; kill -KILL -- -"$demo" 2>/dev/null
fi
finish
