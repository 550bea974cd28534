#!/usr/bin/env bash
# Setup and build (scripts/build.sh), then the CUDA build (scripts/build.sh --cuda: the kernels
# compiled with nvcc, zili and the GPU tests linked) and its GPU tier, ctest -L gpu in
# build-cuda/, whose tests skip with a message where no GPU is present; then `bench/run.sh
# --smoke`; last, every CPU test through ctest in build/ (tiers: unit, e2e, peer). Without
# nvcc the CUDA build is left out, with a message; with ctest arguments, the smoke run too.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit (args go to build/'s ctest)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
cuda_build=yes
if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  cuda_build=no
  echo "test.sh: no nvcc (PATH, /usr/local/cuda/bin): the CUDA build (build-cuda/) is left out" >&2
fi
if [ "$cuda_build" = yes ]; then "$root/scripts/build.sh" --cuda; fi

status=0
if [ "$cuda_build" = yes ]; then
  # -V: a skipped test's reason (no GPU) and a passing one's summary are printed too. The GPU
  # tier runs first so that the last summary printed is the CPU tiers' (on a machine without a
  # GPU the GPU tier's says only "skipped").
  (cd "$root/build-cuda" && ctest -V -L gpu) || status=$?
fi
# The benchmark on the tiny preset, so that it and its TRL baseline cannot rot (it also fails
# where zili's and TRL's first steps disagree); its figures mean nothing at this size.
if [ $# -eq 0 ]; then "$root/bench/run.sh" --smoke || status=$?; fi
(cd "$root/build" && ctest --output-on-failure -j "$(nproc)" "$@") || status=$?
exit "$status"
