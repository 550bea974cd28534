#!/usr/bin/env bash
# Setup (scripts/setup.sh), configure and build zili. Idempotent: a second run only rebuilds
# what changed. Extra arguments go to CMake.
#   scripts/build.sh [--cuda | --fuzz] [--build-dir DIR] [cmake args...]
# build/ is the CPU build (ZILI_CUDA=OFF: only libtorch's CPU libraries are linked).
# --cuda builds build-cuda/ with ZILI_CUDA=ON: the fused kernels compiled by nvcc, zili linked
# to libtorch's CUDA libraries; it builds zili and the GPU tests (ctest -L gpu there), which
# needs nvcc but no GPU.
# --fuzz builds build-fuzz/ with clang-14, ZILI_FUZZ=ON and ZILI_SANITIZE=address,undefined:
# only the libFuzzer targets of tests/fuzz (scripts/fuzz.sh runs them).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/env.sh"
cuda=OFF
fuzz=OFF
build_dir="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) cuda=ON; build_dir="$root/build-cuda"; shift ;;
    --fuzz) fuzz=ON; build_dir="$root/build-fuzz"; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    *) break ;;
  esac
done

"$root/scripts/setup.sh"

torch_prefix=$("$ZILI_VENV/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
# Configure on the first run, when CMake arguments are given, when the venv changed (a new pin
# in requirements.txt means a new venv, so a new torch and Python), and when the tree was
# configured for the other ZILI_CUDA.
cached() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" 2>/dev/null || true; }
if [ ! -f "$build_dir/build.ninja" ] || [ $# -gt 0 ] ||
  [ "$(cached ZILI_PYTHON)" != "$ZILI_VENV/bin/python" ] ||
  [ "$(cached ZILI_CUDA)" != "$cuda" ] || [ "$(cached ZILI_FUZZ)" != "$fuzz" ]; then
  fuzz_args=()
  if [ "$fuzz" = ON ]; then
    fuzz_args=(-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DZILI_FUZZ=ON
      -DZILI_SANITIZE=address,undefined -DZILI_BUILD_TESTS=OFF)
  fi
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix" -DTorch_DIR="$torch_prefix/Torch" \
    -DZILI_PYTHON="$ZILI_VENV/bin/python" -DZILI_CUDA="$cuda" "${fuzz_args[@]}" "$@"
fi
targets=()
if [ "$cuda" = ON ]; then targets=(--target zili zili-bench zili_gpu_tests); fi
if [ "$fuzz" = ON ]; then targets=(--target zili_fuzz_targets); fi
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
