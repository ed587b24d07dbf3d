#!/usr/bin/env bash
# make image: the dpm container image as an OCI image layout, without a
# container daemon. What the Dockerfile builds, by other means:
#   1. a base root filesystem: the Debian bookworm packages of
#      image/runtime-packages and their dependencies, unpacked by mmdebstrap
#      (--variant=extract: no maintainer scripts, so no shell, no apt, no
#      dpkg database), pruned of documentation and tools, with the CA bundle
#      update-ca-certificates would write and a passwd naming UID 65532;
#      cached as a tar in ~/.cache/dpm/image (rebuilt after 7 days, to pick up
#      Debian's security updates, or with DPM_IMAGE_REFRESH=1);
#   2. umoci: a new image, the base as one layer, BUILD/dpm as
#      /usr/local/bin/dpm in a second (so a rebuild of dpm ships one small
#      layer), and the config: user 65532:65532, ENTRYPOINT ["dpm"].
# Output: BUILD/image/oci, tag VERSION (reference dpm:VERSION); the summary
# (layers and their compressed sizes) on stdout.
#   image/build.sh [BUILD]          BUILD defaults to build
# Needs mmdebstrap and umoci (apt), root or unprivileged user namespaces
# (mmdebstrap --mode=auto), and deb.debian.org when the cache is cold.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
version=$(cat VERSION)
mirror=${DPM_IMAGE_MIRROR:-http://deb.debian.org/debian}
security=${DPM_IMAGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache=${DPM_CACHE_DIR:-$HOME/.cache/dpm}/image
out=$build/image
start=$(date +%s)

for tool in mmdebstrap umoci; do
    command -v $tool >/dev/null || { echo "image/build.sh: $tool is missing (apt-get install mmdebstrap umoci)" >&2; exit 2; }
done
[ -x "$build/dpm" ] || { echo "image/build.sh: $build/dpm is missing (run make first)" >&2; exit 2; }
if ldd "$build/dpm" | grep -q 'libasan\|libubsan'; then
    echo "image/build.sh: $build/dpm is a sanitizer build; the image ships the optimised build" >&2; exit 2
fi

pkgs=$(grep -v '^#' image/runtime-packages | grep . | paste -sd, -)
# The cache key: everything that decides the base's content.
key=$(cat image/runtime-packages image/passwd image/group "$0" | { cat; echo "$mirror $security"; } | sha256sum | cut -c1-16)
base=$cache/base-$key.tar

build_base() {
    local tmp root
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/dpm-image-base.XXXXXX")
    root=$tmp/rootfs
    echo "building the base root filesystem (mmdebstrap, bookworm: $pkgs)"
    mmdebstrap --quiet --variant=extract --mode=auto --include="$pkgs" \
        --aptopt='Acquire::Retries "3"' bookworm "$root" \
        "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb $security bookworm-security main"
    # update-ca-certificates' output (its postinst did not run): every
    # certificate ca-certificates enables by default, one file.
    mkdir -p "$root/etc/ssl/certs"
    find "$root/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort |
        xargs cat >"$root/etc/ssl/certs/ca-certificates.crt"
    [ -s "$root/etc/ssl/certs/ca-certificates.crt" ] || { echo "no CA certificates" >&2; return 1; }
    # Only what a running dpm reads: no shell or tools (the extract variant
    # installs none, but the packages bring openssl's and debconf's
    # programs), no package manager state, documentation but the licences.
    rm -rf "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib/ssl/misc \
        "$root"/usr/share/{man,info,locale,lintian,perl5,debconf,bash-completion,pixmaps,ca-certificates} \
        "$root"/etc/{apt,dpkg,debconf.conf,hostname,fstab} "$root"/var/lib/{apt,dpkg} \
        "$root"/var/cache "$root"/var/log
    find "$root/usr/share/doc" -mindepth 1 \( -type f -o -type l \) ! -name copyright -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    : >"$root/etc/resolv.conf"   # the runtime mounts its own
    install -m 0644 image/passwd "$root/etc/passwd"
    install -m 0644 image/group "$root/etc/group"
    install -d -m 1777 "$root/tmp"
    install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
    mkdir -p "$cache"
    tar -C "$root" --numeric-owner -cf "$base.part" . && mv "$base.part" "$base"
    rm -rf "$tmp"
}

if [ -n "${DPM_IMAGE_REFRESH:-}" ] || [ -z "$(find "$base" -mtime -7 2>/dev/null)" ]; then
    build_base
else
    echo "base root filesystem from the cache: $base"
fi

rm -rf "$out"
mkdir -p "$out/stage/dpm/usr/local/bin" "$out/stage/base"
tar -C "$out/stage/base" --numeric-owner -xf "$base"
install -m 0755 "$build/dpm" "$out/stage/dpm/usr/local/bin/dpm"
strip --strip-debug "$out/stage/dpm/usr/local/bin/dpm"
img="$out/oci:$version"
umoci init --layout "$out/oci"
umoci new --image "$img"
umoci insert --image "$img" --history.created_by "image/build.sh: base ($pkgs)" "$out/stage/base" /
umoci insert --image "$img" --history.created_by "image/build.sh: dpm $version" \
    "$out/stage/dpm/usr/local/bin/dpm" /usr/local/bin/dpm
umoci config --image "$img" --config.user 65532:65532 --config.entrypoint dpm \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.workingdir / --config.label org.opencontainers.image.title=dpm \
    --config.label org.opencontainers.image.version="$version" \
    --config.label org.opencontainers.image.description="Data Product Mesh operator and admission webhook"
umoci gc --layout "$out/oci"
rm -rf "$out/stage"

# The summary: each layer's compressed (gzip) size, as a registry stores it.
total=0
echo "image dpm:$version in $out/oci (OCI image layout)"
manifest=$(grep -o '"digest":"sha256:[0-9a-f]*"' "$out/oci/index.json" | head -1 | sed 's/.*sha256://; s/"//')
for layer in $(grep -o '"mediaType":"application/vnd.oci.image.layer[^"]*","digest":"sha256:[0-9a-f]*"' "$out/oci/blobs/sha256/$manifest" |
               sed 's/.*sha256://; s/"//'); do
    size=$(stat -c %s "$out/oci/blobs/sha256/$layer")
    total=$((total + size))
    printf '  layer sha256:%.12s  %s bytes compressed\n' "$layer" "$size"
done
printf 'compressed layers: %s bytes (%s MiB); built in %s s\n' "$total" \
    "$(awk -v b="$total" 'BEGIN{printf "%.1f", b/1048576}')" $(( $(date +%s) - start ))
