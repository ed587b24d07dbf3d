#!/usr/bin/env bash
# Data-driven CLI cases, jansson style: adding a case needs no C.
#
#   tests/cases/<suite>/<case>/
#     input.yaml            the document(s) to check
#     policy*.yaml          optional: passed as -p FILE (in name order)
#     old.yaml              optional: passed as --old old.yaml
#     args                  optional: the whole dpm command line instead, run
#                           from the repository root (e.g. for examples/)
#     stdin                 optional: fed to dpm's standard input
#     options               optional (render suite): options put before
#                           input.yaml, e.g. "--spark-operator yes"
#     expected              the exact output (stdout then stderr) and a last
#                           line "exit N"; a case folder without it fails
#
# Usage: tests/cases/run-suite.sh BUILD [CASE-DIR...]
#   DPM_UPDATE_EXPECTED=1 rewrites the expected files (review the diff!).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
shift || true
dpm=$build/dpm
[ -x "$dpm" ] || { echo "no $dpm"; echo "0 passed, 1 failed"; exit 1; }
if [ $# -gt 0 ]; then cases=("$@"); else
    mapfile -t cases < <(find "$root/tests/cases" -mindepth 2 -maxdepth 2 -type d | sort)
fi
pass=0; fail=0
for c in "${cases[@]}"; do
    name=${c#"$root/tests/cases/"}
    # A case folder without its expected output would otherwise pass by
    # never running: a failure, unless this run writes it.
    if [ ! -f "$c/expected" ] && [ -z "${DPM_UPDATE_EXPECTED:-}" ]; then
        fail=$((fail + 1)); echo "FAIL $name: no expected file (DPM_UPDATE_EXPECTED=1 writes it)"
        continue
    fi
    stdin=/dev/null
    [ -f "$c/stdin" ] && stdin=$c/stdin
    if [ -f "$c/args" ]; then
        read -r -a argv < "$c/args"
        actual=$(cd "$root" && timeout 20 "$dpm" "${argv[@]}" 2>&1 <"$stdin"; echo "exit $?")
    elif [ "${name%%/*}" = render ]; then
        # The render suite: dpm render [options] input.yaml.
        argv=(render)
        opts=()
        [ -f "$c/options" ] && { read -r -a opts || true; } < "$c/options"
        argv+=("${opts[@]}" input.yaml)
        actual=$(cd "$c" && timeout 20 "$dpm" "${argv[@]}" 2>&1 <"$stdin"; echo "exit $?")
    else
        argv=(validate)
        for p in "$c"/policy*.yaml; do [ -f "$p" ] && argv+=(-p "$(basename "$p")"); done
        [ -f "$c/old.yaml" ] && argv+=(--old old.yaml)
        argv+=(input.yaml)
        actual=$(cd "$c" && timeout 20 "$dpm" "${argv[@]}" 2>&1 <"$stdin"; echo "exit $?")
    fi
    if [ -n "${DPM_UPDATE_EXPECTED:-}" ]; then
        printf '%s\n' "$actual" > "$c/expected"
    fi
    if [ "$actual" == "$(cat "$c/expected")" ]; then
        pass=$((pass + 1)); echo "ok $name"
    else
        fail=$((fail + 1)); echo "FAIL $name"
        diff <(cat "$c/expected") <(printf '%s\n' "$actual") | head -30 | sed 's/^/    /'
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
