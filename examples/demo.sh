#!/usr/bin/env bash
# make demo: shows what dpm does, with the binaries of BUILD (default build).
# Until the webhook and the operator land, the demo runs the offline CLI over
# examples/: the admission checks exactly as the webhook will run them.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
dpm=$build/dpm
bold=$(tput bold 2>/dev/null || true); off=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$bold" "$*" "$off"; "$@"; echo "(exit $?)"; }

step "A canonical DataProduct and the product it depends on, under the GDPR baseline: admitted"
run "$dpm" validate -p examples/policies/gdpr-baseline.yaml \
    examples/dataproducts/payment-transactions-enriched.yaml examples/dataproducts/merchants.yaml

step "A broken contract: rejected, with every reason"
run "$dpm" validate examples/invalid/broken-contract.yaml

step "A well-formed product that breaks the GDPR baseline: rejected by policy"
run "$dpm" validate -p examples/policies/gdpr-baseline.yaml examples/invalid/untagged-pii-outside-eu.yaml

step "An UPDATE that breaks the schema's readers: rejected by the compatibility check"
run "$dpm" validate --old examples/dataproducts/payment-transactions-enriched.yaml \
    examples/update/payment-transactions-enriched-v2-breaking.yaml

step "The seed's manifest (metadata.domain/owner) is rejected; dpm convert makes it canonical"
run "$dpm" validate examples/seed/payment-transactions-enriched.yaml
run "$dpm" convert examples/seed/payment-transactions-enriched.yaml
printf '%s$ dpm convert ... | dpm validate -%s\n' "$bold" "$off"
"$dpm" convert examples/seed/payment-transactions-enriched.yaml | "$dpm" validate -; echo "(exit $?)"

step "The mesh's lineage (DOT; -f svg renders it with Graphviz)"
run "$dpm" lineage examples/dataproducts/*.yaml
