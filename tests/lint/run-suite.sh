#!/usr/bin/env bash
# Checks of the tree itself (no build needed): lib/'s families include only
# what comes before them (layers.py).
#   tests/lint/run-suite.sh [BUILD]
# Prints "ok NAME" / "FAIL NAME: reason" lines and "N passed, N failed" last.
set -u
cd "$(dirname "$0")/../.."
python3 tests/lint/layers.py .
