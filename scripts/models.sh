#!/usr/bin/env bash
# models.sh runs the spin models of alloc/model with their full bounds and
# the witness runs, on top of the bounded checks that the test matrix runs.
# It takes minutes and a few GB of memory; run it after changing a
# lock-free protocol or its model.
#
# Usage: bash scripts/models.sh [REGEXP]
#   REGEXP selects checks by name (go test -run TestModels/REGEXP), e.g.
#   "pinned" or "witness/slabfree".
set -euo pipefail

cd "$(dirname "$0")/.."

export PATH=$PATH:/usr/local/go/bin
if ! command -v spin >/dev/null; then
	echo "models.sh: spin not found on PATH (Debian: apt-get install spin)" >&2
	exit 1
fi
GOSLUB_MODELS=full exec go test -count=1 -timeout 0 -v -run "TestModels/${1:-}" ./alloc/model
