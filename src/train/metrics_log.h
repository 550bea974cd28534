// RUN/metrics.jsonl: one JSON object per logged step (and per evaluation), appended and
// flushed as it happens, so a crash loses at most the line being written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace zili::train {

class MetricsLog {
 public:
  // Opens PATH for appending. With keep_through_step >= 0 (a resumed run), first rewrites
  // the file keeping only the complete lines of steps up to that one, so the resumed log
  // reads as if the run had never stopped.
  MetricsLog(std::string path, int64_t keep_through_step);
  ~MetricsLog();
  void write(const nlohmann::json& record);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Peak resident memory of this process so far, in MiB (getrusage).
double peak_rss_mib();

// Adds "peak_rss_mib", and on a GPU "peak_gpu_mib": the most tensor memory PyTorch's
// allocator held on that device so far (what nvidia-smi shows is more: the allocator's cache
// and the CUDA context).
void add_peak_memory(nlohmann::json& record, torch::Device device);

}  // namespace zili::train
