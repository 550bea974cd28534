// Merging a LoRA adapter into its base, streamed: check every adapter tensor against the
// base's headers, plan the output shards from those headers, then compute and write one
// tensor at a time, giving back the base's mapped pages after each.
#include "lora/merge.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "io/checkpoint_tensors.h"
#include "io/peft_adapter.h"
#include "lora/lora_model.h"
#include "model/config.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/staging_dir.h"

namespace zili::lora {
namespace {

namespace fs = std::filesystem;

// Copied from the base when present; the first three are what zili's tokenizer reads.
const char* const kTokenizerFiles[] = {"tokenizer.model", "tokenizer_config.json",
                                       "special_tokens_map.json", "tokenizer.json",
                                       "generation_config.json"};

// The LoRA pair of one targeted linear layer, checked against the base.
struct LoraPair {
  std::string key_a;  // PEFT keys in the adapter file
  std::string key_b;
};

// The adapter against the base: its tensors against config.json's shapes (check_adapter),
// and the checkpoint's weights against config.json, all from headers, before any output.
std::map<std::string, LoraPair> adapter_pairs(const std::string& base_dir,
                                              const model::ModelConfig& config,
                                              const io::CheckpointTensors& base,
                                              const io::AdapterFiles& adapter) {
  std::map<std::string, LoraPair> pairs;  // by the base weight's name
  for (const AdapterTarget& target : check_adapter(config, adapter)) {
    const std::string weight_name = target.module + ".weight";
    if (!base.contains(weight_name))
      fail("{}: the adapter targets {} but the checkpoint has no tensor {}", base_dir,
           target.module, weight_name);
    const io::TensorInfo& weight = base.info(weight_name);
    if (weight.shape != std::vector<int64_t>{target.out, target.in} ||
        !c10::isFloatingType(weight.dtype))
      fail("{}: tensor {} is {} {}, but config.json implies a floating-point [{}, {}]", base_dir,
           weight_name, io::dtype_to_safetensors(weight.dtype), io::shape_text(weight.shape),
           target.out, target.in);
    pairs.emplace(weight_name,
                  LoraPair{io::peft_key(target.module, 'A'), io::peft_key(target.module, 'B')});
  }
  return pairs;
}

// The output tensors in the order transformers writes them (embeddings, layer by layer, norm,
// head), then any other tensor of the base by name; floating-point ones in `dtype`.
std::vector<io::TensorSpec> output_specs(const model::ModelConfig& config,
                                         const io::CheckpointTensors& base, c10::ScalarType dtype) {
  std::vector<std::string> order;
  std::set<std::string> listed;
  for (const auto& shape : model::parameter_shapes(config))
    if (base.contains(shape.name)) order.push_back(shape.name), listed.insert(shape.name);
  for (const std::string& name : base.names())
    if (!listed.count(name)) order.push_back(name);
  std::vector<io::TensorSpec> specs;
  for (const std::string& name : order) {
    const io::TensorInfo& info = base.info(name);
    specs.push_back({name, c10::isFloatingType(info.dtype) ? dtype : info.dtype, info.shape});
  }
  return specs;
}

// The tensor to write under spec.name, computed from the mapped base.
torch::Tensor output_tensor(const io::TensorSpec& spec, const io::CheckpointTensors& base,
                            const io::AdapterFiles& adapter, const LoraPair* pair) {
  torch::Tensor w = base.tensor(spec.name);      // [out, in] for a linear weight
  if (pair == nullptr) return w.to(spec.dtype);  // no copy when the dtype is kept
  const torch::Tensor a = adapter.weights->tensor(pair->key_a).to(torch::kFloat32);  // [r, in]
  const torch::Tensor b = adapter.weights->tensor(pair->key_b).to(torch::kFloat32);  // [out, r]
  // W' = W + s B A, with s = alpha / r (alpha / sqrt(r) with rsLoRA). W, B and A are taken to
  // fp32 and the sum is rounded once, to the output dtype: merging in bf16 arithmetic rounds
  // the product and the sum too, a known source of drift between a merged model and base +
  // adapter. torch::addmm(W, B, A, beta 1, alpha s) = W + s (B @ A), out of place: the
  // mapped W is never written.
  const torch::Tensor merged = torch::addmm(w.to(torch::kFloat32), b, a, 1.0,
                                            adapter.config.scaling());  // [out, in] fp32
  return merged.to(spec.dtype);
}

// The written file's pages leave the page cache (commit() has fsynced them, so they are
// clean): merging a large model does not push everything else out of memory. Advisory.
void drop_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void check_free_space(const std::string& dir, uint64_t bytes) {
  std::error_code error;
  const fs::space_info space = fs::space(dir, error);
  if (error) return;  // unknown: the writes will tell
  const uint64_t needed = bytes + bytes / 100 + (uint64_t(1) << 20);  // headers, config, slack
  if (space.available < needed)
    fail(
        "{}: the merged checkpoint needs {:.2f} GB but only {:.2f} GB is free there; free some "
        "space or choose another --out",
        dir, double(needed) / 1e9, double(space.available) / 1e9);
}

}  // namespace

MergeSummary merge_adapter(const std::string& base_dir, const std::string& adapter_dir,
                           const std::string& out_dir, const MergeOptions& options) {
  const model::ModelConfig config = model::load_config(base_dir);
  const io::CheckpointTensors base = io::CheckpointTensors::open(base_dir);
  const io::AdapterFiles adapter = io::read_adapter(adapter_dir);
  const std::map<std::string, LoraPair> pairs = adapter_pairs(base_dir, config, base, adapter);

  MergeSummary summary;
  summary.dtype = options.dtype.value_or(config.dtype);
  const std::vector<io::TensorSpec> specs = output_specs(config, base, summary.dtype);
  summary.merged_weights = int64_t(pairs.size());
  summary.tensors = int64_t(specs.size());
  for (const io::TensorSpec& spec : specs) summary.bytes += io::spec_bytes(spec);

  StagingDir out(out_dir, options.overwrite, "--force", {base_dir, adapter_dir});
  check_free_space(out.path(), summary.bytes);
  // One tensor at a time: computed, written, then its mapped pages (base and adapter) given
  // back. The output may be a view of the mapping, so a tensor's pages go only once the next
  // one is asked for (it has been written by then) or its file is complete.
  const io::TensorSpec* written = nullptr;
  const auto release_written = [&] {
    if (written == nullptr) return;
    base.release(written->name);
    if (auto pair = pairs.find(written->name); pair != pairs.end()) {
      adapter.weights->release(pair->second.key_a);
      adapter.weights->release(pair->second.key_b);
    }
    written = nullptr;
  };
  const auto produce = [&](size_t i) {
    release_written();
    auto pair = pairs.find(specs[i].name);
    torch::Tensor tensor =
        output_tensor(specs[i], base, adapter, pair == pairs.end() ? nullptr : &pair->second);
    written = &specs[i];
    return tensor;
  };
  const auto file_done = [&](const std::string& path) {
    release_written();
    drop_from_page_cache(path);
  };
  summary.weight_files = io::write_checkpoint_streaming(out.path(), specs, options.max_shard_bytes,
                                                        produce, {}, file_done);

  model::ModelConfig out_config = config;
  out_config.dtype = summary.dtype;  // torch_dtype and dtype
  model::save_config(out_config, out.path());
  summary.other_files.push_back("config.json");
  for (const char* name : kTokenizerFiles) {
    const fs::path from = fs::path(base_dir) / name;
    if (!fs::is_regular_file(from)) continue;
    write_file_atomic((fs::path(out.path()) / name).string(), read_file(from.string()));
    summary.other_files.push_back(name);
  }
  out.commit();
  return summary;
}

}  // namespace zili::lora
