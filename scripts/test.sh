#!/usr/bin/env bash
# Setup and build (scripts/build.sh), then the CUDA build (scripts/build.sh --cuda: the kernels
# compiled with nvcc, zili and the GPU tests linked) and its GPU tier, ctest -L gpu in
# build-cuda/, whose tests skip with a message where no GPU is present; then `bench/run.sh
# --smoke` and the fuzz targets for a few seconds each (scripts/fuzz.sh); last, every CPU test
# through ctest in build/ (tiers: unit, e2e, peer). Without nvcc the CUDA build is left out,
# with a message; with ctest arguments, the smoke and fuzz runs too.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit (args go to build/'s ctest)
#   scripts/test.sh --sanitize [ctest args...]
#       builds build-asan/ with ZILI_SANITIZE=address,undefined (gcc's ASan and UBSan) and runs
#       the unit and e2e tiers there; any sanitizer report fails the test it comes from.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${1:-}" = --sanitize ]; then
  shift
  "$root/scripts/build.sh" --build-dir "$root/build-asan" -DZILI_SANITIZE=address,undefined
  # UBSan stops at its first report, as ASan does; LeakSanitizer is off: libtorch and
  # sentencepiece keep their global state until exit by design. A report exits 97 (UBSan) or
  # 98 (ASan), never 1, so that a command an e2e test expects to fail (exit 1 and one line on
  # stderr) fails that test too.
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=97
  export ASAN_OPTIONS=detect_leaks=0:exitcode=98
  cd "$root/build-asan" && exec ctest --output-on-failure -j "$(nproc)" -L "unit|e2e" "$@"
fi
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
# The parsers' fuzz targets over their seed corpora, so that they stay built and clean.
if [ $# -eq 0 ]; then "$root/scripts/fuzz.sh" --seconds 5 || status=$?; fi
(cd "$root/build" && ctest --output-on-failure -j "$(nproc)" "$@") || status=$?
exit "$status"
