// Template: parse once (lexer + parser), render many times with a fresh evaluator whose
// root scope holds the context and the globals transformers gives chat templates: range,
// dict, namespace, raise_exception and strftime_now.
#include "data/jinja/template.h"

#include <ctime>

#include <fmt/format.h>

#include "data/jinja/evaluator.h"
#include "data/jinja/lexer.h"
#include "data/jinja/parser.h"
#include "util/error.h"

namespace zili::data::jinja {

struct Template::Impl {
  std::string name;
  Body body;
};

namespace {

constexpr int64_t kMaxRange = 100'000;

int64_t int_of(const Value& v, const char* what) {
  if (v.kind == Value::Kind::Int) return v.integer;
  if (v.kind == Value::Kind::Bool) return v.boolean;
  runtime_fail(
      fmt::format("{}: '{}' object cannot be interpreted as an integer", what, v.type_name()));
}

Value range(CallArgs& args) {
  check_args(args, 3, "", "range");
  const auto& p = args.positional;
  if (p.empty()) runtime_fail("range expected at least 1 argument, got 0");
  const int64_t start = p.size() > 1 ? int_of(p[0], "range") : 0;
  const int64_t stop = int_of(p.size() > 1 ? p[1] : p[0], "range");
  const int64_t step = p.size() > 2 ? int_of(p[2], "range") : 1;
  if (step == 0) runtime_fail("range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange)
      runtime_fail(fmt::format("range() of more than {} items", kMaxRange));
    out.push_back(Value::from(i));
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value::from(std::move(out));
}

// dict(mapping or pairs, **kwargs), as Python's dict() builds it.
Dict dict_of(const CallArgs& args, const char* what) {
  if (args.positional.size() > 1)
    runtime_fail(
        fmt::format("{} expected at most 1 argument, got {}", what, args.positional.size()));
  Dict d;
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict() || source.kind == Value::Kind::Namespace) {
      d = *source.dict;
    } else {
      for (const Value& pair : iterate(source)) {
        if (!pair.is_list() || pair.list->size() != 2)
          runtime_fail(fmt::format("{}: each item must be a (key, value) pair", what));
        d.set((*pair.list)[0], (*pair.list)[1]);
      }
    }
  }
  for (const auto& [key, value] : args.keyword) d.set(Value::from(key), value);
  return d;
}

// Python's datetime.now().strftime(format): the local time.
std::string strftime_now(const std::string& format) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  if (format.empty()) return "";
  std::string out(format.size() * 4 + 64, '\0');
  const size_t n = std::strftime(out.data(), out.size(), format.c_str(), &local);
  if (n == 0) runtime_fail("strftime_now: the format gives no text or too much");
  out.resize(n);
  return out;
}

void add_globals(Scope& scope, const std::string& name) {
  scope.vars["range"] = Value::function_of("range", range);
  scope.vars["dict"] =
      Value::function_of("dict", [](CallArgs& args) { return Value::from(dict_of(args, "dict")); });
  scope.vars["namespace"] = Value::function_of("namespace", [](CallArgs& args) {
    Dict attributes = dict_of(args, "namespace");
    for (const auto& [key, value] : attributes.items)
      if (key.is_string() && !key.text.empty() && key.text[0] == '_')
        runtime_fail(fmt::format("namespace attributes cannot start with '_' ('{}')", key.text));
    return Value::namespace_of(std::move(attributes));
  });
  scope.vars["raise_exception"] =
      Value::function_of("raise_exception", [name](CallArgs& args) -> Value {
        const std::string message = args.positional.empty() ? "" : to_str(args.positional[0]);
        fail("{}: the template raised: {}", name, message);
      });
  scope.vars["strftime_now"] = Value::function_of("strftime_now", [](CallArgs& args) {
    check_args(args, 1, "format", "strftime_now");
    const Value* format = find_arg(args, 0, "format");
    if (!format || !format->is_string()) runtime_fail("strftime_now takes a format string");
    return Value::from(strftime_now(format->text));
  });
}

}  // namespace

Template::Template(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

Template Template::parse(const std::string& source, const std::string& name) {
  auto impl = std::make_shared<Impl>();
  impl->name = name;
  impl->body = parse_template(tokenize(source, name), name);
  return Template(std::move(impl));
}

Template::Rendered Template::render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) fail("{}: the template context must be a JSON object", impl_->name);
  Scope globals;
  add_globals(globals, impl_->name);
  for (const auto& [key, value] : context.items()) globals.vars[key] = from_json(value);
  Evaluator evaluator(impl_->name, globals);
  try {
    evaluator.run(impl_->body);
  } catch (const RuntimeError& e) {  // raised outside any statement (cannot happen; be safe)
    fail("{}: {}", impl_->name, e.what);
  }
  return {std::move(evaluator.output()), std::move(evaluator.generation_spans())};
}

}  // namespace zili::data::jinja
