// The one place where differences between libtorch versions are bridged. zili builds
// against the pinned wheel (scripts/requirements.txt) and torch 2.11 (the GPU machines).
#pragma once

#include <torch/torch.h>

#define ZILI_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||       \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// Where a feature depends on the version, test it here and nowhere else, e.g.
// `#if ZILI_TORCH_AT_LEAST(2, 3)` around the unsigned 16/32/64-bit dtypes (src/io).
