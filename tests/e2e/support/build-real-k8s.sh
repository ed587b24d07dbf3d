#!/usr/bin/env bash
# Builds a real Kubernetes control plane (kube-apiserver and
# kube-controller-manager 1.20.2) from Debian bookworm's `kubernetes` source
# package, once, and prints the directory holding the binaries.
#   tests/e2e/support/build-real-k8s.sh            build if not cached
#   tests/e2e/support/build-real-k8s.sh --check    exit 0 only if cached
# Where: ${DPM_REAL_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dpm/real-k8s}
# (outside the checkout: `make clean` and fresh clones keep it).  The
# binaries go to its bin/ only once both built and ran `--version`, so a
# half-finished build is never taken for a cached one.
#
# Needs root for apt-get (packages: golang-1.19-go, etcd-server, dpkg-dev,
# golang-github-modern-go-reflect2-dev, rsync).  The source comes through a
# deb-src entry derived from this machine's own apt sources (the deb entries
# of /etc/apt/sources.list.d/*.sources and /etc/apt/sources.list), so it is
# fetched from the same mirror as the binaries.
#
# Build: the tree's `make WHAT=cmd/kube-apiserver` and
# `WHAT=cmd/kube-controller-manager` (GO111MODULE=off, GOPATH layout), as
# Debian's rules do; the version is stamped as v1.20.2 (the suite reads
# /version to know what to expect).  The vendored github.com/modern-go/reflect2 1.0.1 reads Go's map
# internals as they were before Go 1.18 and crashes (SIGSEGV in map iteration
# at start-up) under Go 1.19: it is replaced by Debian's
# golang-github-modern-go-reflect2-dev (1.0.2), which is API-compatible.
# Run it niced: it takes ~10-20 minutes on two shared cores.  On failure it
# prints "build-real-k8s: <why>" on stderr and exits 1.
set -euo pipefail

cache=${DPM_REAL_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dpm/real-k8s}
bin=$cache/bin
want_version=v1.20.2

die() { echo "build-real-k8s: $*" >&2; exit 1; }

cached() {
    [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] &&
        "$bin/kube-apiserver" --version 2>/dev/null | grep -q "$want_version"
}

if [ "${1:-}" = "--check" ]; then
    cached && { echo "$bin"; exit 0; }
    exit 1
fi
if cached; then
    echo "build-real-k8s: cached binaries in $bin" >&2
    echo "$bin"
    exit 0
fi

start=$(date +%s)
[ "$(id -u)" = 0 ] || die "needs root for apt-get (or put the binaries in $bin)"

# deb-src twin of every deb entry this machine already uses (deb822 and
# one-line formats); only the Debian archive has the kubernetes source.
srcfile=/etc/apt/sources.list.d/dpm-deb-src.sources
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    tmp_src=$(mktemp)
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # keep only stanzas pointing at a Debian archive
        awk 'BEGIN{RS=""; ORS="\n\n"} /URIs:[^\n]*debian/ && /Types:[^\n]*deb/ {
                 sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >> "$tmp_src"
    done
    if [ -f /etc/apt/sources.list ]; then
        lines=$(sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' /etc/apt/sources.list)
        if [ -n "$lines" ]; then
            printf '%s\n' "$lines" > /etc/apt/sources.list.d/dpm-deb-src.list
        fi
    fi
    if [ -s "$tmp_src" ]; then
        install -m 0644 "$tmp_src" "$srcfile"
    fi
    rm -f "$tmp_src"
    grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
        die "no Debian deb entry in /etc/apt/sources.list* to derive a deb-src entry from"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends golang-1.19-go etcd-server dpkg-dev \
    golang-github-modern-go-reflect2-dev rsync >/dev/null ||
    die "apt-get install of the build packages failed"
go=/usr/lib/go-1.19/bin/go
[ -x "$go" ] || die "$go missing after installing golang-1.19-go"

mkdir -p "$cache/src"
srcdir=$(find "$cache/src" -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
if [ -z "$srcdir" ] || [ ! -f "$srcdir/cmd/kube-apiserver/apiserver.go" ]; then
    rm -rf "$cache/src"
    mkdir -p "$cache/src"
    (cd "$cache/src" && apt-get source -qq kubernetes >"$cache/src.log" 2>&1) ||
        die "apt-get source kubernetes failed (see $cache/src.log)"
    srcdir=$(find "$cache/src" -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
    [ -n "$srcdir" ] || die "apt-get source kubernetes unpacked no kubernetes-* directory"
fi
grep -q 'gitMajor' "$srcdir/staging/src/k8s.io/component-base/version/base.go" 2>/dev/null ||
    die "$srcdir does not look like the Kubernetes source tree"

# The reflect2 swap (see the header).
debian_reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$debian_reflect2/reflect2.go" ] || die "$debian_reflect2 missing (golang-github-modern-go-reflect2-dev)"
vend=$srcdir/vendor/github.com/modern-go/reflect2
[ -d "$vend" ] || die "$vend missing: unexpected source layout"
rsync -a --delete --exclude '*_test.go' --exclude 'test*/' "$debian_reflect2/" "$vend/"

# The tree's own build (hack/lib: GO111MODULE=off, GOPATH layout under
# _output/local/go with k8s.io/kubernetes linked to the tree) generates the
# code the source package does not ship (pkg/generated/openapi) and stamps
# the version from the release archive (v1.20.2).  Debian's rules build the
# same way.
out=$srcdir/_output/bin
for cmd in kube-apiserver kube-controller-manager; do
    echo "build-real-k8s: building $cmd (log: $cache/$cmd.log)" >&2
    t0=$(date +%s)
    (cd "$srcdir" &&
        env PATH="/usr/lib/go-1.19/bin:$PATH" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 \
            GOCACHE="$cache/gocache" HOME="$cache" make WHAT="cmd/$cmd" \
            >"$cache/$cmd.log" 2>&1) ||
        die "make WHAT=cmd/$cmd failed: $(tail -5 "$cache/$cmd.log" | tr '\n' ' ')"
    "$out/$cmd" --version >/dev/null 2>&1 || die "$out/$cmd does not run"
    echo "build-real-k8s: $cmd built in $(( $(date +%s) - t0 ))s" >&2
done
mkdir -p "$bin"
cp "$out/kube-apiserver" "$out/kube-controller-manager" "$bin/"
cached || die "built binaries in $bin do not report $want_version"
echo "build-real-k8s: built in $(( $(date +%s) - start ))s; binaries in $bin" >&2
echo "$bin"
