#!/usr/bin/env bash
# The e2e suite against the in-tree API server acting as Kubernetes 1.20
# (--emulate-version 1.20): the scenarios read the server's version and
# expect what 1.20 does, as they do against the real v1.20.2 of
# `make e2e-real` (docs/real-cluster.md).
#   tests/e2e/run-suite-emulate-1.20.sh BUILD [SCENARIO...]
# Output as tests/e2e/run-suite.sh: ok/FAIL/skip lines, "N passed, N failed".
cd "$(dirname "$0")/../.."
# always the in-tree server, whatever KUBECONFIG the caller has
unset KUBECONFIG E2E_CLUSTER_DIR
E2E_EMULATE=1.20 exec tests/e2e/run-suite.sh "$@"
