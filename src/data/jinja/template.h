// A Jinja chat template (Hugging Face's tokenizer_config.json "chat_template"), parsed once
// and rendered as transformers' apply_chat_template renders it: jinja2 with trim_blocks and
// lstrip_blocks, raise_exception, strftime_now, and tojson as transformers defines it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace zili::data::jinja {

class Template {
 public:
  // zili::Error "<name>:<line>:<column>: <what>" for a syntax error or a construct zili does
  // not support (named: "the 'call' block is not supported").
  static Template parse(const std::string& source, const std::string& name);

  struct Rendered {
    std::string text;
    // [begin, end) byte ranges of text written inside {% generation %} ... {% endgeneration %}
    // blocks (transformers' assistant masks), in order.
    std::vector<std::pair<size_t, size_t>> generation_spans;
  };
  // context: the template's variables (messages, bos_token, eos_token, add_generation_prompt,
  // tools, ...) as JSON values; object key order is kept (tojson and items() see it).
  // zili::Error "<name>:<line>: <what>" for a runtime error; raise_exception("msg") gives
  // "<name>: the template raised: msg".
  Rendered render(const nlohmann::ordered_json& context) const;

  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

 private:
  struct Impl;
  explicit Template(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace zili::data::jinja
