// Shared by the data tests: a scratch folder, and small sentencepiece models trained on the
// shipped corpus (one plain, one that also has ChatML's markers as user-defined pieces).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenizer_files.h"
#include "util/atomic_file.h"

namespace zili::test {

inline const std::string kCorpus = std::string(ZILI_SOURCE_DIR) + "/data/tokenizer-corpus.txt";

// A fresh folder under the system temp folder, removed with everything in it at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    // Appended, not "literal" + string: GCC 12 under ASan warns (-Warray-bounds, falsely) on
    // the insert that operator+ does.
    std::string name = "zili-test-data-";
    name += std::to_string(getpid());
    name += '-';
    name += std::to_string(counter++);
    path = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline TempDir& scratch() {
  static TempDir dir;
  return dir;
}

// The Llama-style 512-piece model zili's own trainer makes: <unk>=0 <s>=1 </s>=2.
inline const data::Tokenizer& plain_tokenizer() {
  static const data::Tokenizer t = [] {
    const std::string path = scratch() / "plain.model";
    data::train_tokenizer(kCorpus, 512, path);
    return data::Tokenizer::load_model_file(path);
  }();
  return t;
}

// The same recipe with "<|im_start|>" and "<|im_end|>" as user-defined pieces (3 and 4),
// as in the ChatML fine-tunes whose sentencepiece model carries them.
inline const std::string& chatml_model_path() {
  static const std::string path = [] {
    const std::string file = scratch() / "chatml.model";
    data::train_tokenizer(kCorpus, 512, file, {"<|im_start|>", "<|im_end|>"});
    return file;
  }();
  return path;
}

inline const data::Tokenizer& chatml_tokenizer() {
  static const data::Tokenizer t = data::Tokenizer::load_model_file(chatml_model_path());
  return t;
}

// The ChatML model in a folder whose tokenizer_config.json names eos_token "<|im_end|>", as
// the Qwen-style checkpoints do.
inline const data::Tokenizer& im_end_eos_tokenizer() {
  static const data::Tokenizer t = [] {
    const std::string dir = scratch() / "im-end-eos";
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(chatml_model_path(), dir + "/tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
    write_file_atomic(dir + "/tokenizer_config.json", R"({"eos_token": "<|im_end|>"})");
    return data::Tokenizer::load_dir(dir);
  }();
  return t;
}

// The ids of several texts, the first encoded as a sequence start (dummy prefix), the rest
// as continuations: what tokenize_parts should give for text runs split at the same places.
inline std::vector<int64_t> concat(std::initializer_list<std::vector<int64_t>> lists) {
  std::vector<int64_t> all;
  for (const auto& list : lists) all.insert(all.end(), list.begin(), list.end());
  return all;
}

// The text the ids spell piece by piece, sentencepiece's space mark "\u2581" as a space
// and byte pieces ("<0x0A>") as their byte: unlike decode, it keeps a leading space (the
// dummy prefix shows) and the special pieces' text.
inline std::string raw_text(const data::Tokenizer& t, const std::vector<int64_t>& ids) {
  std::string text;
  for (const int64_t id : ids) {
    const std::string piece = t.piece(id);
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece.back() == '>') {
      text += static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16));
      continue;
    }
    for (size_t i = 0; i < piece.size(); ++i) {
      if (piece.compare(i, 3, "\xe2\x96\x81") == 0) {
        text += ' ';
        i += 2;
      } else {
        text += piece[i];
      }
    }
  }
  return text;
}

}  // namespace zili::test
