// zili-bench tokenize: load time of a tokenizer.json and encoding throughput on one thread
// (zili's encoder has no threads), the first encode (empty word cache) and the median of the
// later ones; bench/tokenizer_speed.py runs Hugging Face tokenizers on the same text.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

#include "bench/bench.h"
#include "data/tokenizer_json/tokenizer_json.h"
#include "util/error.h"

namespace zili::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

nlohmann::json tokenize_bench(const std::string& tokenizer_path, const std::string& text_path,
                              int repeats) {
  std::ifstream in(text_path, std::ios::binary);
  if (!in) fail("{}: cannot read the text file", text_path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  std::vector<double> loads;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const data::TokenizerJson loaded = data::TokenizerJson::load(tokenizer_path);
    loads.push_back(seconds_since(start));
  }
  const data::TokenizerJson tokenizer = data::TokenizerJson::load(tokenizer_path);
  auto start = std::chrono::steady_clock::now();
  const size_t tokens = tokenizer.encode(text, false).size();
  const double first = seconds_since(start);
  std::vector<double> warm;
  for (int i = 0; i < repeats; ++i) {
    start = std::chrono::steady_clock::now();
    tokenizer.encode(text, false);
    warm.push_back(seconds_since(start));
  }
  std::sort(loads.begin(), loads.end());
  std::sort(warm.begin(), warm.end());
  const double megabytes = static_cast<double>(text.size()) / 1e6;
  return {{"bench", "tokenize"},
          {"impl", "zili"},
          {"tokenizer", tokenizer_path},
          {"vocab_size", tokenizer.vocab_size()},
          {"text_bytes", text.size()},
          {"tokens", tokens},
          {"load_seconds", loads[1]},
          {"first_encode_mb_per_second", megabytes / first},
          {"encode_mb_per_second",
           warm.empty() ? megabytes / first : megabytes / warm[warm.size() / 2]}};
}

}  // namespace zili::bench
