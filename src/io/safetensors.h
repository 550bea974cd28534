// The safetensors format: read (mmap, zero-copy tensors, strict validation) and write
// (temporary file in the same folder, flushed, renamed). Format: 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {str: str}}, then the data area; offsets are relative to its start.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace zili::io {

// One tensor's entry in a safetensors header.
struct TensorInfo {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data area, [begin, end)
  uint64_t end = 0;
};

// What a writer needs to know about a tensor before its bytes arrive.
struct TensorSpec {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
};

// "F32" <-> torch::kFloat32, ...; unknown names give std::nullopt / throw zili::Error.
std::optional<c10::ScalarType> dtype_from_safetensors(const std::string& name);
std::string dtype_to_safetensors(c10::ScalarType dtype);
// "[2, 3]": a shape as error messages print it.
std::string shape_text(c10::IntArrayRef shape);

// Bytes of a tensor of this spec: element size x the shape's product (TORCH_CHECK on a
// negative dimension, an overflow, or a dtype safetensors cannot store).
uint64_t spec_bytes(const TensorSpec& spec);

// Bytes of one element; 0 when the dtype cannot be stored in safetensors.
size_t dtype_size(c10::ScalarType dtype);
// "F64, F32, ..." : the safetensors dtype names this build reads and writes (for messages).
std::string safetensors_dtype_names();

// A memory-mapped safetensors file. Tensors it hands out view the mapping without a copy
// and keep it alive for as long as any of them lives. Pages are mapped copy-on-write, so
// an in-place change to such a tensor never reaches the file.
class SafetensorsFile {
 public:
  // Maps and validates the whole header; any defect is a zili::Error naming the file
  // (and the tensor). Never reads out of bounds, whatever the file holds.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const;
  uint64_t file_size() const;
  // Tensors in the order of their data offsets.
  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* find(const std::string& name) const;  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const;
  // A zero-copy CPU tensor of the named entry; zili::Error when absent.
  torch::Tensor tensor(const std::string& name) const;
  // Gives back the physical pages holding the named tensor's bytes (madvise MADV_DONTNEED on
  // the whole pages inside its byte range), so that a pass over a large file keeps one tensor
  // resident, not all it has read. Safe only when no view of that tensor is still in use for
  // its values: a later read faults the bytes in again from the file, and any in-place change
  // made through a view is lost. zili::Error when absent.
  void release(const std::string& name) const;

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

 private:
  SafetensorsFile() = default;
  struct State;
  std::unique_ptr<State> state_;
};

// Streams tensors into one safetensors file: the header is written from the specs first,
// then each tensor in spec order; commit() flushes, fsyncs and renames the temporary file
// (PATH.tmp-XXXX in the same folder) to PATH. Destroyed without commit(), it removes the
// temporary file, so a failure never leaves a half-written file under the final name.
class SafetensorsWriter {
 public:
  SafetensorsWriter(std::string path, std::vector<TensorSpec> specs,
                    std::map<std::string, std::string> metadata = {});
  ~SafetensorsWriter();
  // The next tensor in spec order; any dtype/shape mismatch against its spec is an error.
  // Non-contiguous tensors and tensors on other devices are copied as needed.
  void write(const torch::Tensor& tensor);
  void commit();

  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Convenience: all tensors at once, in the given order.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace zili::io
