// tokenizer.json's "decoder": how tokens become text again (ByteLevel, Metaspace,
// ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence), each a step over the list of token
// strings as tokenizers' decode_chain is; the results are joined.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer_json/json_access.h"

namespace zili::data::tj {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  virtual std::string describe() const = 0;
};

// nullptr for null; zili::Error naming the path otherwise.
std::unique_ptr<Decoder> parse_decoder(const json& value, const Where& where);

}  // namespace zili::data::tj
