// SwiGLU, the gated activation of the Llama MLP, as a function: the reference in plain libtorch
// ops (the CPU path, and the GPU path with --no-fused), the fused CUDA kernels
// (kernels/swiglu.h) under autograd, and the dispatch between them that MLPImpl calls.
#pragma once

#include <torch/torch.h>

namespace zili::model {

// h = silu(gate) * up, silu(g) = g * sigmoid(g). gate, up [..., F] -> h [..., F]. Exactly
// torch::silu(gate) * up, the model's ops from before the kernels, bit for bit.
torch::Tensor swiglu_reference(const torch::Tensor& gate, const torch::Tensor& up);

// The same through the fused kernels: the forward in one kernel, the gradients of gate and up
// together in one more, from the saved gate and up (the reference's autograd keeps silu(gate)
// besides them: one [..., F] activation more per layer). Needs a build with kernels, gate and
// up on CUDA with the same sizes and dtype, float32, bfloat16 or float16 (made contiguous).
torch::Tensor swiglu_fused(const torch::Tensor& gate, const torch::Tensor& up);

// swiglu_fused when use_fused_kernels(gate), its dtype has a kernel and up matches it in sizes,
// dtype and device; else the reference (on the CPU always).
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

// GeGLU of Gemma: h = gelu_tanh(gate) * up with gelu_tanh(g) = g/2 (1 + tanh(sqrt(2/pi)
// (g + 0.044715 g^3))), transformers' gelu_pytorch_tanh. Plain ops on every device (no
// fused kernel yet). gate, up [..., F] -> h [..., F].
torch::Tensor geglu_tanh(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace zili::model
