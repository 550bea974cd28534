// Writing safetensors: the header from the specs (data offsets consecutive in spec order,
// padded with spaces to a multiple of 8 bytes like the Rust writer), then each tensor's raw
// bytes, into a temporary file beside the target that commit() fsyncs and renames.
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::io {

// Tensor bytes are written as they lie in memory; the format is little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

namespace {

uint64_t storable_spec_bytes(const std::string& path, const TensorSpec& spec) {
  const size_t element = dtype_size(spec.dtype);
  if (element == 0)
    fail("{}: tensor '{}' has dtype {}, which safetensors cannot store (it stores {})", path,
         spec.name, c10::toString(spec.dtype), safetensors_dtype_names());
  return spec_bytes(spec);
}

// 8-byte little-endian length N, then N bytes of JSON padded with spaces so that the data
// area starts at a multiple of 8.
std::string header_bytes(const std::string& path, const std::vector<TensorSpec>& specs,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorSpec& spec : specs) {
    TORCH_CHECK(spec.name != "__metadata__", "SafetensorsWriter: '__metadata__' is reserved");
    TORCH_CHECK(names.insert(spec.name).second, "SafetensorsWriter: tensor '", spec.name,
                "' is listed twice");
    const uint64_t end = offset + storable_spec_bytes(path, spec);
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = dtype_to_safetensors(spec.dtype);
    entry["shape"] = spec.shape;
    entry["data_offsets"] = {offset, end};
    header[spec.name] = std::move(entry);
    offset = end;
  }
  std::string text;
  try {
    text = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    fail("{}: tensor names and metadata must be valid UTF-8", path);
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  return out + text;
}

}  // namespace

struct SafetensorsWriter::State {
  std::string path;
  std::string temporary;
  std::vector<TensorSpec> specs;
  size_t next = 0;  // index of the spec whose tensor comes next
  int fd = -1;
  bool committed = false;
  bool failed = false;

  // Also runs when the constructor throws: the temporary file never outlives the writer.
  ~State() {
    if (fd >= 0) ::close(fd);
    if (!committed && !temporary.empty()) ::unlink(temporary.c_str());
  }

  // Drops the temporary file and throws: nothing is left under (or beside) the final name.
  [[noreturn]] void fail_write(int error) {
    failed = true;
    if (fd >= 0) ::close(fd);
    fd = -1;
    ::unlink(temporary.c_str());
    temporary.clear();
    fail("{}: write failed: {} (nothing was written under this name)", path, std::strerror(error));
  }

  void write_all(const void* data, uint64_t size) {
    const char* bytes = static_cast<const char*>(data);
    constexpr uint64_t kChunk = uint64_t(1) << 30;  // write() moves at most ~2 GiB at once
    while (size > 0) {
      const ssize_t n = ::write(fd, bytes, std::min(size, kChunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail_write(n < 0 ? errno : EIO);
      bytes += n;
      size -= uint64_t(n);
    }
  }
};

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<TensorSpec> specs,
                                     std::map<std::string, std::string> metadata)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.path = std::move(path);
  s.specs = std::move(specs);
  const std::string header = header_bytes(s.path, s.specs, metadata);
  s.temporary = temporary_path_beside(s.path);
  s.fd = ::open(s.temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (s.fd < 0) {
    const int error = errno;
    s.temporary.clear();
    fail("{}: cannot create file: {}", s.path, std::strerror(error));
  }
  s.write_all(header.data(), header.size());
}

SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::write(const torch::Tensor& tensor) {
  State& s = *state_;
  TORCH_CHECK(!s.failed && !s.committed, "SafetensorsWriter(", s.path,
              "): write() after a failed write or after commit()");
  TORCH_CHECK(s.next < s.specs.size(), "SafetensorsWriter(", s.path, "): all ", s.specs.size(),
              " tensors were written already");
  const TensorSpec& spec = s.specs[s.next];
  TORCH_CHECK(tensor.defined() && tensor.layout() == torch::kStrided, "SafetensorsWriter(", s.path,
              "): tensor '", spec.name, "' must be a defined dense tensor");
  TORCH_CHECK(tensor.scalar_type() == spec.dtype, "SafetensorsWriter(", s.path, "): tensor '",
              spec.name, "' expected dtype ", spec.dtype, " but got ", tensor.scalar_type());
  TORCH_CHECK(tensor.sizes() == c10::IntArrayRef(spec.shape), "SafetensorsWriter(", s.path,
              "): tensor '", spec.name, "' expected shape ", shape_text(spec.shape), " but got ",
              shape_text(tensor.sizes()));
  // to() and contiguous() return the tensor itself when it is already a dense CPU tensor.
  const torch::Tensor bytes = tensor.detach().to(torch::kCPU).contiguous();
  if (bytes.nbytes() > 0) s.write_all(bytes.data_ptr(), bytes.nbytes());
  ++s.next;
}

void SafetensorsWriter::commit() {
  State& s = *state_;
  TORCH_CHECK(!s.failed && !s.committed, "SafetensorsWriter(", s.path,
              "): commit() after a failed write or a second time");
  TORCH_CHECK(s.next == s.specs.size(), "SafetensorsWriter(", s.path, "): commit() after ", s.next,
              " of ", s.specs.size(), " tensors");
  try {
    sync_and_rename(s.fd, s.temporary, s.path);
  } catch (...) {
    s.failed = true;  // ~State closes and removes the temporary file
    throw;
  }
  s.committed = true;
  ::close(s.fd);
  s.fd = -1;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors)
    specs.push_back({name, tensor.scalar_type(), tensor.sizes().vec()});
  SafetensorsWriter writer(path, std::move(specs), metadata);
  for (const auto& [name, tensor] : tensors) writer.write(tensor);
  writer.commit();
}

}  // namespace zili::io
