// The hashed LoRA dropout mask in plain libtorch ops (int64 tensors holding uint32 values), and
// the dispatch to the fused kernels.
#include "lora/hashed_dropout.h"

#include <cmath>
#include <mutex>

#include <ATen/CPUGeneratorImpl.h>

#include "model/fused.h"

#ifdef ZILI_HAS_CUDA_KERNELS
#include "kernels/element_type.cuh"
#include "kernels/lora_dropout.h"
#endif

namespace zili::lora {
namespace {

constexpr int64_t kLow32 = 0xffffffffLL;

// (v c) mod 2^32 for int64 tensors v and a constant c, both below 2^32, without leaving int64:
// v c = v c_lo + v c_hi 2^16 (c_lo, c_hi its 16-bit halves), and (v c_hi 2^16) mod 2^32 =
// ((v c_hi) mod 2^16) 2^16; every product stays below 2^48.
torch::Tensor mul_mod32(const torch::Tensor& v, int64_t c) {
  const torch::Tensor low = v * (c & 0xffff);
  const torch::Tensor high = (v * (c >> 16)).bitwise_and_(0xffff).bitwise_left_shift_(16);
  return (low + high).bitwise_and_(kLow32);
}

// lowbias32 on int64 tensors of uint32 values (the formula in kernels/lora_dropout.h).
torch::Tensor mix32(torch::Tensor v) {
  v = v.bitwise_xor(v.bitwise_right_shift(16));
  v = mul_mod32(v, 0x7feb352dLL);
  v = v.bitwise_xor(v.bitwise_right_shift(15));
  v = mul_mod32(v, 0x846ca68bLL);
  return v.bitwise_xor(v.bitwise_right_shift(16));
}

}  // namespace

torch::Tensor hashed_dropout_keep(const torch::Tensor& indices, uint64_t seed, double p) {
  TORCH_CHECK(p >= 0 && p < 1, "hashed_dropout: p expected in [0, 1), got ", p);
  TORCH_CHECK(indices.scalar_type() == torch::kInt64,
              "hashed_dropout_keep: indices expected int64, got ", indices.scalar_type());
  const auto seed_low = static_cast<int64_t>(seed & 0xffffffffULL);
  const auto seed_high = static_cast<int64_t>(seed >> 32);
  const torch::Tensor low = indices.bitwise_and(kLow32), high = indices.bitwise_right_shift(32);
  // h_i = mix(mix(lo(i) ^ lo(seed)) ^ hi(seed) ^ hi(i))
  const torch::Tensor h =
      mix32(mix32(low.bitwise_xor(seed_low)).bitwise_xor(seed_high).bitwise_xor(high));
  const auto threshold = static_cast<int64_t>(std::llround(p * 16777216.0));  // round(p 2^24)
  return h.bitwise_right_shift(8).ge(threshold);
}

torch::Tensor hashed_dropout_mask(at::IntArrayRef sizes, uint64_t seed, double p,
                                  const torch::TensorOptions& options) {
  const torch::Tensor indices =
      torch::arange(c10::multiply_integers(sizes), options.dtype(torch::kInt64)).view(sizes);
  const double scale = static_cast<float>(1.0 / (1.0 - p));  // rounded to float32 first
  return hashed_dropout_keep(indices, seed, p).to(options.dtype()).mul_(scale);
}

bool hashed_dropout_fused(const torch::Tensor& x) {
#ifdef ZILI_HAS_CUDA_KERNELS
  return model::use_fused_kernels(x) && kernels::is_kernel_dtype(x.scalar_type());
#else
  (void)x;
  return false;
#endif
}

torch::Tensor hashed_dropout(const torch::Tensor& x, uint64_t seed, double p) {
#ifdef ZILI_HAS_CUDA_KERNELS
  if (hashed_dropout_fused(x)) return kernels::lora_dropout(x, seed, p);
#endif
  return x * hashed_dropout_mask(x.sizes(), seed, p, x.options());
}

void hashed_dropout_accumulate(torch::Tensor& dx, const torch::Tensor& t, uint64_t seed, double p) {
#ifdef ZILI_HAS_CUDA_KERNELS
  if (hashed_dropout_fused(dx)) return kernels::lora_dropout_accumulate(dx, t, seed, p);
#endif
  dx.addcmul_(t, hashed_dropout_mask(dx.sizes(), seed, p, dx.options()));
}

uint64_t draw_dropout_seed() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

}  // namespace zili::lora
