// RoPE frequencies (default, linear, llama3) and their application to q and k.
#include "model/rope.h"

#include <cmath>

namespace zili::model {

torch::Tensor rope_inverse_frequencies(const ModelConfig& config) {
  const int64_t D = config.head_dim;
  // Computed in float32 as transformers does, so the angles agree to the last bit or so.
  torch::Tensor exponent = torch::arange(0, D, 2, torch::kInt64).to(torch::kFloat32) / D;
  torch::Tensor inv_freq = 1.0 / torch::pow(config.rope_theta, exponent);
  const RopeScaling& scaling = config.rope_scaling;
  if (scaling.type == "linear") return inv_freq / scaling.factor;
  if (scaling.type != "llama3") return inv_freq;

  const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / scaling.low_freq_factor;
  const double high_freq_wavelen = old_context / scaling.high_freq_factor;
  torch::Tensor wavelen = 2 * M_PI / inv_freq;
  torch::Tensor scaled =
      torch::where(wavelen > low_freq_wavelen, inv_freq / scaling.factor, inv_freq);
  torch::Tensor smooth = (old_context / wavelen - scaling.low_freq_factor) /
                         (scaling.high_freq_factor - scaling.low_freq_factor);
  torch::Tensor smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled;
  torch::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return torch::where(is_medium, smoothed, scaled);
}

Rope::Rope(const ModelConfig& config) : inv_freq_(rope_inverse_frequencies(config)) {}

std::pair<torch::Tensor, torch::Tensor> Rope::cos_sin(const torch::Tensor& positions,
                                                      c10::ScalarType dtype) const {
  // freqs [B, T, D/2] = positions[..., None] * inv_freq; angles [B, T, D] = [freqs, freqs]
  const auto wide = torch::promote_types(dtype, torch::kFloat32);
  torch::Tensor inv_freq = inv_freq_.to(positions.device(), wide);
  torch::Tensor freqs = positions.unsqueeze(-1).to(wide) * inv_freq;
  torch::Tensor angles = torch::cat({freqs, freqs}, -1);
  return {angles.cos(), angles.sin()};
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor x1 = x.narrow(-1, 0, half);
  torch::Tensor x2 = x.narrow(-1, half, half);
  torch::Tensor rotated = torch::cat({-x2, x1}, -1);
  // cos/sin [B, T, D] -> [B, 1, T, D] to broadcast over heads.
  torch::Tensor c = cos.unsqueeze(1).to(x.scalar_type());
  torch::Tensor s = sin.unsqueeze(1).to(x.scalar_type());
  return x * c + rotated * s;
}

}  // namespace zili::model
