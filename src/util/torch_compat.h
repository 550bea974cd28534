// The one place where differences between libtorch versions are bridged. zili builds
// against the pinned wheel (scripts/requirements.txt) and torch 2.11 (the GPU machines).
#pragma once

#include <torch/torch.h>

#define ZILI_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||       \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace zili {

// Unsigned 16/32/64-bit integer dtypes exist (as storage types) since torch 2.3.
constexpr bool kHasUnsignedWideDtypes = ZILI_TORCH_AT_LEAST(2, 3);

}  // namespace zili
