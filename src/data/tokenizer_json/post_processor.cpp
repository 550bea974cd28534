// Post-processors: TemplateProcessing's single template is a list of {"SpecialToken": {"id"}}
// (expanded to the ids its special_tokens entry lists) and {"Sequence": {"id": "A"}} (the
// text's ids); the pair template is read by no one here (zili encodes single sequences).
#include "data/tokenizer_json/post_processor.h"

#include <map>

namespace zili::data::tj {
namespace {

class Template : public PostProcessor {
 public:
  // A step is either the sequence (ids empty, is_sequence) or fixed ids.
  struct Step {
    bool is_sequence = false;
    std::vector<int64_t> ids;
  };
  explicit Template(std::vector<Step> steps) : steps_(std::move(steps)) {}
  std::vector<int64_t> process(std::vector<int64_t> ids) const override {
    std::vector<int64_t> out;
    out.reserve(ids.size() + 4);
    for (const Step& step : steps_) {
      if (step.is_sequence)
        out.insert(out.end(), ids.begin(), ids.end());
      else
        out.insert(out.end(), step.ids.begin(), step.ids.end());
    }
    return out;
  }
  std::string describe() const override { return "TemplateProcessing"; }

 private:
  std::vector<Step> steps_;
};

class Identity : public PostProcessor {
 public:
  std::vector<int64_t> process(std::vector<int64_t> ids) const override { return ids; }
  std::string describe() const override { return "ByteLevel"; }
};

class Sequence : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  std::vector<int64_t> process(std::vector<int64_t> ids) const override {
    for (const auto& step : steps_) ids = step->process(std::move(ids));
    return ids;
  }
  std::string describe() const override {
    std::string out;
    for (const auto& step : steps_) out += (out.empty() ? "" : " + ") + step->describe();
    return out;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

std::unique_ptr<PostProcessor> parse_template(const json& value, const Where& where) {
  std::map<std::string, std::vector<int64_t>> specials;
  if (const json* table = member(value, "special_tokens", where); table && !table->is_null()) {
    if (!table->is_object()) (where / "special_tokens").fail("expected an object");
    for (const auto& [name, entry] : table->items()) {
      const Where at = where / "special_tokens" / name;
      const json& ids = required(entry, "ids", at);
      if (!ids.is_array()) (at / "ids").fail("expected a list of ids");
      for (const json& id : ids) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0) (at / "ids").fail("expected ids");
        specials[name].push_back(id.get<int64_t>());
      }
    }
  }
  const json& single = required(value, "single", where);
  if (!single.is_array()) (where / "single").fail("expected a list of template pieces");
  std::vector<Template::Step> steps;
  for (size_t i = 0; i < single.size(); ++i) {
    const Where at = (where / "single")[i];
    if (const json* special = member(single[i], "SpecialToken", at)) {
      const std::string id = string_member(*special, "id", at / "SpecialToken");
      const auto it = specials.find(id);
      if (it == specials.end())
        (at / "SpecialToken").fail("\"" + id + "\" is not in the processor's special_tokens");
      steps.push_back({false, it->second});
    } else if (member(single[i], "Sequence", at)) {
      steps.push_back({true, {}});
    } else {
      at.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
  return std::make_unique<Template>(std::move(steps));
}

// Roberta and Bert processing: [cls] ids [sep], each given as ["token", id].
std::unique_ptr<PostProcessor> parse_cls_sep(const json& value, const Where& where) {
  std::vector<Template::Step> steps(3);
  const auto id_of = [&](const char* key) {
    const json& pair = required(value, key, where);
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer())
      (where / key).fail("expected [\"token\", id]");
    return pair[1].get<int64_t>();
  };
  steps[0].ids = {id_of("cls")};
  steps[1].is_sequence = true;
  steps[2].ids = {id_of("sep")};
  return std::make_unique<Template>(std::move(steps));
}

}  // namespace

std::unique_ptr<PostProcessor> parse_post_processor(const json& value, const Where& where) {
  if (value.is_null()) return nullptr;
  const std::string type = type_of(value, where);
  if (type == "TemplateProcessing") return parse_template(value, where);
  if (type == "ByteLevel") return std::make_unique<Identity>();
  if (type == "RobertaProcessing" || type == "BertProcessing") return parse_cls_sep(value, where);
  if (type == "Sequence") {
    const json& list = required(value, "processors", where);
    if (!list.is_array()) (where / "processors").fail("expected a list of post-processors");
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (size_t i = 0; i < list.size(); ++i)
      if (auto step = parse_post_processor(list[i], (where / "processors")[i]))
        steps.push_back(std::move(step));
    return std::make_unique<Sequence>(std::move(steps));
  }
  (where / "type")
      .fail(type +
            " is not supported; zili reads the post-processors TemplateProcessing, "
            "ByteLevel, RobertaProcessing, BertProcessing and Sequence");
}

}  // namespace zili::data::tj
