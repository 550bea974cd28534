// The `is` tests of jinja2/tests.py, with Python's types: bool counts as a number (not as an
// integer), strings and dicts are sequences, Undefined is iterable and a sequence.
#include "data/jinja/tests.h"

#include <fmt/format.h>

#include "data/jinja/text.h"

namespace zili::data::jinja {
namespace {

const Value& one_arg(const CallArgs& args, const std::string& name) {
  if (args.positional.size() != 1 || !args.keyword.empty())
    runtime_fail(fmt::format("the test '{}' takes one argument", name));
  return args.positional[0];
}

int64_t integer_of(const Value& v, const std::string& test) {
  if (v.kind == Value::Kind::Int) return v.integer;
  if (v.kind == Value::Kind::Bool) return v.boolean;
  if (v.is_undefined()) runtime_fail(v.text);
  runtime_fail(fmt::format("the test '{}' needs an integer, not {}", test, v.type_name()));
}

bool contains_value(const Value& container, const Value& item) {
  if (container.is_string())
    return item.is_string() && container.text.find(item.text) != std::string::npos;
  if (container.is_dict()) return container.dict->find(item) != nullptr;
  for (const Value& v : iterate(container))
    if (equal(v, item)) return true;
  return false;
}

}  // namespace

bool is_known_test(const std::string& name) {
  static const char* names[] = {
      "defined",     "undefined",   "none",   "boolean", "true",     "false",
      "integer",     "float",       "number", "string",  "mapping",  "callable",
      "sequence",    "iterable",    "lower",  "upper",   "odd",      "even",
      "divisibleby", "==",          "eq",     "equalto", "!=",       "ne",
      "sameas",      "in",          "<",      "lt",      "lessthan", ">",
      "gt",          "greaterthan", "<=",     "le",      ">=",       "ge"};
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

bool apply_test(const std::string& name, const Value& v, CallArgs& args) {
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == K::Bool;
  if (name == "true") return v.kind == K::Bool && v.boolean;
  if (name == "false") return v.kind == K::Bool && !v.boolean;
  if (name == "integer") return v.kind == K::Int;
  if (name == "float") return v.kind == K::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "callable") return v.kind == K::Function;
  if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "lower" || name == "upper") {
    const std::string s = to_str(v);
    bool cased = false;
    for (const auto& cp : code_points(s))
      if (is_cased_letter(cp)) {
        cased = true;
        const bool is_upper = to_upper(cp) == cp && to_lower(cp) != cp;
        const bool is_lower = to_lower(cp) == cp && to_upper(cp) != cp;
        if (name == "lower" ? !is_lower : !is_upper) return false;
      }
    return cased;
  }
  if (name == "odd") return integer_of(v, name) % 2 != 0;
  if (name == "even") return integer_of(v, name) % 2 == 0;
  if (name == "divisibleby") {
    const int64_t by = integer_of(one_arg(args, name), name);
    if (by == 0) runtime_fail("divisibleby 0: division by zero");
    return integer_of(v, name) % by == 0;
  }
  if (name == "==" || name == "eq" || name == "equalto") return equal(v, one_arg(args, name));
  if (name == "!=" || name == "ne") return !equal(v, one_arg(args, name));
  if (name == "sameas") {
    const Value& other = one_arg(args, name);
    if (v.kind != other.kind) return false;
    if (v.is_list()) return v.list == other.list;
    if (v.is_dict() || v.kind == K::Namespace) return v.dict == other.dict;
    return equal(v, other);
  }
  if (name == "in") return contains_value(one_arg(args, name), v);
  const bool lt = name == "<" || name == "lt" || name == "lessthan";
  const bool gt = name == ">" || name == "gt" || name == "greaterthan";
  const bool le = name == "<=" || name == "le";
  const bool ge = name == ">=" || name == "ge";
  if (lt || gt || le || ge) {
    const Value& other = one_arg(args, name);
    if (v.is_undefined()) runtime_fail(v.text);
    if (other.is_undefined()) runtime_fail(other.text);
    if (lt) return less(v, other);
    if (gt) return less(other, v);
    if (le) return !less(other, v);
    return !less(v, other);
  }
  runtime_fail(
      fmt::format("no test named '{}' (zili supports the jinja2 tests chat templates use)", name));
}

}  // namespace zili::data::jinja
