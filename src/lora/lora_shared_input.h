// LoRA layers that read the same input run as one: attention's q/k/v projections and the MLP's
// gate/up (each computed from the same normed hidden state). For i = 1..k,
//   y_i = x W_i^T + b_i + s_i (x A_i^T) B_i^T,   A_i [r_i, in], B_i [out_i, r_i] fp32
// with the k low-rank down-projections done as one product x A_cat^T, A_cat = [A_1; ...; A_k]
// [R, in], R = Σ r_i; and in the backward one (s gB)_cat A_cat for their share of dX and one
// (s gB)_cat^T x for every dA_i. x [N, in] is read twice by the low-rank paths instead of 2k
// times, and dX is one [N, in] tensor instead of k that autograd adds up.
// Without dropout only: PEFT gives every layer its own dropout draw, so the x_drop_i differ.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace zili::lora {

// The k outputs y_i [..., out_i] in order. x [..., in] in the compute dtype; weights[i]
// [out_i, in] any float dtype (cast to x's), biases[i] [out_i] or undefined; lora_as[i]
// [r_i, in], lora_bs[i] [out_i, r_i] (cast to x's dtype for the math); scales[i] = s_i.
// Gradients flow to x and every A_i and B_i (W and b are frozen); dA_i and dB_i come back in
// the dtype of A_i and B_i. The same values as k lora_linear calls, up to rounding.
std::vector<torch::Tensor> lora_linear_shared_input(const torch::Tensor& x,
                                                    const std::vector<torch::Tensor>& weights,
                                                    const std::vector<torch::Tensor>& biases,
                                                    const std::vector<torch::Tensor>& lora_as,
                                                    const std::vector<torch::Tensor>& lora_bs,
                                                    const std::vector<double>& scales);

}  // namespace zili::lora
