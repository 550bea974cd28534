// Reading safetensors: the file is mapped copy-on-write, its header validated strictly (any
// defect is one zili::Error line naming the file and tensor), and tensors are handed out as
// views of the mapping that keep it alive.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "util/error.h"

namespace zili::io {

namespace {

using json = nlohmann::json;

// The reference implementation refuses headers over 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kCorrupt = "the file is corrupt or not safetensors";

// The mapped file; unmapped when the last tensor viewing it (or the file object) goes.
struct Mapping {
  uint8_t* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, size);
  }
};

// Names come from the file: quote them with control characters escaped and long ones cut,
// so a message stays one readable line whatever the file holds.
std::string shown(const std::string& text) {
  constexpr size_t kMaxShown = 200;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

// A JSON value in a few words, without recursing into it (it may be nested arbitrarily).
std::string describe(const json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_number_float()) return fmt::format("{}", value.get<double>());
  if (value.is_string())
    return fmt::format("the string {}", shown(value.get_ref<const std::string&>()));
  return fmt::format("a JSON {}", value.type_name());
}

// nlohmann's message without its "[json.exception...]" prefix and without what follows the
// first "; " (the text last read, which can hold any bytes of the file).
std::string json_error(const json::exception& e) {
  std::string text = e.what();
  if (size_t prefix = text.find("] "); prefix != std::string::npos) text.erase(0, prefix + 2);
  if (size_t rest = text.find("; "); rest != std::string::npos) text.erase(rest);
  return text;
}

uint64_t read_le64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// Parses the header text; a tensor named twice is an error (JSON would keep the last).
json parse_header_json(const std::string& path, const char* begin, const char* end) {
  std::unordered_set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string() &&
        !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(begin, end, on_event);
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON ({}); {}", path, json_error(e), kCorrupt);
  }
  if (!header.is_object())
    fail("{}: header is {}, not a JSON object; {}", path, describe(header), kCorrupt);
  if (!duplicate.empty())
    fail("{}: tensor {} appears twice in the header; {}", path, shown(duplicate), kCorrupt);
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;
  if (!value.is_object())
    fail("{}: \"__metadata__\" is {}, not an object of strings; {}", path, describe(value),
         kCorrupt);
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string())
      fail("{}: \"__metadata__\" entry {} is {}, not a string; {}", path, shown(key),
           describe(item), kCorrupt);
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// A non-negative integer that fits int64 (dims and offsets), or nullopt.
std::optional<uint64_t> as_count(const json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t n = value.get<uint64_t>();
    if (n <= uint64_t(std::numeric_limits<int64_t>::max())) return n;
  } else if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return uint64_t(value.get<int64_t>());
  }
  return std::nullopt;
}

const json& field(const std::string& path, const std::string& name, const json& entry,
                  const char* key) {
  auto it = entry.find(key);
  if (it == entry.end())
    fail("{}: tensor {} has no \"{}\" in its header entry; {}", path, shown(name), key, kCorrupt);
  return *it;
}

c10::ScalarType parse_dtype(const std::string& path, const std::string& name, const json& value) {
  if (!value.is_string())
    fail("{}: tensor {}: \"dtype\" is {}, not a string; {}", path, shown(name), describe(value),
         kCorrupt);
  const std::string& text = value.get_ref<const std::string&>();
  std::optional<c10::ScalarType> dtype = dtype_from_safetensors(text);
  if (!dtype)
    fail("{}: tensor {} has unknown dtype {} (zili reads {}); convert the file to one of those",
         path, shown(name), shown(text), safetensors_dtype_names());
  return *dtype;
}

std::vector<int64_t> parse_shape(const std::string& path, const std::string& name,
                                 const json& value) {
  if (!value.is_array())
    fail("{}: tensor {}: \"shape\" is {}, not a list of non-negative integers; {}", path,
         shown(name), describe(value), kCorrupt);
  std::vector<int64_t> shape;
  for (size_t i = 0; i < value.size(); ++i) {
    std::optional<uint64_t> dim = as_count(value[i]);
    if (!dim)
      fail("{}: tensor {}: \"shape\" dimension {} is {}, not a non-negative integer; {}", path,
           shown(name), i, describe(value[i]), kCorrupt);
    shape.push_back(int64_t(*dim));
  }
  return shape;
}

// Bytes the shape needs; an error when it (or the element count torch derives strides from,
// where a 0 dim counts as 1) overflows int64.
uint64_t shape_bytes(const std::string& path, const std::string& name,
                     const std::vector<int64_t>& shape, c10::ScalarType dtype) {
  int64_t numel = 1;
  int64_t strided = 1;
  bool overflow = false;
  for (int64_t dim : shape) {
    overflow |= __builtin_mul_overflow(numel, dim, &numel);
    overflow |= __builtin_mul_overflow(strided, std::max<int64_t>(dim, 1), &strided);
  }
  int64_t bytes = 0;
  overflow |= __builtin_mul_overflow(numel, int64_t(dtype_size(dtype)), &bytes);
  if (overflow)
    fail("{}: tensor {}: shape {} is too large (its element count overflows 64 bits); {}", path,
         shown(name), shape_text(shape), kCorrupt);
  return uint64_t(bytes);
}

TensorInfo parse_entry(const std::string& path, const std::string& name, const json& entry,
                       uint64_t data_size) {
  if (!entry.is_object())
    fail("{}: tensor {}: header entry is {}, not an object with dtype, shape, data_offsets; {}",
         path, shown(name), describe(entry), kCorrupt);
  TensorInfo info;
  info.name = name;
  info.dtype = parse_dtype(path, name, field(path, name, entry, "dtype"));
  info.shape = parse_shape(path, name, field(path, name, entry, "shape"));
  const json& offsets = field(path, name, entry, "data_offsets");
  std::optional<uint64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2)
    begin = as_count(offsets[0]), end = as_count(offsets[1]);
  if (!begin || !end)
    fail("{}: tensor {}: \"data_offsets\" must be [begin, end], two non-negative integers; {}",
         path, shown(name), kCorrupt);
  info.begin = *begin;
  info.end = *end;
  if (info.end < info.begin)
    fail("{}: tensor {}: data_offsets [{}, {}] are reversed (end before begin); {}", path,
         shown(name), info.begin, info.end, kCorrupt);
  if (info.end > data_size)
    fail(
        "{}: tensor {}: data_offsets [{}, {}] lie outside the data area ({} bytes); the file is "
        "truncated or corrupt",
        path, shown(name), info.begin, info.end, data_size);
  const uint64_t needed = shape_bytes(path, name, info.shape, info.dtype);
  if (needed != info.end - info.begin)
    fail("{}: tensor {}: shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}; {}", path,
         shown(name), shape_text(info.shape), dtype_to_safetensors(info.dtype), needed, info.begin,
         info.end, info.end - info.begin, kCorrupt);
  return info;
}

// Sorts by data offset and requires the tensors to tile the data area exactly, as the
// reference implementation does: no overlap, no gap, no trailing bytes.
void sort_and_check_layout(const std::string& path, std::vector<TensorInfo>& tensors,
                           uint64_t data_size) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;  // end of the previous tensor
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& next = tensors[i];
    if (i > 0 && next.begin < covered) {
      const TensorInfo& prev = tensors[i - 1];
      fail("{}: tensors {} [{}, {}] and {} [{}, {}] overlap in the data area; {}", path,
           shown(prev.name), prev.begin, prev.end, shown(next.name), next.begin, next.end,
           kCorrupt);
    }
    if (next.begin > covered)
      fail(
          "{}: tensor {} starts at byte {} of the data area but the bytes before it end at {} "
          "(a gap); {}",
          path, shown(next.name), next.begin, covered, kCorrupt);
    covered = next.end;
  }
  if (covered != data_size)
    fail(
        "{}: {} bytes after the last tensor's data (the data area is {} bytes, tensors cover "
        "{}); {}",
        path, data_size - covered, data_size, covered, kCorrupt);
}

}  // namespace

struct SafetensorsFile::State {
  std::string path;
  uint64_t file_size = 0;
  std::shared_ptr<Mapping> mapping;
  uint8_t* data = nullptr;  // start of the data area, inside the mapping
  uint64_t data_size = 0;
  std::vector<TensorInfo> tensors;  // by data offset
  std::unordered_map<std::string, size_t> by_name;
  std::map<std::string, std::string> metadata;
};

static std::shared_ptr<Mapping> map_file(const std::string& path, uint64_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open safetensors file: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  size = uint64_t(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(
        "{}: file is {} bytes, shorter than the 8-byte header length of safetensors; the file "
        "is truncated or not safetensors",
        path, size);
  }
  // Private and writable: an in-place change to a tensor copies its page, never the file.
  // MAP_NORESERVE: no swap is reserved for pages that are only ever read.
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);
  if (addr == MAP_FAILED) fail("{}: cannot map file: {}", path, std::strerror(mmap_errno));
  auto mapping = std::make_shared<Mapping>();
  mapping->addr = static_cast<uint8_t*>(addr);
  mapping->size = size;
  return mapping;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto state = std::make_unique<State>();
  state->path = path;
  state->mapping = map_file(path, state->file_size);
  const uint8_t* bytes = state->mapping->addr;
  const uint64_t header_size = read_le64(bytes);
  if (header_size > kMaxHeaderBytes)
    fail("{}: header length {} is absurd (over 100 MB); {}", path, header_size, kCorrupt);
  if (header_size > state->file_size - 8)
    fail(
        "{}: header length {} runs past the end of the file ({} bytes); the file is truncated "
        "or not safetensors",
        path, header_size, state->file_size);
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  const json header = parse_header_json(path, text, text + header_size);
  state->data = state->mapping->addr + 8 + header_size;
  state->data_size = state->file_size - 8 - header_size;

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__")
      state->metadata = parse_metadata(path, entry);
    else
      state->tensors.push_back(parse_entry(path, name, entry, state->data_size));
  }
  sort_and_check_layout(path, state->tensors, state->data_size);
  for (size_t i = 0; i < state->tensors.size(); ++i) state->by_name[state->tensors[i].name] = i;

  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->state_ = std::move(state);
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

const std::string& SafetensorsFile::path() const {
  return state_->path;
}
uint64_t SafetensorsFile::file_size() const {
  return state_->file_size;
}
const std::vector<TensorInfo>& SafetensorsFile::tensors() const {
  return state_->tensors;
}
const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return state_->metadata;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = state_->by_name.find(name);
  return it == state_->by_name.end() ? nullptr : &state_->tensors[it->second];
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) fail("{}: no tensor named {}", state_->path, shown(name));
  const auto options = torch::TensorOptions().dtype(info->dtype).device(torch::kCPU);
  if (info->begin == info->end) return torch::empty(info->shape, options);
  uint8_t* bytes = state_->data + info->begin;
  // Writers that do not order tensors by alignment can leave one at an odd address; torch
  // kernels assume aligned elements, so such a tensor (and only such) is copied.
  if (reinterpret_cast<uintptr_t>(bytes) % dtype_size(info->dtype) != 0) {
    torch::Tensor copy = torch::empty(info->shape, options);
    std::memcpy(copy.data_ptr(), bytes, info->end - info->begin);
    return copy;
  }
  std::shared_ptr<Mapping> keep_alive = state_->mapping;
  return torch::from_blob(
      bytes, info->shape, [keep_alive](void*) {}, options);
}

void SafetensorsFile::release(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) fail("{}: no tensor named {}", state_->path, shown(name));
  // Only the pages wholly inside [begin, end): a page shared with a neighbour stays, so
  // releasing one tensor never discards a change made to another through its view.
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(state_->data + info->begin);
  const uintptr_t end = reinterpret_cast<uintptr_t>(state_->data + info->end);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = end / page * page;
  if (last <= first) return;
  // On a private file mapping, MADV_DONTNEED drops the pages; the next access reads the file
  // again. It cannot fail on a range inside our own mapping, so errors are ignored.
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace zili::io
