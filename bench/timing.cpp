// Wall-clock timing around the device's queue, and the matrix-product rate every MFU figure is
// measured against.
#include <algorithm>
#include <vector>

#include "bench/bench.h"

namespace zili::bench {

void synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double median_seconds(torch::Device device, int warmup, int repeats,
                      const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    synchronize(device);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

double gemm_flops_per_second(torch::Device device, c10::ScalarType dtype, int64_t n) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  // Random data: products of zeros run faster on some GPUs (less switching power).
  const torch::Tensor a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  torch::Tensor c = torch::empty({n, n}, options);
  const double seconds = median_seconds(device, 3, 10, [&] { torch::mm_out(c, a, b); });
  return 2.0 * static_cast<double>(n) * n * n / seconds;
}

}  // namespace zili::bench
