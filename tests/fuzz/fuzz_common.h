// What every fuzz target shares: the oracle and a scratch file.
//
// The oracle: a parser may refuse its input only with zili::Error (the one-line message the
// CLI prints with exit 1) or std::filesystem::filesystem_error (which it prints the same way).
// Any other exception is what the CLI reports as an internal error (exit 2), so the target
// aborts on it, and libFuzzer keeps the input as a crash; so do ASan and UBSan findings.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/chat_template.h"
#include "util/error.h"

namespace zili::fuzz {

template <typename Body>
void expect_clean_refusal(Body&& body) {
  try {
    body();
  } catch (const zili::Error&) {
  } catch (const std::filesystem::filesystem_error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: not a zili::Error: %s\n", e.what());
    std::abort();
  }
}

// A folder of this process's own under the system's temporary folder.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string path =
        (std::filesystem::temp_directory_path() / ("zili-fuzz-" + std::to_string(::getpid())))
            .string();
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

// Writes the bytes to scratch_dir()/name and returns its path.
inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// One of the six chat templates, picked by the low three bits of a settings byte.
inline zili::data::ChatTemplate chat_template_from(uint8_t byte) {
  using zili::data::ChatTemplate;
  static const ChatTemplate templates[] = {ChatTemplate::chatml,  ChatTemplate::llama2,
                                           ChatTemplate::mistral, ChatTemplate::zephyr,
                                           ChatTemplate::alpaca,  ChatTemplate::plain};
  return templates[(byte & 7) % 6];
}

}  // namespace zili::fuzz
