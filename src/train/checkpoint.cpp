// Checkpoints that a crash cannot leave half-written: staging folder, then rename.
#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <vector>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "train/optimizer_state.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/staging_dir.h"

namespace fs = std::filesystem;

namespace zili::train {

nlohmann::json trainer_state_json(const TrainerState& s) {
  return {{"step", s.step},
          {"epoch", s.epoch},
          {"next_batch", s.next_batch},
          {"tokens_seen", s.tokens_seen},
          {"elapsed_seconds", s.elapsed_seconds},
          {"fingerprint", s.fingerprint},
          {"window_sums", s.window_sums},
          {"window_steps", s.window_steps}};
}

TrainerState parse_trainer_state(const nlohmann::json& json, const std::string& where) {
  auto field = [&](const char* key) -> const nlohmann::json& {
    auto it = json.find(key);
    if (it == json.end()) fail("{}: missing \"{}\"", where, key);
    return *it;
  };
  TrainerState s;
  try {
    s.step = field("step").get<int64_t>();
    s.epoch = field("epoch").get<int64_t>();
    s.next_batch = field("next_batch").get<int64_t>();
    s.tokens_seen = field("tokens_seen").get<int64_t>();
    s.elapsed_seconds = field("elapsed_seconds").get<double>();
    s.fingerprint = field("fingerprint").get<std::string>();
    s.window_sums = field("window_sums").get<std::map<std::string, double>>();
    s.window_steps = field("window_steps").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: {}", where, e.what());
  }
  return s;
}

// The generators that draw the dropout masks: the CPU's, and each visible GPU's ("cuda:N";
// none in a CPU build). Each state is a uint8 tensor: [5056] for the CPU's Mersenne twister,
// [16] (seed, offset) for a GPU's Philox.
static std::vector<std::pair<std::string, at::Generator>> random_generators() {
  std::vector<std::pair<std::string, at::Generator>> generators = {
      {"cpu", at::detail::getDefaultCPUGenerator()}};
  // device_count() is size_t in some torch versions, c10::DeviceIndex in others.
  const int64_t gpus =
      torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  for (int64_t i = 0; i < gpus; ++i)
    generators.emplace_back(fmt::format("cuda:{}", i),
                            at::globalContext().defaultGenerator(
                                torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i))));
  return generators;
}

void save_checkpoint(const std::string& dir, const TrainerState& state,
                     torch::optim::AdamW& optimizer,
                     const std::function<void(const std::string&)>& write_weights) {
  StagingDir staging(dir, /*overwrite=*/true);
  write_weights(staging.path());
  save_adamw_state(optimizer, staging.path() + "/optimizer.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> rng_states;
  for (auto& [name, generator] : random_generators()) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    rng_states.emplace_back(name, generator.get_state());
  }
  io::save_safetensors(staging.path() + "/rng_state.safetensors", rng_states);
  write_file_atomic(staging.path() + "/trainer_state.json",
                    trainer_state_json(state).dump(2) + "\n");
  staging.commit();
}

TrainerState load_checkpoint(const std::string& dir, torch::optim::AdamW& optimizer) {
  const std::string state_path = dir + "/trainer_state.json";
  nlohmann::json json = nlohmann::json::parse(read_file(state_path), nullptr, false);
  if (json.is_discarded() || !json.is_object()) fail("{}: not a JSON object", state_path);
  TrainerState state = parse_trainer_state(json, state_path);
  load_adamw_state(optimizer, dir + "/optimizer.safetensors");
  auto rng_file = io::SafetensorsFile::open(dir + "/rng_state.safetensors");
  if (!rng_file->find("cpu")) fail("{}/rng_state.safetensors: no \"cpu\" tensor", dir);
  // A GPU's state is restored when the checkpoint has one for it; a run moved between the
  // CPU and a GPU keeps the generators it finds (the same data order, other dropout masks).
  for (auto& [name, generator] : random_generators()) {
    if (!rng_file->find(name)) continue;
    const torch::Tensor rng = rng_file->tensor(name).clone();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  }
  return state;
}

// step-N folders of RUN/checkpoints, oldest first.
static std::vector<std::pair<int64_t, fs::path>> step_folders(const std::string& run) {
  std::vector<std::pair<int64_t, fs::path>> found;
  const fs::path root = fs::path(run) / "checkpoints";
  std::error_code error;
  if (!fs::is_directory(root, error)) return found;
  static const std::regex name("step-([0-9]+)");
  for (const auto& entry : fs::directory_iterator(root, error)) {
    std::smatch match;
    const std::string file = entry.path().filename().string();
    if (entry.is_directory() && std::regex_match(file, match, name))
      found.emplace_back(std::stoll(match[1].str()), entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::optional<std::string> latest_checkpoint(const std::string& run) {
  auto found = step_folders(run);
  if (found.empty()) return std::nullopt;
  return found.back().second.string();
}

void prune_checkpoints(const std::string& run, int64_t keep_last) {
  std::error_code error;
  const fs::path root = fs::path(run) / "checkpoints";
  for (const auto& entry : fs::directory_iterator(root, error))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos)
      fs::remove_all(entry.path(), error);
  if (keep_last <= 0) return;
  auto found = step_folders(run);
  for (size_t i = 0; i + keep_last < found.size(); ++i) fs::remove_all(found[i].second, error);
}

}  // namespace zili::train
