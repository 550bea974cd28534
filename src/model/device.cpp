// --device: parsing, the checks against the binary and the machine, and the log line.
#include "model/device.h"

#include <fmt/format.h>

#include "model/fused.h"
#include "util/error.h"

#ifdef ZILI_HAS_CUDA_KERNELS
#include "kernels/cuda_info.h"
#endif

namespace zili::model {
namespace {

// The GPU count, or the reason there is none.
int64_t gpu_count() {
  return torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
}

std::string no_gpu_reason() {
  return fused_kernels_built()
             ? "no CUDA GPU is visible to it (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
             : "this zili is the CPU build (build-cuda/zili, from scripts/build.sh --cuda, "
               "runs on GPUs)";
}

}  // namespace

torch::Device resolve_device(const std::string& value, const std::string& flag_name) {
  if (value == "cpu") return torch::kCPU;
  if (value == "auto") return gpu_count() > 0 ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  int64_t index = -1;
  if (value == "cuda") {
    index = 0;
  } else if (value.rfind("cuda:", 0) == 0 && value.size() > 5 && value.size() <= 8 &&
             value.find_first_not_of("0123456789", 5) == std::string::npos) {
    index = std::stoll(value.substr(5));
  } else {
    fail("{} {}: expected auto, cpu, cuda or cuda:N", flag_name, value);
  }
  const int64_t count = gpu_count();
  if (count == 0) fail("{} {}: {}; use --device cpu", flag_name, value, no_gpu_reason());
  if (index >= count)
    fail("{} {}: this machine has {} GPU{} (cuda:0{}); choose one of them", flag_name, value, count,
         count == 1 ? "" : "s", count == 1 ? "" : fmt::format(" to cuda:{}", count - 1));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

c10::ScalarType compute_dtype_for(torch::Device device, c10::ScalarType storage) {
  if (storage == torch::kFloat64) return torch::kFloat64;
  if (device.is_cuda() && (storage == torch::kBFloat16 || storage == torch::kFloat16))
    return storage;
  return torch::kFloat32;
}

std::string describe_device(torch::Device device) {
  if (!device.is_cuda()) return device.str();
  std::string text = device.str();
#ifdef ZILI_HAS_CUDA_KERNELS
  const kernels::CudaDeviceInfo info = kernels::cuda_device_info(device.index());
  text += fmt::format(" ({}, {:.1f} GiB)", info.name, info.total_bytes / double(1 << 30));
#endif
  return text + (fused_kernels_enabled() ? ", fused kernels on" : ", fused kernels off");
}

}  // namespace zili::model
