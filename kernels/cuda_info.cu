// Device properties from the CUDA runtime (through ATen's cached copy) and the caching
// allocator's statistics.
#include "kernels/cuda_info.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>

namespace zili::kernels {

CudaDeviceInfo cuda_device_info(int device_index) {
  const cudaDeviceProp* props = at::cuda::getDeviceProperties(device_index);
  CudaDeviceInfo info;
  info.name = props->name;
  info.total_bytes = static_cast<int64_t>(props->totalGlobalMem);
  info.multiprocessors = props->multiProcessorCount;
  info.major = props->major;
  info.minor = props->minor;
  return info;
}

int64_t cuda_peak_allocated_bytes(int device_index) {
  namespace allocator = c10::cuda::CUDACachingAllocator;
  const auto stats = allocator::getDeviceStats(static_cast<c10::DeviceIndex>(device_index));
  // Entry 0 of a StatArray is StatType::AGGREGATE (all pools), in every torch since 1.x;
  // the enum itself moved namespaces over the versions.
  return stats.allocated_bytes[0].peak;
}

void cuda_reset_peak_allocated(int device_index) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device_index));
}

}  // namespace zili::kernels
