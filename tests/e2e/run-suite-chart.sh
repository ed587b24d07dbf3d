#!/usr/bin/env bash
# Static checks of the Helm chart charts/dpm that need no cluster and no helm:
#  - its crds/ are the repository's crds/, file for file, byte for byte (helm
#    package does not keep symlinks, so the chart carries copies);
#  - Chart.yaml's version and appVersion are the VERSION file's (the chart's
#    default image tag is the appVersion);
#  - the operator's RBAC has one source, files/operator-clusterrole.yaml, read
#    by templates/operator-rbac.yaml (no copy of its rules anywhere else);
#  - every command of docs/install.md is run, as written, by the chart's e2e
#    scenarios (tests/e2e/scenarios/92-chart.sh).
#   tests/e2e/run-suite-chart.sh [BUILD]
# Prints "ok NAME" / "FAIL NAME" and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
passed=0
failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '    %s\n' "$@"; failed=$((failed + 1)); }
chart=charts/dpm

name="chart crds/ identical to crds/"
want=$(cd crds && ls *.yaml 2>/dev/null)
got=$(cd $chart/crds && ls *.yaml 2>/dev/null)
if [ -z "$want" ]; then
    fail "$name" "no crds/*.yaml"
elif [ "$want" != "$got" ]; then
    fail "$name" "files differ: crds/: $(echo $want)" "$chart/crds/: $(echo $got)" "fix: cp crds/*.yaml $chart/crds/"
else
    diffs=""
    for f in $want; do cmp -s "crds/$f" "$chart/crds/$f" || diffs="$diffs $f"; done
    if [ -n "$diffs" ]; then fail "$name" "differ:$diffs" "fix: cp crds/*.yaml $chart/crds/"; else ok "$name"; fi
fi

name="Chart.yaml version and appVersion are VERSION"
v=$(cat VERSION)
cv=$(sed -n 's/^version: *//p' $chart/Chart.yaml)
av=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' $chart/Chart.yaml)
if [ "$cv" = "$v" ] && [ "$av" = "$v" ]; then ok "$name"; else fail "$name" "VERSION $v, version $cv, appVersion $av"; fi

name="the operator's ClusterRole has one source"
role=$chart/files/operator-clusterrole.yaml
if ! grep -q 'Files.Get "files/operator-clusterrole.yaml"' $chart/templates/operator-rbac.yaml; then
    fail "$name" "templates/operator-rbac.yaml does not read $role"
elif ! python3 -c 'import sys, yaml; r = yaml.safe_load(open(sys.argv[1])); assert r["kind"] == "ClusterRole" and r["rules"]' "$role" 2>/dev/null; then
    fail "$name" "$role is not a ClusterRole with rules"
elif copies=$(grep -rl 'sparkoperator.k8s.io' --include='*.yaml' . 2>/dev/null |
    grep -v -e '^./build/' -e "^./$role\$" -e '^./crds/' -e "^./$chart/crds/" -e '^./examples/' -e '^./tests/e2e/helm/' | grep -v thirdparty) &&
    [ -n "$copies" ]; then
    fail "$name" "other files carry the operator's rules:" $copies
else
    ok "$name"
fi

name="every command of docs/install.md is run by tests/e2e/scenarios/92-chart.sh"
missing=$(python3 - docs/install.md tests/e2e/scenarios/92-chart.sh <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
scenario = open(sys.argv[2]).read()
cmds = []
for block in re.findall(r'```sh\n(.*?)```', doc, re.S):
    cmds += [l.strip() for l in block.splitlines() if l.strip() and not l.strip().startswith('#')]
if not cmds:
    print('no sh blocks in %s' % sys.argv[1])
for c in cmds:
    if c not in scenario:
        print(c)
PY
)
if [ -z "$missing" ]; then ok "$name"; else fail "$name" "not run as written:" "$missing"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
