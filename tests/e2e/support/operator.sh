# Helpers of the operator scenarios (85-operator.sh, 86-operator-changes.sh),
# sourced by them: dpm operator started per scenario namespace, metrics,
# the example product, claims bound as a cluster binds them.

# Starts dpm operator for namespace $1 in the background; sets OP_PID and
# OP_METRICS (http://127.0.0.1:PORT); logs in $E2E_TMP/${OP_LOG:-op}.{out,err}.
start_operator() {
    local ns=$1
    shift
    k apply -f "$E2E_ROOT/crds/" >/dev/null || fail "cannot install the CRDs"
    # (the other scenarios may have installed the Spark operator's CRDs: the
    # flavour is chosen by each scenario, never by what happens to be there)
    "$E2E_BIN/dpm" operator --kubeconfig "${OP_KUBECONFIG:-$KUBECONFIG}" --namespace "$ns" --workers 2 \
        --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 --resync 0 ${OP_SPARK:---spark-operator never} "$@" \
        > "$E2E_TMP/${OP_LOG:-op}.out" 2> "$E2E_TMP/${OP_LOG:-op}.err" &
    OP_PID=$!
    echo "$OP_PID" >> "$E2E_TMP/pids"
    wait_for 15 grep -q '^ready' "$E2E_TMP/${OP_LOG:-op}.out" || fail "operator not ready: $(tail -3 "$E2E_TMP/${OP_LOG:-op}.err")"
    OP_METRICS=http://127.0.0.1:$(sed -n 's/^metrics-port //p' "$E2E_TMP/${OP_LOG:-op}.out")
    OP_HEALTH=http://127.0.0.1:$(sed -n 's/^health-port //p' "$E2E_TMP/${OP_LOG:-op}.out")
}

# The sum of one metric family's series (0 when absent).
metric_sum() {
    curl -s --max-time 5 "$OP_METRICS/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'
}

# The example product "merchants" into namespace $1 (its claim of storage
# class $2 when given).
apply_merchants() {
    local sc=""
    [ -n "${2:-}" ] && sc=", storageClassName: $2"
    sed -e "s/^  namespace: .*/  namespace: $1/" -e "s/storage: {size: 5Gi}/storage: {size: 5Gi$sc}/" \
        "$E2E_ROOT/examples/dataproducts/merchants.yaml" > "$E2E_TMP/merchants.yaml"
    k apply -f "$E2E_TMP/merchants.yaml" >/dev/null || fail "apply merchants"
}

# A StorageClass that allows expansion (kube refuses to grow a claim of a
# class without allowVolumeExpansion, or of no class): no provisioner, and
# binding waits for a consumer, so the PV controller leaves its claims alone
# until a volume names them.  Prints its name.
expandable_class() { # ns
    local sc="e2e-expand-$1"
    k create -f - >/dev/null <<EOF || fail "cannot create StorageClass $sc"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: $sc}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
EOF
    cluster_object "storageclass/$sc"
    echo "$sc"
}

claim_phase() { k get pvc "$2" -n "$1" -o jsonpath='{.status.phase}'; }

# Binds claim $2 of namespace $1 as a cluster does: a PersistentVolume of
# its size, access mode and class, pre-bound to it by claimRef.  A real PV
# controller then binds the pair (a claim whose status alone says Bound,
# without a volume, it resets to Pending); the in-tree server has no PV
# controller, so there both sides are written as that controller writes them.
bind_claim() { # ns claim
    local ns=$1 claim=$2 size sc pv
    size=$(k get pvc "$claim" -n "$ns" -o jsonpath='{.spec.resources.requests.storage}') || fail "no claim $claim"
    sc=$(k get pvc "$claim" -n "$ns" -o jsonpath='{.spec.storageClassName}')
    pv="e2e-$ns-$claim"
    k create -f - >/dev/null <<EOF || fail "cannot create the volume of $claim"
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv}
spec:
  capacity: {storage: $size}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: "$sc"
  hostPath: {path: /tmp/$pv}
  claimRef: {namespace: $ns, name: $claim}
EOF
    cluster_object "persistentvolume/$pv"
    if [ "${E2E_INTREE:-0}" = 1 ]; then
        k patch pv "$pv" --subresource=status --type=merge -p '{"status":{"phase":"Bound"}}' >/dev/null &&
            k patch pvc "$claim" -n "$ns" --type=merge -p \
                "{\"metadata\":{\"annotations\":{\"pv.kubernetes.io/bind-completed\":\"yes\"}},\"spec\":{\"volumeName\":\"$pv\"}}" >/dev/null &&
            k patch pvc "$claim" -n "$ns" --subresource=status --type=merge -p \
                "{\"status\":{\"phase\":\"Bound\",\"accessModes\":[\"ReadWriteMany\"],\"capacity\":{\"storage\":\"$size\"}}}" >/dev/null ||
            fail "cannot bind $claim"
    else
        # a change of the claim has the PV controller look at it now rather
        # than at its next resync (15 s)
        k annotate pvc "$claim" -n "$ns" e2e/bind="$pv" --overwrite >/dev/null
        wait_out 30 Bound claim_phase "$ns" "$claim" ||
            fail "the PV controller did not bind $claim to $pv: $(k get pvc "$claim" -n "$ns" -o jsonpath='{.status}')"
    fi
}

phase_is() { [ "$(k get dp "$2" -n "$1" -o jsonpath='{.status.phase}')" = "$3" ]; }
