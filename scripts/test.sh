#!/usr/bin/env bash
# Setup, build, then run every CPU test through ctest (tiers: unit, e2e, peer; gpu tests
# skip with a message where no GPU is present).
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" "$@"
