// User-facing errors: something the user can cause and fix (a bad flag, a missing or
// malformed file). The CLI prints what() as one line and exits non-zero. Internal
// invariants use TORCH_CHECK instead: those are bugs when they fire.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace zili {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// fail("{}: header is not valid JSON ({})", path, why): throw a zili::Error.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace zili
