// The dtype names of the safetensors format and their torch counterparts. Elements are
// stored little-endian; a dtype this build of torch lacks is unknown here.
#include <c10/core/ScalarType.h>
#include <fmt/ranges.h>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/torch_compat.h"

namespace zili::io {

namespace {

struct DtypeName {
  const char* name;
  c10::ScalarType dtype;
};

// In the order the safetensors spec lists them, widest first.
constexpr DtypeName kDtypes[] = {
    {"F64", c10::ScalarType::Double},
    {"F32", c10::ScalarType::Float},
    {"F16", c10::ScalarType::Half},
    {"BF16", c10::ScalarType::BFloat16},
    {"I64", c10::ScalarType::Long},
    {"I32", c10::ScalarType::Int},
    {"I16", c10::ScalarType::Short},
    {"I8", c10::ScalarType::Char},
    {"U8", c10::ScalarType::Byte},
    {"BOOL", c10::ScalarType::Bool},
#if ZILI_TORCH_AT_LEAST(2, 3)
    {"U64", c10::ScalarType::UInt64},
    {"U32", c10::ScalarType::UInt32},
    {"U16", c10::ScalarType::UInt16},
#endif
    // Float8 storage types exist since torch 2.1, older than any torch zili builds against.
    {"F8_E4M3", c10::ScalarType::Float8_e4m3fn},
    {"F8_E5M2", c10::ScalarType::Float8_e5m2},
};

}  // namespace

std::optional<c10::ScalarType> dtype_from_safetensors(const std::string& name) {
  for (const DtypeName& entry : kDtypes)
    if (name == entry.name) return entry.dtype;
  return std::nullopt;
}

std::string dtype_to_safetensors(c10::ScalarType dtype) {
  for (const DtypeName& entry : kDtypes)
    if (dtype == entry.dtype) return entry.name;
  fail("dtype {} cannot be stored in safetensors (it stores {})", c10::toString(dtype),
       safetensors_dtype_names());
}

size_t dtype_size(c10::ScalarType dtype) {
  for (const DtypeName& entry : kDtypes)
    if (dtype == entry.dtype) return c10::elementSize(dtype);
  return 0;
}

uint64_t spec_bytes(const TensorSpec& spec) {
  uint64_t bytes = dtype_size(spec.dtype);
  TORCH_CHECK(bytes > 0, "tensor '", spec.name, "' has dtype ", c10::toString(spec.dtype),
              ", which safetensors cannot store");
  for (int64_t dim : spec.shape) {
    TORCH_CHECK(dim >= 0, "tensor '", spec.name, "' has negative dim ", dim);
    TORCH_CHECK(!__builtin_mul_overflow(bytes, uint64_t(dim), &bytes), "tensor '", spec.name,
                "' is too large");
  }
  return bytes;
}

std::string shape_text(c10::IntArrayRef shape) {
  return fmt::format("[{}]", fmt::join(shape.begin(), shape.end(), ", "));
}

std::string safetensors_dtype_names() {
  std::string names;
  for (const DtypeName& entry : kDtypes) {
    if (!names.empty()) names += ", ";
    names += entry.name;
  }
  return names;
}

}  // namespace zili::io
