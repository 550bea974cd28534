// Where the model runs: --device auto|cpu|cuda|cuda:N, checked against this binary (a CPU
// build links no CUDA) and this machine (how many GPUs it has), and the switch between the
// fused CUDA kernels and their plain-libtorch references (--no-fused).
#pragma once

#include <string>

#include <torch/torch.h>

namespace zili::model {

// "auto": the first GPU when this binary has CUDA and the machine a GPU, else the CPU.
// "cpu", "cuda" (GPU 0) and "cuda:N". Anything else, or a GPU that is not there, is one
// zili::Error naming `flag_name` and what to do.
torch::Device resolve_device(const std::string& value, const std::string& flag_name = "--device");

// The activations' dtype for weights stored as `storage` on `device`: on a GPU, bf16 and f16
// weights compute in their own dtype, as transformers does with a torch_dtype (norms, softmax
// and the log-probs still accumulate in fp32; LoRA's A and B stay fp32 masters); on the CPU
// everything computes in fp32, whatever the storage (float64 stays float64).
c10::ScalarType compute_dtype_for(torch::Device device, c10::ScalarType storage);

// For the log: "cpu" or "cuda:0 (NVIDIA H200, 139.8 GiB), fused kernels on".
std::string describe_device(torch::Device device);

}  // namespace zili::model
