// Tests of safetensors reading and writing and of checkpoint folders: bit-exact round trips
// of every dtype, zero-copy copy-on-write views, malformed files built byte by byte, the
// writer's atomicity, sharded saves through the index, shard planning and size parsing.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "io/checkpoint_tensors.h"
#include "io/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/torch_compat.h"

namespace fs = std::filesystem;
using namespace zili::io;
using Catch::Matchers::Contains;

namespace {

// A fresh folder under the system temp folder, removed with everything in it at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path =
        fs::temp_directory_path() / fmt::format("zili-test-safetensors-{}-{}", getpid(), counter++);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xff);
  return out;
}

// 8-byte length, the header text as given, then the data bytes.
std::string file_bytes(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(out.good());
}

// Random bytes (never all zero) viewed as `dtype`; bools are 0/1 with the first one true.
torch::Tensor random_tensor(c10::ScalarType dtype, std::vector<int64_t> shape) {
  int64_t numel = 1;
  for (int64_t dim : shape) numel *= dim;
  if (dtype == torch::kBool) {
    torch::Tensor t = torch::randint(0, 2, {numel}, torch::kLong).to(torch::kBool);
    if (numel > 0) t[0] = true;
    return t.reshape(shape);
  }
  const int64_t size = int64_t(dtype_size(dtype));
  return torch::randint(1, 256, {numel * size}, torch::kUInt8).view(dtype).reshape(shape);
}

// Same dtype, same shape, same bits (NaN payloads included).
bool bit_equal(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  auto bytes = [](const torch::Tensor& t) {
    return t.contiguous().reshape({-1}).view(torch::kUInt8);
  };
  return torch::equal(bytes(a), bytes(b));
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const zili::Error& e) {
    return e.what();
  }
  FAIL("expected a zili::Error");
  return "";
}

std::string open_error(const std::string& path) {
  return error_of([&] { SafetensorsFile::open(path); });
}

std::vector<c10::ScalarType> all_dtypes() {
  std::vector<c10::ScalarType> dtypes = {
      torch::kFloat64, torch::kFloat32, torch::kFloat16,       torch::kBFloat16,
      torch::kInt64,   torch::kInt32,   torch::kInt16,         torch::kInt8,
      torch::kUInt8,   torch::kBool,    torch::kFloat8_e4m3fn, torch::kFloat8_e5m2};
#if ZILI_TORCH_AT_LEAST(2, 3)
  dtypes.insert(dtypes.end(), {torch::kUInt16, torch::kUInt32, torch::kUInt64});
#endif
  return dtypes;
}

// A valid header entry.
std::string entry(const std::string& dtype, const std::string& shape, uint64_t begin,
                  uint64_t end) {
  return fmt::format(R"({{"dtype":"{}","shape":{},"data_offsets":[{},{}]}})", dtype, shape, begin,
                     end);
}

}  // namespace

TEST_CASE("safetensors: dtype names map both ways", "[safetensors]") {
  const std::vector<std::string> names = {"F64", "F32", "F16", "BF16", "I64",     "I32",
                                          "I16", "I8",  "U8",  "BOOL", "F8_E4M3", "F8_E5M2"};
  for (const std::string& name : names) {
    INFO(name);
    auto dtype = dtype_from_safetensors(name);
    REQUIRE(dtype.has_value());
    CHECK(dtype_to_safetensors(*dtype) == name);
    CHECK(dtype_size(*dtype) == c10::elementSize(*dtype));
  }
  CHECK(dtype_from_safetensors("F32") == torch::kFloat32);
  CHECK(dtype_from_safetensors("BF16") == torch::kBFloat16);
  CHECK(dtype_size(torch::kFloat64) == 8);
  CHECK(dtype_size(torch::kBool) == 1);
#if ZILI_TORCH_AT_LEAST(2, 3)
  CHECK(dtype_from_safetensors("U16") == torch::kUInt16);
  CHECK(dtype_from_safetensors("U64") == torch::kUInt64);
#endif
  CHECK_FALSE(dtype_from_safetensors("F4").has_value());
  CHECK_FALSE(dtype_from_safetensors("f32").has_value());
  CHECK(dtype_size(torch::kComplexFloat) == 0);
  CHECK_THROWS_AS(dtype_to_safetensors(torch::kComplexFloat), zili::Error);
}

TEST_CASE("safetensors: every dtype round trips bit-exactly with metadata", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (c10::ScalarType dtype : all_dtypes())
    tensors.emplace_back(fmt::format("t.{}", dtype_to_safetensors(dtype)),
                         random_tensor(dtype, {3, 5}));
  tensors.emplace_back("scalar", random_tensor(torch::kFloat32, {}));
  tensors.emplace_back("empty", random_tensor(torch::kBFloat16, {0, 4}));
  tensors.emplace_back("transposed", random_tensor(torch::kFloat32, {4, 6}).t());
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "h\u00e9llo"}};
  save_safetensors(path, tensors, metadata);

  auto file = SafetensorsFile::open(path);
  CHECK(file->path() == path);
  CHECK(file->file_size() == fs::file_size(path));
  CHECK(file->metadata() == metadata);
  REQUIRE(file->tensors().size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, expected] = tensors[i];
    INFO(name);
    // Tensors come in data-offset order, which the writer lays out in the given order.
    CHECK(file->tensors()[i].name == name);
    REQUIRE(file->find(name) != nullptr);
    const torch::Tensor actual = file->tensor(name);
    CHECK(actual.scalar_type() == expected.scalar_type());
    CHECK(actual.sizes() == expected.sizes());
    CHECK(bit_equal(actual, expected));
  }
  CHECK(file->tensor("scalar").dim() == 0);
  CHECK(file->tensor("empty").numel() == 0);
  CHECK(file->find("absent") == nullptr);
  CHECK_THAT(error_of([&] { file->tensor("absent"); }),
             Contains("no tensor named 'absent'") && Contains(path));
}

TEST_CASE("safetensors: a file with no tensors is valid", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("empty.safetensors");
  write_bytes(path, file_bytes("{}"));
  auto file = SafetensorsFile::open(path);
  CHECK(file->tensors().empty());
  CHECK(file->metadata().empty());

  save_safetensors(path, {});
  CHECK(SafetensorsFile::open(path)->tensors().empty());
}

TEST_CASE("safetensors: gaps and trailing bytes are refused; odd alignment is read correctly",
          "[safetensors]") {
  TempDir dir;
  // The reference implementation refuses both (invalid offset / not fully covered).
  const std::string gap = dir.file("gap.safetensors");
  // a: F32 [2] at [0, 8), a 4-byte gap, b: I16 [1] at [12, 14).
  std::string data(14, '\x55');
  std::string header =
      "{" +
      fmt::format(R"("a":{},"b":{})", entry("F32", "[2]", 0, 8), entry("I16", "[1]", 12, 14)) + "}";
  write_bytes(gap, file_bytes(header, data));
  REQUIRE_THROWS_WITH(SafetensorsFile::open(gap),
                      Catch::Contains("gap.safetensors") && Catch::Contains("tensor 'b'") &&
                          Catch::Contains("starts at byte 12") && Catch::Contains("a gap"));
  const std::string trailing = dir.file("trailing.safetensors");
  header = "{" + fmt::format(R"("a":{})", entry("F32", "[2]", 0, 8)) + "}";
  write_bytes(trailing, file_bytes(header, std::string(10, '\x55')));
  REQUIRE_THROWS_WITH(
      SafetensorsFile::open(trailing),
      Catch::Contains("trailing.safetensors") && Catch::Contains("2 bytes after the last tensor"));

  // BF16 [3] takes 6 bytes, so the F32 after it sits at an address that is not 4-aligned.
  const std::string odd = dir.file("odd.safetensors");
  const torch::Tensor first = random_tensor(torch::kBFloat16, {3});
  const torch::Tensor second = torch::tensor({3.0f, -4.5f});
  save_safetensors(odd, {{"first", first}, {"second", second}});
  auto odd_file = SafetensorsFile::open(odd);
  CHECK(odd_file->find("second")->begin == 6);
  CHECK(bit_equal(odd_file->tensor("first"), first));
  CHECK(bit_equal(odd_file->tensor("second"), second));
}

TEST_CASE("safetensors: tensors are zero-copy views of a copy-on-write mapping", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("cow.safetensors");
  const torch::Tensor a = random_tensor(torch::kFloat32, {4, 4});
  const torch::Tensor b = random_tensor(torch::kFloat32, {8});
  save_safetensors(path, {{"a", a}, {"b", b}});
  const std::string on_disk = zili::read_file(path);

  auto file = SafetensorsFile::open(path);
  torch::Tensor a1 = file->tensor("a");
  torch::Tensor a2 = file->tensor("a");
  torch::Tensor b1 = file->tensor("b");
  // No copy: both calls give the same memory, and b lies where the file puts it after a.
  CHECK(a1.data_ptr() == a2.data_ptr());
  CHECK(static_cast<char*>(b1.data_ptr()) - static_cast<char*>(a1.data_ptr()) ==
        int64_t(file->find("b")->begin - file->find("a")->begin));

  a1.fill_(7.0f);
  CHECK(file->tensor("a")[2][3].item<float>() == 7.0f);  // the mapping changed...
  CHECK(zili::read_file(path) == on_disk);               // ...the file did not
  CHECK(bit_equal(SafetensorsFile::open(path)->tensor("a"), a));

  // The tensors keep the mapping alive after the file object is gone.
  file.reset();
  CHECK(a1.sum().item<float>() == 7.0f * 16);
  CHECK(bit_equal(b1, b));
}

// Resident pages of this process, in bytes (/proc/self/statm, second field).
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * int64_t(::sysconf(_SC_PAGESIZE));
}

TEST_CASE("safetensors: release() gives back a tensor's pages, keeping its neighbours'",
          "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("release.safetensors");
  const torch::Tensor small = random_tensor(torch::kFloat32, {3});
  const torch::Tensor big = random_tensor(torch::kFloat32, {4 << 20});  // 16 MiB
  save_safetensors(path, {{"small", small}, {"big", big}});
  auto file = SafetensorsFile::open(path);

  // Reading every page of big maps it into this process; release() unmaps it again.
  const int64_t before = resident_bytes();
  CHECK(bit_equal(file->tensor("big"), big));
  const int64_t read = resident_bytes();
  CHECK(read - before > (8 << 20));
  file->release("big");
  CHECK(read - resident_bytes() > (8 << 20));
  // The bytes come back from the file on the next read.
  CHECK(bit_equal(file->tensor("big"), big));

  // A change through a view is dropped with the pages (documented), but small shares its
  // page with big's first bytes, so releasing big keeps the change to small.
  file->tensor("big").fill_(1.0f);
  file->tensor("small").fill_(2.0f);
  file->release("big");
  CHECK(file->tensor("big")[1 << 20].item<float>() == big[1 << 20].item<float>());
  CHECK(file->tensor("small")[0].item<float>() == 2.0f);
  CHECK_THROWS_AS(file->release("absent"), zili::Error);
}

TEST_CASE("safetensors: malformed files are rejected with one line naming file and defect",
          "[safetensors]") {
  struct Bad {
    std::string name;
    std::string bytes;
    std::string defect;
  };
  const std::string f32_8 = entry("F32", "[2]", 0, 8);
  auto one = [&](const std::string& body, const std::string& data = std::string(8, '\x01')) {
    return file_bytes("{" + body + "}", data);
  };
  const std::vector<Bad> cases = {
      {"empty", "", "is 0 bytes, shorter than the 8-byte header length"},
      {"five_bytes", "\x01\x02\x03\x04\x05", "is 5 bytes, shorter than the 8-byte header length"},
      {"header_past_end", le64(1000) + "{}", "header length 1000 runs past the end of the file"},
      {"header_absurd", le64(uint64_t(1) << 40) + "{}      ",
       "header length 1099511627776 is absurd"},
      {"not_json", file_bytes(R"({"w": )"), "header is not valid JSON"},
      {"bad_utf8", file_bytes("{\"w\xff\": 1}"), "header is not valid JSON"},
      {"not_object", file_bytes("[1, 2]"), "header is a JSON array, not a JSON object"},
      {"entry_not_object", one(R"("w": 5)"), "tensor 'w': header entry is 5, not an object"},
      {"missing_dtype", one(R"("w": {"shape": [2], "data_offsets": [0, 8]})"),
       "tensor 'w' has no \"dtype\""},
      {"missing_shape", one(R"("w": {"dtype": "F32", "data_offsets": [0, 8]})"),
       "tensor 'w' has no \"shape\""},
      {"missing_offsets", one(R"("w": {"dtype": "F32", "shape": [2]})"),
       "tensor 'w' has no \"data_offsets\""},
      {"dtype_not_string", one(R"("w": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]})"),
       "tensor 'w': \"dtype\" is 4, not a string"},
      {"unknown_dtype", one(R"("w": )" + entry("Q4", "[2]", 0, 8)),
       "tensor 'w' has unknown dtype 'Q4'"},
      {"shape_not_list", one(R"("w": )" + entry("F32", "2", 0, 8)),
       "tensor 'w': \"shape\" is 2, not a list"},
      {"negative_dim", one(R"("w": )" + entry("F32", "[2, -1]", 0, 8)),
       "\"shape\" dimension 1 is -1, not a non-negative integer"},
      {"fractional_dim", one(R"("w": )" + entry("F32", "[1.5]", 0, 8)),
       "\"shape\" dimension 0 is 1.5, not a non-negative integer"},
      {"string_dim", one(R"("w": )" + entry("F32", R"(["2"])", 0, 8)),
       "\"shape\" dimension 0 is the string '2'"},
      {"dim_beyond_int64", one(R"("w": )" + entry("F32", "[18446744073709551615]", 0, 8)),
       "\"shape\" dimension 0 is 18446744073709551615"},
      {"shape_overflow", one(R"("w": )" + entry("F32", "[4294967296, 4294967296]", 0, 8)),
       "shape [4294967296, 4294967296] is too large"},
      {"empty_shape_overflow",
       one(R"("w": )" + entry("F32", "[0, 4611686018427387904, 4611686018427387904]", 0, 0)),
       "is too large"},
      {"offsets_one_number", one(R"("w": {"dtype": "F32", "shape": [2], "data_offsets": [8]})"),
       "tensor 'w': \"data_offsets\" must be [begin, end]"},
      {"offsets_negative", one(R"("w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]})"),
       "\"data_offsets\" must be [begin, end]"},
      {"offsets_reversed", one(R"("w": )" + entry("F32", "[1]", 8, 4)),
       "data_offsets [8, 4] are reversed"},
      {"offsets_past_data", one(R"("w": )" + entry("F32", "[4]", 0, 16)),
       "data_offsets [0, 16] lie outside the data area (8 bytes)"},
      {"offsets_past_data_huge",
       one(R"("w": )" + entry("U8", "[1]", 18446744073709551614u, 18446744073709551615u)),
       "\"data_offsets\" must be [begin, end]"},
      {"size_mismatch", one(R"("w": )" + entry("F32", "[3]", 0, 8)),
       "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8"},
      {"overlap",
       one(R"("a": )" + entry("F32", "[2]", 0, 8) + R"(, "b": )" + entry("F32", "[2]", 4, 12),
           std::string(12, '\x01')),
       "tensors 'a' [0, 8] and 'b' [4, 12] overlap"},
      {"duplicate", one(R"("w": )" + f32_8 + R"(, "w": )" + f32_8), "tensor 'w' appears twice"},
      {"metadata_not_object", one(R"("__metadata__": [1], "w": )" + f32_8),
       "\"__metadata__\" is a JSON array, not an object of strings"},
      {"metadata_value_not_string", one(R"("__metadata__": {"k": 1}, "w": )" + f32_8),
       "\"__metadata__\" entry 'k' is 1, not a string"},
      {"name_with_newline", one("\"a\\nb\": 5"), "tensor 'a\\x0ab'"},
  };
  REQUIRE(cases.size() >= 15);
  TempDir dir;
  for (const Bad& bad : cases) {
    DYNAMIC_SECTION(bad.name) {
      const std::string path = dir.file(bad.name + ".safetensors");
      write_bytes(path, bad.bytes);
      REQUIRE_THROWS_AS(SafetensorsFile::open(path), zili::Error);
      REQUIRE_THROWS_WITH(SafetensorsFile::open(path), Contains(bad.defect) && Contains(path));
      // One printable line, even where the file holds control or invalid UTF-8 bytes.
      const std::string message = open_error(path);
      CHECK(std::all_of(message.begin(), message.end(),
                        [](char c) { return c >= 0x20 && c < 0x7f; }));
    }
  }
}

TEST_CASE("safetensors: truncated or mutated files give zili::Error, never a crash",
          "[safetensors]") {
  TempDir dir;
  const std::string good_path = dir.file("good.safetensors");
  save_safetensors(good_path,
                   {{"a", random_tensor(torch::kFloat32, {2, 3})},
                    {"b", random_tensor(torch::kBFloat16, {5})},
                    {"c", random_tensor(torch::kInt64, {})}},
                   {{"format", "pt"}});
  const std::string good = zili::read_file(good_path);
  const std::string path = dir.file("bad.safetensors");

  // The data area holds exactly the tensors, so every truncation cuts something off.
  for (size_t length = 0; length < good.size(); ++length) {
    INFO("length " << length);
    write_bytes(path, good.substr(0, length));
    REQUIRE_THROWS_AS(SafetensorsFile::open(path), zili::Error);
  }

  std::mt19937 rng(1234);
  int opened = 0, rejected = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = good;
    const int flips = 1 + int(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      // Mostly the header (where validation matters), sometimes the length prefix.
      const size_t at = (rng() % 8 == 0) ? rng() % 8 : rng() % std::min<size_t>(bytes.size(), 200);
      bytes[at] = char(rng() % 256);
    }
    write_bytes(path, bytes);
    try {
      auto file = SafetensorsFile::open(path);
      for (const TensorInfo& info : file->tensors())
        (void)file->tensor(info.name).reshape({-1}).view(torch::kUInt8).sum().item<int64_t>();
      ++opened;
    } catch (const zili::Error& e) {
      ++rejected;
      REQUIRE(std::string(e.what()).find(path) != std::string::npos);
    }
  }
  CHECK(rejected > 0);
  CHECK(opened > 0);
}

TEST_CASE("SafetensorsWriter: header is padded to 8 bytes, data follows in spec order",
          "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  const torch::Tensor z = torch::tensor({1.5f, -2.0f});
  const torch::Tensor a = torch::tensor({int16_t(3)}, torch::kInt16);
  save_safetensors(path, {{"z", z}, {"a", a}}, {{"k", "v"}});
  const std::string bytes = zili::read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[i]);
  CHECK(n % 8 == 0);
  REQUIRE(8 + n + 10 == bytes.size());  // 8 bytes of z, 2 of a, nothing else
  const std::string header = bytes.substr(8, n);
  const size_t json_end = header.rfind('}') + 1;
  CHECK(header.find_first_not_of(' ', json_end) == std::string::npos);  // padding: spaces
  const auto json = nlohmann::json::parse(header);
  CHECK(json["z"]["dtype"] == "F32");
  CHECK(json["z"]["shape"] == nlohmann::json::array({2}));
  CHECK(json["z"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(json["a"]["data_offsets"] == nlohmann::json::array({8, 10}));
  CHECK(json["__metadata__"]["k"] == "v");
  float raw[2];
  std::memcpy(raw, bytes.data() + 8 + n, 8);
  CHECK(raw[0] == 1.5f);
  CHECK(raw[1] == -2.0f);
  CHECK(dir.listing() == std::vector<std::string>{"layout.safetensors"});  // no temporaries
}

TEST_CASE("SafetensorsWriter: destroyed without commit leaves no file", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("never.safetensors");
  const std::vector<TensorSpec> specs = {{"x", torch::kFloat32, {2, 3}}, {"y", torch::kInt64, {4}}};
  {
    SafetensorsWriter writer(path, specs);
    CHECK(dir.listing().size() == 1);  // the temporary file, not under the final name
    CHECK_FALSE(fs::exists(path));
    writer.write(torch::ones({2, 3}));
  }
  CHECK(dir.listing().empty());

  // An existing file under the name survives an abandoned rewrite untouched.
  save_safetensors(path, {{"old", torch::ones({1})}});
  const std::string before = zili::read_file(path);
  { SafetensorsWriter writer(path, specs); }
  CHECK(zili::read_file(path) == before);
  CHECK(dir.listing() == std::vector<std::string>{"never.safetensors"});
}

TEST_CASE("SafetensorsWriter: a tensor unlike its spec is refused, expected vs actual",
          "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("mismatch.safetensors");
  {
    SafetensorsWriter writer(path, {{"x", torch::kFloat32, {2, 3}}});
    CHECK_THROWS_WITH(writer.write(torch::ones({2, 3}, torch::kFloat64)),
                      Contains("expected dtype Float but got Double"));
    CHECK_THROWS_WITH(writer.write(torch::ones({3, 2})),
                      Contains("expected shape [2, 3] but got [3, 2]"));
    CHECK_THROWS_WITH(writer.commit(), Contains("commit() after 0 of 1 tensors"));
    writer.write(torch::ones({3, 2}).t());  // non-contiguous is fine
    CHECK_THROWS_WITH(writer.write(torch::ones({2, 3})), Contains("written already"));
    writer.commit();
  }
  CHECK(torch::equal(SafetensorsFile::open(path)->tensor("x"), torch::ones({2, 3})));
}

TEST_CASE("SafetensorsWriter: a failed write is a zili::Error and leaves nothing behind",
          "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("full.safetensors");
  save_safetensors(path, {{"old", torch::ones({1})}});
  const std::string before = zili::read_file(path);

  // A 64 KiB file-size limit makes write() fail with EFBIG, as a full disk would (ENOSPC).
  struct rlimit saved {};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 64 * 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string message;
  try {
    save_safetensors(path, {{"big", torch::ones({1024 * 1024})}});
  } catch (const zili::Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);

  CHECK_THAT(message, Contains(path) && Contains("write failed"));
  CHECK(zili::read_file(path) == before);
  CHECK(dir.listing() == std::vector<std::string>{"full.safetensors"});
}

TEST_CASE("plan_shards: splits in order at the byte limit", "[safetensors]") {
  auto specs = [](std::vector<int64_t> bytes) {
    std::vector<TensorSpec> out;
    for (size_t i = 0; i < bytes.size(); ++i)
      out.push_back({fmt::format("t{}", i), torch::kUInt8, {bytes[i]}});
    return out;
  };
  using Plan = std::vector<std::vector<size_t>>;
  CHECK(plan_shards(specs({4, 4}), 8) == Plan{{0, 1}});            // exactly full
  CHECK(plan_shards(specs({4, 5}), 8) == Plan{{0}, {1}});          // one byte over
  CHECK(plan_shards(specs({8, 1}), 8) == Plan{{0}, {1}});          // as large as the limit
  CHECK(plan_shards(specs({4, 9, 4}), 8) == Plan{{0}, {1}, {2}});  // too large: alone
  CHECK(plan_shards(specs({2, 2, 9, 2}), 8) == Plan{{0, 1}, {2}, {3}});
  CHECK(plan_shards(specs({3, 3, 3, 3}), 7) == Plan{{0, 1}, {2, 3}});
  CHECK(plan_shards(specs({8, 0}), 8) == Plan{{0, 1}});  // empty tensors join
  CHECK(plan_shards(specs({}), 8).empty());
  // Sizes count bytes, not elements: 3 F32 values are 12 bytes.
  CHECK(plan_shards({{"a", torch::kFloat32, {3}}, {"b", torch::kFloat32, {1}}}, 12) ==
        Plan{{0}, {1}});
}

TEST_CASE("parse_byte_size: units as transformers reads them", "[safetensors]") {
  CHECK(parse_byte_size("5GB") == 5'000'000'000ull);
  CHECK(parse_byte_size("5GiB") == 5ull << 30);
  CHECK(parse_byte_size("500MB") == 500'000'000ull);
  CHECK(parse_byte_size("2MiB") == 2ull << 20);
  CHECK(parse_byte_size("100KB") == 100'000ull);
  CHECK(parse_byte_size("100kB") == 100'000ull);
  CHECK(parse_byte_size("3KiB") == 3072ull);
  CHECK(parse_byte_size("5Gb") == 625'000'000ull);  // bits
  CHECK(parse_byte_size("8Mb") == 1'000'000ull);
  CHECK(parse_byte_size("12345") == 12345ull);
  CHECK(parse_byte_size(" 10 GB ") == 10'000'000'000ull);
  for (const std::string bad : {"", "GB", "5XB", "-5GB", "5.5GB", "abc", "5 G B", "5gib",
                                "99999999999999999999", "99999999999GiB"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_byte_size(bad), Contains("--max-shard-size: cannot read '" + bad +
                                                     "' (use e.g. 5GB, 500MB, 2GiB)"));
  }
  CHECK_THROWS_WITH(parse_byte_size("0MB"), Contains("zero bytes"));
}

TEST_CASE("save_checkpoint_tensors: one shard is model.safetensors without an index",
          "[safetensors]") {
  TempDir dir;
  const std::string ckpt = dir.file("ckpt");
  const torch::Tensor w = random_tensor(torch::kBFloat16, {4, 8});
  const torch::Tensor b = random_tensor(torch::kFloat32, {8});
  const auto written =
      save_checkpoint_tensors(ckpt, {{"w", w}, {"b", b}}, parse_byte_size("5GB"), {{"k", "v"}});
  CHECK(written == std::vector<std::string>{"model.safetensors"});
  CHECK_FALSE(fs::exists(fs::path(ckpt) / "model.safetensors.index.json"));

  auto checkpoint = CheckpointTensors::open(ckpt);
  CHECK_FALSE(checkpoint.sharded());
  CHECK(checkpoint.names() == std::vector<std::string>{"b", "w"});
  CHECK(checkpoint.contains("w"));
  CHECK_FALSE(checkpoint.contains("x"));
  CHECK(checkpoint.info("w").dtype == torch::kBFloat16);
  CHECK(bit_equal(checkpoint.tensor("w"), w));
  CHECK(bit_equal(checkpoint.tensor("b"), b));
  REQUIRE(checkpoint.files().size() == 1);
  CHECK(checkpoint.files()[0].second == fs::file_size(fs::path(ckpt) / "model.safetensors"));
  // transformers refuses safetensors metadata without "format".
  const auto metadata = SafetensorsFile::open(ckpt + "/model.safetensors")->metadata();
  CHECK(metadata.at("format") == "pt");
  CHECK(metadata.at("k") == "v");
  CHECK_THAT(error_of([&] { checkpoint.info("x"); }), Contains("no tensor named 'x'"));
  CHECK_THAT(error_of([&] { checkpoint.tensor("x"); }), Contains(ckpt));
}

TEST_CASE("save_checkpoint_tensors: shards and index round trip, stale files go", "[safetensors]") {
  TempDir dir;
  const std::string ckpt = dir.file("ckpt");
  // Bytes 256, 200, 800, 80, 60 with a 300-byte limit: [t0] [t1] [t2 (too large)] [t3 t4].
  const std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"model.t0", random_tensor(torch::kFloat32, {64})},
      {"model.t1", random_tensor(torch::kBFloat16, {100})},
      {"model.t2", random_tensor(torch::kFloat32, {10, 20})},
      {"lm_head", random_tensor(torch::kInt64, {10})},
      {"model.a4", random_tensor(torch::kFloat16, {30})},
  };
  const auto written = save_checkpoint_tensors(ckpt, tensors, 300);
  const std::vector<std::string> expected_files = {
      "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
      "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors",
      "model.safetensors.index.json"};
  CHECK(written == expected_files);

  const std::string index_text = zili::read_file(ckpt + "/model.safetensors.index.json");
  const auto index = nlohmann::json::parse(index_text);
  CHECK(index["metadata"]["total_size"] == 256 + 200 + 800 + 80 + 60);
  CHECK(index["weight_map"]["model.t0"] == "model-00001-of-00004.safetensors");
  CHECK(index["weight_map"]["model.t2"] == "model-00003-of-00004.safetensors");
  CHECK(index["weight_map"]["lm_head"] == "model-00004-of-00004.safetensors");
  CHECK(index["weight_map"]["model.a4"] == "model-00004-of-00004.safetensors");
  CHECK(index_text.find("\"lm_head\"") < index_text.find("\"model.a4\""));  // sorted keys
  CHECK(index_text.find("\"model.a4\"") < index_text.find("\"model.t0\""));

  auto checkpoint = CheckpointTensors::open(ckpt);
  CHECK(checkpoint.sharded());
  CHECK(checkpoint.names() ==
        std::vector<std::string>{"lm_head", "model.a4", "model.t0", "model.t1", "model.t2"});
  for (const auto& [name, tensor] : tensors) {
    INFO(name);
    CHECK(bit_equal(checkpoint.tensor(name), tensor));
  }
  const auto files = checkpoint.files();
  REQUIRE(files.size() == 4);
  for (const auto& [file, size] : files) CHECK(size == fs::file_size(file));
  CHECK(SafetensorsFile::open(files[0].first)->metadata().at("format") == "pt");

  // Saved again as one file: the old index and shards go.
  CHECK(save_checkpoint_tensors(ckpt, tensors, parse_byte_size("1GB")) ==
        std::vector<std::string>{"model.safetensors"});
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(ckpt)) names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"model.safetensors"});
  CHECK_FALSE(CheckpointTensors::open(ckpt).sharded());

  // And sharded again (2 shards this time): model.safetensors goes.
  CHECK(save_checkpoint_tensors(ckpt, tensors, 1000).size() == 3);
  names.clear();
  for (const auto& e : fs::directory_iterator(ckpt)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors",
                                          "model.safetensors.index.json"});
  auto again = CheckpointTensors::open(ckpt);
  CHECK(again.files().size() == 2);
  CHECK(bit_equal(again.tensor("model.t2"), tensors[2].second));
}

TEST_CASE("CheckpointTensors: missing or inconsistent files are clear errors", "[safetensors]") {
  TempDir dir;
  const std::string ckpt = dir.file("ckpt");
  const std::string index_path = ckpt + "/model.safetensors.index.json";
  const std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"a", random_tensor(torch::kFloat32, {16})}, {"b", random_tensor(torch::kFloat32, {16})}};

  SECTION("no checkpoint at all") {
    fs::create_directories(ckpt);
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt); }),
               Contains(ckpt + ": no model.safetensors or model.safetensors.index.json (is this "
                               "a Hugging Face checkpoint folder?)"));
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt + "/nowhere"); }),
               Contains("no such folder"));
  }
  SECTION("a shard is missing") {
    save_checkpoint_tensors(ckpt, tensors, 64);
    fs::remove(ckpt + "/model-00002-of-00002.safetensors");
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt); }),
               Contains("model-00002-of-00002.safetensors is missing") && Contains(index_path));
  }
  SECTION("a listed tensor is not in its shard") {
    save_checkpoint_tensors(ckpt, tensors, 64);
    auto index = nlohmann::json::parse(zili::read_file(index_path));
    index["weight_map"]["ghost"] = "model-00001-of-00002.safetensors";
    zili::write_file_atomic(index_path, index.dump());
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt); }),
               Contains("tensor 'ghost'") && Contains("model-00001-of-00002.safetensors") &&
                   Contains("does not hold it"));
  }
  SECTION("a tensor is in two shards") {
    fs::create_directories(ckpt);
    save_safetensors(ckpt + "/one.safetensors", {tensors[0]});
    save_safetensors(ckpt + "/two.safetensors", tensors);
    zili::write_file_atomic(index_path,
                            R"({"weight_map": {"a": "one.safetensors", "b": "two.safetensors"}})");
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt); }),
               Contains("tensor 'a' is in two shards") && Contains("one.safetensors") &&
                   Contains("two.safetensors"));
  }
  SECTION("the index is not JSON or has no weight_map") {
    fs::create_directories(ckpt);
    zili::write_file_atomic(index_path, "{\"weight_map\": ");
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt); }),
               Contains(index_path) && Contains("not valid JSON"));
    zili::write_file_atomic(index_path, R"({"metadata": {}})");
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt); }),
               Contains(index_path) && Contains("no \"weight_map\""));
  }
  SECTION("a corrupt shard names the shard") {
    save_checkpoint_tensors(ckpt, tensors, 64);
    write_bytes(ckpt + "/model-00001-of-00002.safetensors", "abc");
    CHECK_THAT(error_of([&] { CheckpointTensors::open(ckpt); }),
               Contains("model-00001-of-00002.safetensors: file is 3 bytes"));
  }
}
