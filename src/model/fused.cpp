// The process-wide switch between the fused CUDA kernels and the plain-libtorch references.
#include "model/fused.h"

#include <atomic>

namespace zili::model {
namespace {
std::atomic<bool> enabled{true};
}  // namespace

bool fused_kernels_built() {
#ifdef ZILI_HAS_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

void set_fused_kernels_enabled(bool on) {
  enabled = on;
}

bool fused_kernels_enabled() {
  return fused_kernels_built() && enabled;
}

bool use_fused_kernels(const torch::Tensor& x) {
  return fused_kernels_enabled() && x.is_cuda();
}

}  // namespace zili::model
