// tokenizer.json's "normalizer": what is done to the text before pre-tokenization (NFC, NFD,
// NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence), each as tokenizers does it.
#pragma once

#include <memory>
#include <string>

#include "data/tokenizer_json/json_access.h"

namespace zili::data::tj {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
  virtual std::string describe() const = 0;  // "NFC", "Sequence(Prepend, Replace)"
};

// nullptr for a null normalizer. zili::Error naming the path for an unknown or unsupported
// type ("normalizer.type: BertNormalizer is not supported ...") or a bad member.
std::unique_ptr<Normalizer> parse_normalizer(const json& value, const Where& where);

}  // namespace zili::data::tj
