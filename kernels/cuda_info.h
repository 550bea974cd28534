// What the CUDA runtime and PyTorch's caching allocator say about a GPU: its name and size for
// the log, and the peak memory a run or a benchmark held. Host code only; it lives with the
// kernels because only the CUDA build (nvcc, the CUDA headers) compiles it.
#pragma once

#include <cstdint>
#include <string>

namespace zili::kernels {

struct CudaDeviceInfo {
  std::string name;         // "NVIDIA H200"
  int64_t total_bytes = 0;  // global memory
  int multiprocessors = 0;
  int major = 0, minor = 0;  // compute capability
};
CudaDeviceInfo cuda_device_info(int device_index);

// The most bytes PyTorch's allocator had handed out on the device (tensors, not its cache)
// since the process started or the last reset.
int64_t cuda_peak_allocated_bytes(int device_index);
void cuda_reset_peak_allocated(int device_index);

}  // namespace zili::kernels
