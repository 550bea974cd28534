// tokenizer.json's "pre_tokenizer": how normalized text is cut into words before the model
// (Split, ByteLevel, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit,
// BertPreTokenizer, Sequence), each as tokenizers cuts it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer_json/json_access.h"
#include "data/tokenizer_json/pieces.h"

namespace zili::data::tj {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits (and for ByteLevel and Metaspace rewrites) the text pieces; added tokens pass.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
  virtual std::string describe() const = 0;  // "Split + ByteLevel"
};

// nullptr for null; zili::Error naming the path for an unsupported type or a bad member.
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& value, const Where& where);

}  // namespace zili::data::tj
