// Appending the metrics log, and trimming it back to a checkpoint on resume.
#include "train/metrics_log.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#ifdef ZILI_HAS_CUDA_KERNELS
#include "kernels/cuda_info.h"
#endif
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::train {

MetricsLog::MetricsLog(std::string path, int64_t keep_through_step) : path_(std::move(path)) {
  if (keep_through_step >= 0 && std::filesystem::exists(path_)) {
    std::istringstream in(read_file(path_));
    std::string kept, line;
    while (std::getline(in, line)) {
      // A line cut by a crash does not parse and is dropped with the later ones.
      nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
      if (record.is_discarded() || !record.is_object() || !record.contains("step")) break;
      if (!record["step"].is_number_integer() || record["step"].get<int64_t>() > keep_through_step)
        break;
      kept += line + "\n";
    }
    write_file_atomic(path_, kept);
  }
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) fail("{}: cannot open for appending: {}", path_, std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    fail("{}: cannot write: {}", path_, std::strerror(errno));
}

void add_peak_memory(nlohmann::json& record, torch::Device device) {
  record["peak_rss_mib"] = peak_rss_mib();
#ifdef ZILI_HAS_CUDA_KERNELS
  if (device.is_cuda())
    record["peak_gpu_mib"] =
        static_cast<double>(kernels::cuda_peak_allocated_bytes(device.index())) / (1 << 20);
#else
  (void)device;
#endif
}

double peak_rss_mib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace zili::train
