#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU, nvcc and a CUDA libtorch (a pip torch in
# python3, or the one ZILI_PYTHON names), build zili with the fused kernels for this GPU's
# architecture, run the GPU tests (each fused op against its reference), time the fused ops
# and a DPO step of a Llama-7B-shaped model fused and --no-fused, and write one Markdown
# report. Needs no network: where the machine has no Debian packages, the C++ libraries come
# from .deps/ (made by scripts/bundle-deps.sh on a machine that has them, carried along).
#   scripts/gpu-check.sh [--build-dir DIR] [--report FILE] [--quick]
# --quick: the DPO step at the `1b` shape, seq 512, instead of 7b at 1024.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build-gpu"
report="$root/gpu-check.md"
quick=no
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    --quick) quick=yes; shift ;;
    *) echo "gpu-check.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
python=${ZILI_PYTHON:-python3}
# torch images often set TORCH_CUDA_ARCH_LIST, which would win over the architecture below.
unset TORCH_CUDA_ARCH_LIST
say() { echo "gpu-check: $*" >&2; }
die() { say "$*"; exit 1; }

command -v nvidia-smi >/dev/null || die "no nvidia-smi: this machine has no NVIDIA driver"
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || die "no nvcc on PATH or in /usr/local/cuda/bin: install the CUDA toolkit"
torch_prefix=$("$python" -c 'import torch, torch.utils; assert torch.version.cuda, "CPU-only torch"; print(torch.utils.cmake_prefix_path)') \
  || die "$python has no CUDA torch: point ZILI_PYTHON at a python whose torch has CUDA"
# The GPU's compute capability, "9.0" -> 90: the kernels are compiled for it alone.
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
[[ "$arch" =~ ^[0-9]+$ ]] || die "nvidia-smi gave no compute capability ('$arch')"
say "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1), sm_$arch; torch $("$python" -c 'import torch; print(torch.__version__)')"

start=$(date +%s)
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DCMAKE_CUDA_COMPILER="$nvcc" -DZILI_CUDA=ON \
  -DZILI_CUDA_ARCHITECTURES="$arch" >"$build_dir.configure.log" 2>&1 \
  || { tail -30 "$build_dir.configure.log" >&2; die "configure failed (log: $build_dir.configure.log)"; }
cmake --build "$build_dir" -j "$(nproc)" --target zili zili-bench zili_gpu_tests \
  >"$build_dir.build.log" 2>&1 \
  || { grep -E "error|FAILED" "$build_dir.build.log" | head -30 >&2; die "build failed (log: $build_dir.build.log)"; }
say "built in $(( $(date +%s) - start )) s"

results="$build_dir/gpu-check.jsonl"
tests_log="$build_dir/gpu-tests.log"
: >"$results"
status=0
(cd "$build_dir" && ctest -V -L gpu) >"$tests_log" 2>&1 || status=$?
grep -E "^[0-9]+: (All tests passed|test cases:)|Test +#|tests passed|FAILED|failed" "$tests_log" >&2 || true

bench="$build_dir/zili-bench"
shape=7b seq=1024
if [ "$quick" = yes ]; then shape=1b seq=512; fi
for dtype in bf16 f32; do "$bench" gemm --device cuda --dtype "$dtype" >>"$results" || status=1; done
for dtype in bf16 f32; do "$bench" ops --device cuda --dtype "$dtype" >>"$results" || status=1; done
for fused in "" --no-fused; do
  "$bench" dpo-step --device cuda --shape "$shape" --seq "$seq" --pairs 2 --lora-r 16 \
    --dtype bf16 --warmup 2 --steps 5 $fused >>"$results" || status=1
done
"$python" "$root/bench/gpu_table.py" --results "$results" --tests-log "$tests_log" \
  --python "$python" --nvcc "$nvcc" \
  --command "scripts/gpu-check.sh $([ "$quick" = yes ] && echo --quick)" >"$report"
cat "$report"
say "report: $report; $(( $(date +%s) - start )) s in all"
exit "$status"
