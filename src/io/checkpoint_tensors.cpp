// The tensors of a Hugging Face checkpoint folder: opening model.safetensors or the shards of
// model.safetensors.index.json, and saving with shards split the way transformers splits them.
#include "io/checkpoint_tensors.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::io {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// weight_map of an index file, grouped by shard file: shard -> tensor names.
std::map<std::string, std::vector<std::string>> read_weight_map(const std::string& index_path) {
  json index;
  try {
    index = json::parse(read_file(index_path));
  } catch (const json::parse_error& e) {
    // Only the position: the rest of nlohmann's message quotes bytes of the file.
    fail("{}: not valid JSON (error at byte {}); re-download the checkpoint", index_path, e.byte);
  } catch (const json::exception&) {  // out_of_range: a number beyond a double
    fail("{}: not valid JSON (a number out of range); re-download the checkpoint", index_path);
  }
  auto weight_map = index.is_object() ? index.find("weight_map") : index.end();
  if (!index.is_object() || weight_map == index.end() || !weight_map->is_object())
    fail("{}: no \"weight_map\" object (tensor name -> shard file); re-download the checkpoint",
         index_path);
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, file] : weight_map->items()) {
    if (!file.is_string() || file.get_ref<const std::string&>().empty())
      fail("{}: weight_map entry '{}' is not a shard file name; re-download the checkpoint",
           index_path, name);
    by_shard[file.get<std::string>()].push_back(name);
  }
  return by_shard;
}

// model-00001-of-00003.safetensors: the names transformers gives shards.
bool is_shard_name(const std::string& name) {
  const std::string pattern = "model-#####-of-#####.safetensors";
  if (name.size() != pattern.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(name[i]));
    if (pattern[i] == '#' ? !digit : name[i] != pattern[i]) return false;
  }
  return true;
}

// Files of an earlier save in DIR that a new save may replace.
std::vector<std::string> checkpoint_files_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name == kSingleFile || name == kIndexFile || is_shard_name(name)) names.push_back(name);
  }
  return names;
}

}  // namespace

CheckpointTensors CheckpointTensors::open(const std::string& dir) {
  CheckpointTensors checkpoint;
  checkpoint.dir_ = dir;
  const std::string index_path = (fs::path(dir) / kIndexFile).string();
  const std::string single_path = (fs::path(dir) / kSingleFile).string();
  std::error_code error;
  std::vector<std::string> shard_names;
  if (fs::exists(index_path, error)) {
    checkpoint.sharded_ = true;
    for (const auto& [shard, names] : read_weight_map(index_path)) {
      const std::string shard_path = (fs::path(dir) / shard).string();
      if (!fs::exists(shard_path, error))
        fail(
            "{}: shard {} is missing (listed in {} for {} tensors, e.g. '{}'); download the "
            "whole checkpoint",
            shard_path, shard, index_path, names.size(), names.front());
      checkpoint.shards_.push_back(SafetensorsFile::open(shard_path));
      for (const std::string& name : names)
        if (checkpoint.shards_.back()->find(name) == nullptr)
          fail(
              "{}: tensor '{}' is listed in {} but shard {} does not hold it; re-download the "
              "checkpoint",
              shard_path, name, index_path, shard);
    }
  } else if (fs::exists(single_path, error)) {
    checkpoint.shards_.push_back(SafetensorsFile::open(single_path));
  } else if (!fs::is_directory(dir, error)) {
    fail("{}: no such folder (expected a Hugging Face checkpoint folder)", dir);
  } else {
    fail(
        "{}: no model.safetensors or model.safetensors.index.json (is this a Hugging Face "
        "checkpoint folder?)",
        dir);
  }
  // Every tensor of every shard, listed in the index or not, is readable by name once.
  for (size_t i = 0; i < checkpoint.shards_.size(); ++i) {
    for (const TensorInfo& info : checkpoint.shards_[i]->tensors()) {
      auto [it, fresh] = checkpoint.index_.emplace(info.name, std::make_pair(i, &info));
      if (!fresh)
        fail("{}: tensor '{}' is in two shards, {} and {}; the checkpoint is inconsistent", dir,
             info.name, checkpoint.shards_[it->second.first]->path(),
             checkpoint.shards_[i]->path());
    }
  }
  return checkpoint;
}

std::vector<std::string> CheckpointTensors::names() const {
  std::vector<std::string> names;
  names.reserve(index_.size());
  for (const auto& entry : index_) names.push_back(entry.first);
  return names;
}

const TensorInfo& CheckpointTensors::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("{}: the checkpoint has no tensor named '{}'", dir_, name);
  return *it->second.second;
}

bool CheckpointTensors::contains(const std::string& name) const {
  return index_.count(name) > 0;
}

torch::Tensor CheckpointTensors::tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("{}: the checkpoint has no tensor named '{}'", dir_, name);
  return shards_[it->second.first]->tensor(name);
}

void CheckpointTensors::release(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("{}: the checkpoint has no tensor named '{}'", dir_, name);
  shards_[it->second.first]->release(name);
}

std::vector<std::pair<std::string, uint64_t>> CheckpointTensors::files() const {
  std::vector<std::pair<std::string, uint64_t>> files;
  for (const auto& shard : shards_) files.emplace_back(shard->path(), shard->file_size());
  return files;
}

bool CheckpointTensors::sharded() const {
  return sharded_;
}

uint64_t parse_byte_size(const std::string& text) {
  auto cannot_read = [&]() {
    fail("--max-shard-size: cannot read '{}' (use e.g. 5GB, 500MB, 2GiB)", text);
  };
  size_t pos = 0;
  while (pos < text.size() && text[pos] == ' ') ++pos;
  uint64_t number = 0;
  const size_t digits_begin = pos;
  for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos)
    if (__builtin_mul_overflow(number, 10u, &number) ||
        __builtin_add_overflow(number, uint64_t(text[pos] - '0'), &number))
      cannot_read();
  if (pos == digits_begin) cannot_read();
  while (pos < text.size() && text[pos] == ' ') ++pos;
  std::string unit = text.substr(pos);
  while (!unit.empty() && unit.back() == ' ') unit.pop_back();

  // As transformers' convert_file_size_to_int: KB/MB/GB are powers of 1000, KiB/MiB/GiB of
  // 1024, and a lower-case final b (Kb/Mb/Gb) means bits.
  static const std::map<std::string, std::pair<uint64_t, bool>> kUnits = {
      {"", {1, false}},
      {"KB", {1'000, false}},
      {"kB", {1'000, false}},
      {"MB", {1'000'000, false}},
      {"GB", {1'000'000'000, false}},
      {"KiB", {uint64_t(1) << 10, false}},
      {"MiB", {uint64_t(1) << 20, false}},
      {"GiB", {uint64_t(1) << 30, false}},
      {"Kb", {1'000, true}},
      {"kb", {1'000, true}},
      {"Mb", {1'000'000, true}},
      {"Gb", {1'000'000'000, true}},
  };
  auto unit_it = kUnits.find(unit);
  if (unit_it == kUnits.end()) cannot_read();
  const auto [scale, bits] = unit_it->second;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(number, scale, &bytes)) cannot_read();
  if (bits) bytes /= 8;
  if (bytes == 0) fail("--max-shard-size: '{}' is zero bytes (use e.g. 5GB, 500MB, 2GiB)", text);
  return bytes;
}

std::vector<std::vector<size_t>> plan_shards(const std::vector<TensorSpec>& specs,
                                             uint64_t max_shard_bytes) {
  std::vector<std::vector<size_t>> shards;
  std::vector<size_t> current;
  uint64_t current_bytes = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const uint64_t bytes = spec_bytes(specs[i]);
    if (bytes > max_shard_bytes) {  // a shard of its own, keeping the order
      if (!current.empty()) shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
      shards.push_back({i});
      continue;
    }
    if (current_bytes + bytes > max_shard_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(i);
    current_bytes += bytes;
  }
  if (!current.empty()) shards.push_back(std::move(current));
  return shards;
}

std::vector<std::string> write_checkpoint_streaming(
    const std::string& dir, const std::vector<TensorSpec>& specs, uint64_t max_shard_bytes,
    const std::function<torch::Tensor(size_t)>& produce,
    const std::map<std::string, std::string>& metadata,
    const std::function<void(const std::string&)>& after_file) {
  const std::vector<std::vector<size_t>> plan = plan_shards(specs, max_shard_bytes);
  // transformers refuses safetensors metadata without a "format" it knows.
  std::map<std::string, std::string> shard_metadata = metadata;
  shard_metadata.emplace("format", "pt");
  const auto write_file = [&](const std::string& name, const std::vector<size_t>& indices) {
    const std::string path = (fs::path(dir) / name).string();
    std::vector<TensorSpec> part;
    for (size_t i : indices) part.push_back(specs[i]);
    SafetensorsWriter writer(path, part, shard_metadata);
    for (size_t i : indices) writer.write(produce(i));
    writer.commit();
    if (after_file) after_file(path);
  };

  if (plan.size() <= 1) {
    std::vector<size_t> all(specs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    write_file(kSingleFile, all);
    return {kSingleFile};
  }
  std::vector<std::string> written;
  json weight_map = json::object();
  uint64_t total_size = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const std::string shard = fmt::format("model-{:05d}-of-{:05d}.safetensors", k + 1, plan.size());
    for (size_t i : plan[k]) {
      TORCH_CHECK(!weight_map.contains(specs[i].name), "write_checkpoint_streaming: tensor '",
                  specs[i].name, "' is listed twice");
      weight_map[specs[i].name] = shard;
      total_size += spec_bytes(specs[i]);
    }
    write_file(shard, plan[k]);
    written.push_back(shard);
  }
  // The index goes last, so a new index never names a shard that is not yet complete.
  // (Into a folder that already holds a save with the same shard names, use a fresh folder
  // and rename it into place, as StagingDir does: the old index would see new shards.)
  const json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
  write_file_atomic((fs::path(dir) / kIndexFile).string(), index.dump(2) + "\n");
  written.push_back(kIndexFile);
  return written;
}

std::vector<std::string> save_checkpoint_tensors(
    const std::string& dir, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
    uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) fail("{}: cannot create folder: {}", dir, error.message());
  const std::vector<std::string> earlier = checkpoint_files_in(dir);
  std::vector<TensorSpec> specs;
  for (const auto& [name, tensor] : tensors)
    specs.push_back({name, tensor.scalar_type(), tensor.sizes().vec()});
  const std::vector<std::string> written = write_checkpoint_streaming(
      dir, specs, max_shard_bytes, [&](size_t i) { return tensors[i].second; }, metadata);

  // Files of an earlier save that the new one did not replace; the stale index goes first,
  // so a reader never follows it to shards that are gone.
  std::vector<std::string> stale;
  for (const std::string& name : earlier)
    if (std::find(written.begin(), written.end(), name) == written.end()) stale.push_back(name);
  std::stable_partition(stale.begin(), stale.end(),
                        [](const std::string& name) { return name == kIndexFile; });
  for (const std::string& name : stale) {
    const fs::path path = fs::path(dir) / name;
    if (!fs::remove(path, error) && error)
      fail("{}: cannot remove this file of an earlier save: {}; remove it by hand", path.string(),
           error.message());
  }
  return written;
}

}  // namespace zili::io
