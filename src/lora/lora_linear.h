// The LoRA linear layer: a frozen base weight W [out, in] plus a trainable low-rank update,
//   y = x W^T + b + s * (dropout(x) A^T) B^T,   A [r, in], B [out, r] in fp32, s = alpha / r
// (alpha / sqrt(r) with rsLoRA). Its gradient is a custom autograd function that never forms
// an [out, in] product and never computes a gradient for W.
#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "model/llama.h"

namespace zili::lora {

// Checks the shapes of one call: x [..., in], W [out, in], b [out] or undefined, A [r, in],
// B [out, r], mask like x or undefined; a c10::Error with expected and actual sizes otherwise.
void check_lora_linear_shapes(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, const torch::Tensor& lora_a,
                              const torch::Tensor& lora_b, const torch::Tensor& dropout_mask);

// y [..., out] = x W^T + b + scale * (x_drop A^T) B^T, where x_drop = x * dropout_mask when a
// mask is given (its entries are 0 or 1/(1-p), shape of x), else x.
// x [..., in] in the compute dtype; W [out, in] any float dtype (cast to x's), bias [out] or
// undefined; A [r, in], B [out, r] fp32 (cast to x's dtype for the math).
// Gradients flow to x, A and B only (W and b are frozen).
torch::Tensor lora_linear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, const torch::Tensor& lora_a,
                          const torch::Tensor& lora_b, double scale,
                          const torch::Tensor& dropout_mask = {});

// lora_linear with LoRA dropout drawn inside: mask entries 0 (probability p) or 1/(1-p), shape
// of x. No mask tensor lives from the forward to the backward ([..., in] per wrapped layer
// saved). Where the fused kernels run (lora::hashed_dropout_fused(x): CUDA), the mask is a hash
// of the element index and a seed drawn from the CPU's generator (hashed_dropout.h), applied by
// a kernel and applied again in the backward from the seed; the CUDA generator is not touched.
// Elsewhere it is drawn by bernoulli_ from the default generator of x's device (the same draw
// as empty_like(x).bernoulli_(1 - p).div_(1 - p) before the call), and the backward draws it
// again from the generator state taken before the forward's draw. 0 <= p < 1; p = 0 is
// lora_linear without a mask.
torch::Tensor lora_linear_with_dropout(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias, const torch::Tensor& lora_a,
                                       const torch::Tensor& lora_b, double scale, double p);

// The same in plain libtorch ops under autograd: the reference the custom backward is
// checked against.
torch::Tensor lora_linear_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias, const torch::Tensor& lora_a,
                                    const torch::Tensor& lora_b, double scale,
                                    const torch::Tensor& dropout_mask = {});

// What LoRA plugs into a model Linear (model::LinearAdapter).
class LoraAdapter : public model::LinearAdapter {
 public:
  // A [r, in] and B [out, r] start as given (fp32, requires_grad set by the caller).
  LoraAdapter(torch::Tensor lora_a, torch::Tensor lora_b, double scale, double dropout);
  torch::Tensor forward(const model::LinearImpl& base, const torch::Tensor& x) override;
  // Layers that all carry enabled LoraAdapters and draw no dropout (not training, or p = 0) run
  // as one lora_linear_shared_input call; otherwise empty (each runs alone).
  std::vector<torch::Tensor> forward_group(const std::vector<const model::LinearImpl*>& layers,
                                           const torch::Tensor& x) override;

  torch::Tensor lora_a;  // [r, in] fp32
  torch::Tensor lora_b;  // [out, r] fp32
  double scale;
  double dropout;
  bool enabled = true;    // off: the base layer's output, bit for bit
  bool training = false;  // dropout only while training
};

}  // namespace zili::lora
