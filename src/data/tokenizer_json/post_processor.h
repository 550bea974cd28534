// tokenizer.json's "post_processor": the special tokens added around a sequence when
// encode(..., add_special_tokens=true) (TemplateProcessing's "single" template, Roberta/Bert
// cls + sep; ByteLevel adds none), and nothing otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer_json/json_access.h"

namespace zili::data::tj {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // ids of one sequence -> the ids with the special tokens the processor adds.
  virtual std::vector<int64_t> process(std::vector<int64_t> ids) const = 0;
  virtual std::string describe() const = 0;
};

// nullptr for null; zili::Error naming the path otherwise.
std::unique_ptr<PostProcessor> parse_post_processor(const json& value, const Where& where);

}  // namespace zili::data::tj
