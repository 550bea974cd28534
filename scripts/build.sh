#!/usr/bin/env bash
# Setup (scripts/setup.sh), configure and build zili into build/. Idempotent: a second
# run only rebuilds what changed. Extra arguments go to CMake, e.g. -DZILI_CUDA=OFF.
#   scripts/build.sh [--build-dir DIR] [cmake args...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/env.sh"
build_dir="$root/build"
if [ "${1:-}" = "--build-dir" ]; then build_dir=$2; shift 2; fi

"$root/scripts/setup.sh"

torch_prefix=$("$ZILI_VENV/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
# Configure on the first run, when CMake arguments are given, and when the venv changed
# (a new pin in requirements.txt means a new venv, so a new torch and Python).
cached_python=$(sed -n 's/^ZILI_PYTHON:FILEPATH=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
if [ ! -f "$build_dir/build.ninja" ] || [ $# -gt 0 ] || [ "$cached_python" != "$ZILI_VENV/bin/python" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix" -DTorch_DIR="$torch_prefix/Torch" \
    -DZILI_PYTHON="$ZILI_VENV/bin/python" "$@"
fi
jobs=$(nproc)
cmake --build "$build_dir" -j "$jobs"
