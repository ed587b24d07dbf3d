#!/usr/bin/env bash
# The container image (make image, image/build.sh): builds it from BUILD/dpm,
# unpacks it with umoci as a runtime would, and runs dpm inside its root
# filesystem (chroot, as UID 65532, the image's user) — --version, validate,
# certs, the webhook serving TLS and the operator talking to the in-tree API
# server — so a runtime library missing from image/runtime-packages fails
# here, not in a user's pod. Also: the image's config (user, entrypoint), its
# contents (no shell), the Dockerfile against the same package list.
#   tests/image/run-suite.sh BUILD
# Skipped (with the reason) without root, mmdebstrap or umoci, and for a
# sanitizer build (the image ships the optimised one). CI installs both
# tools (.ci/run). Prints ok/FAIL lines and "N passed, N failed" last.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
W=$(mktemp -d /tmp/dpm-image-suite.XXXXXX)
. tests/e2e/support/checks.sh

skip() { echo "skip image: $*"; echo "0 passed, 0 failed"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (chroot into the image's root filesystem)"
for t in mmdebstrap umoci; do command -v $t >/dev/null || skip "$t is not installed (apt-get install mmdebstrap umoci)"; done
[ -x "$BUILD/dpm" ] || { fail "setup" "$BUILD/dpm is not built"; finish; }
sanitizer_build "$BUILD" && skip "$BUILD is a sanitizer build; the image ships the optimised build (run with build/)"

version=$(cat VERSION)
out=$W/build
mkdir -p "$out"
cp "$BUILD/dpm" "$out/dpm"
# make image, into a scratch BUILD so the suite never races a developer's.
if image/build.sh "$out" >"$W/build.log" 2>&1; then ok "make image"; else fail "make image" "$(tail -20 "$W/build.log")"; finish; fi
check "the summary gives the compressed size" grep -Eq '^compressed layers: [0-9]+ bytes' "$W/build.log"

# The image as a runtime sees it: the tag, two layers, the config.
oci=$out/image/oci
check "tag dpm:$version in the OCI layout" grep -q "\"org.opencontainers.image.ref.name\":\"$version\"" "$oci/index.json"
bundle=$W/bundle
if umoci unpack --image "$oci:$version" "$bundle" >"$W/unpack.log" 2>&1; then ok "umoci unpack"; else fail "umoci unpack" "$(tail -5 "$W/unpack.log")"; finish; fi
cfg=$(tr -d ' \t\n' <"$bundle/config.json")
check "runs as UID/GID 65532" grep -q '"user":{"uid":65532,"gid":65532}' <<<"$cfg"
check 'ENTRYPOINT ["dpm"], no CMD' grep -q '"args":\["dpm"\]' <<<"$cfg"
root=$bundle/rootfs
check "no shell, no package manager in the image" bash -c "! ls '$root'/bin/sh '$root'/usr/bin/sh '$root'/usr/bin/apt '$root'/usr/bin/dpkg 2>/dev/null | grep ."
ncert=$(grep -c 'BEGIN CERTIFICATE' "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null)
check "the CA bundle holds Debian's certificates ($ncert)" test "${ncert:-0}" -gt 100
check "UID 65532 is nonroot in /etc/passwd" grep -q '^nonroot:x:65532:65532:' "$root/etc/passwd"

# in_image CMD...: CMD inside the image's root filesystem, as the image's
# user, with its PATH and HOME only.
# env and chroot exec, so a command started with & has dpm's own pid (the
# cleanup kills it by that pid).
image_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/nonroot)
chroot=$(command -v chroot)
in_image() { "${image_env[@]}" "$chroot" --userspec=65532:65532 "$root" "$@"; }
mkdir -p "$root/tmp/examples"
cp -r examples/dataproducts examples/invalid examples/policies "$root/tmp/examples/"
chmod -R a+rX "$root/tmp/examples"

in_image dpm --version >"$W/version.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "$version" "$W/version.out"; then ok "dpm --version in the image ($(head -1 "$W/version.out"))"
else fail "dpm --version in the image" "exit $rc" "$(cat "$W/version.out")"; fi

in_image dpm validate -p /tmp/examples/policies/gdpr-baseline.yaml /tmp/examples/dataproducts/merchants.yaml >"$W/v0.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'merchant-core/merchants: accepted' "$W/v0.out"; then ok "dpm validate admits an example in the image"
else fail "dpm validate admits an example in the image" "exit $rc" "$(cat "$W/v0.out")"; fi
in_image dpm validate -p /tmp/examples/policies/gdpr-baseline.yaml /tmp/examples/invalid/untagged-pii-outside-eu.yaml >"$W/v1.out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q 'gdpr-baseline/eu-residency' "$W/v1.out" && grep -q 'gdpr-baseline/pii-tagged' "$W/v1.out"; then
    ok "dpm validate rejects a product with its policy reasons in the image"
else fail "dpm validate rejects a product with its policy reasons in the image" "exit $rc" "$(cat "$W/v1.out")"; fi

# OpenSSL at run time: dpm certs, then dpm webhook serving TLS 1.2+ with them.
if in_image dpm certs --service dpm-webhook --namespace dpm-system --out /tmp/certs --ip 127.0.0.1 >"$W/certs.out" 2>&1; then
    ok "dpm certs in the image"
else fail "dpm certs in the image" "$(cat "$W/certs.out")"; fi
exec_in_image=("${image_env[@]}" "$chroot" --userspec=65532:65532 "$root")
"${exec_in_image[@]}" dpm webhook --cert-dir /tmp/certs --listen 127.0.0.1:0 -p /tmp/examples/policies/gdpr-baseline.yaml \
    >"$W/webhook.out" 2>"$W/webhook.err" &
wh_pid=$!
pids+=($wh_pid)
for _ in $(seq 100); do grep -q '^ready ' "$W/webhook.out" && break; sleep 0.1; done
wh=$(sed -n 's/^ready //p' "$W/webhook.out" | head -1)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$root/tmp/certs/ca.crt" "${wh:-https://127.0.0.1:1}/readyz")
if [ "$code" = 200 ]; then ok "dpm webhook in the image serves TLS (/readyz 200 at $wh)"
else fail "dpm webhook in the image serves TLS" "readyz: $code" "$(tail -5 "$W/webhook.err")"; fi

# libcurl at run time: dpm operator against the in-tree API server over TLS.
if [ -x "$BUILD/dpm-test-apiserver" ] && command -v kubectl >/dev/null; then
    "$BUILD/dpm-test-apiserver" --dir "$W/apiserver" --port 0 >"$W/apiserver.out" 2>"$W/apiserver.err" &
    pids+=($!)
    for _ in $(seq 100); do grep -q '^ready ' "$W/apiserver.out" && break; sleep 0.1; done
    KUBECONFIG=$W/apiserver/admin.kubeconfig timeout 30 kubectl apply -f crds/ >"$W/crds.out" 2>&1
    install -m 0644 "$W/apiserver/admin.kubeconfig" "$root/tmp/kubeconfig"
    "${exec_in_image[@]}" dpm operator --kubeconfig /tmp/kubeconfig --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 \
        --spark-operator never >"$W/operator.out" 2>"$W/operator.err" &
    op_pid=$!
    pids+=($op_pid)
    for _ in $(seq 150); do grep -q '^ready' "$W/operator.out" && break; sleep 0.1; done
    port=$(sed -n 's/^health-port //p' "$W/operator.out")
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port:-1}/readyz")
    if [ "$code" = 200 ]; then ok "dpm operator in the image lists the cluster over TLS (/readyz 200)"
    else fail "dpm operator in the image lists the cluster over TLS" "readyz: $code" "$(tail -5 "$W/operator.err")"; fi
else
    fail "dpm operator in the image" "$BUILD/dpm-test-apiserver or kubectl missing"
fi

# SIGTERM, as the kubelet sends it: both exit 0 within 5 s.
for name in wh_pid op_pid; do
    p=${!name:-}
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null
    rc=timeout
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || { wait "$p"; rc=$?; break; }; sleep 0.1; done
    check "${name%_pid} in the image exits 0 on SIGTERM within 5 s" test "$rc" = 0
done

# The check above can fail: the same root filesystem without one of the
# libraries refuses to start dpm.
cp -a "$root" "$W/broken"
rm -f "$W"/broken/usr/lib/x86_64-linux-gnu/libjansson.so.4*
env -i PATH=/usr/local/bin "$chroot" --userspec=65532:65532 "$W/broken" dpm --version >"$W/broken.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q 'libjansson.so.4' "$W/broken.out"; then ok "a root filesystem missing libjansson fails dpm --version"
else fail "a root filesystem missing libjansson fails dpm --version" "exit $rc" "$(cat "$W/broken.out")"; fi

# The Dockerfile builds the same image: same package list, user, entrypoint,
# and it copies every source directory the Makefile compiles.
check "Dockerfile: runtime packages from image/runtime-packages" grep -q 'COPY image/runtime-packages' Dockerfile
check "Dockerfile: USER 65532:65532" grep -qx 'USER 65532:65532' Dockerfile
check 'Dockerfile: ENTRYPOINT ["dpm"]' grep -qx 'ENTRYPOINT \["dpm"\]' Dockerfile
missing=""
for d in include $(sed -n 's/^\(LIB_SRC\|DPM_SRC\) := \$(wildcard \(.*\))$/\2/p' Makefile | tr ' ' '\n' | cut -d/ -f1 | sort -u); do
    grep -q "^COPY $d " Dockerfile || missing="$missing $d"
done
check "Dockerfile: copies every source directory the Makefile compiles" test -z "$missing"
[ -n "$missing" ] && echo "    not copied:$missing"
sed -n 's/^compressed layers: /# image size: /p' "$W/build.log"
finish
