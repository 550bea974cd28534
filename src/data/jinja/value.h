// The dynamic value a Jinja template computes with, with Python's semantics as jinja2 has
// them: truthiness, ==, <, str() and repr() (Python's float repr, True/False/None, 'quoted'
// strings inside lists and dicts), and jinja2's default Undefined.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace zili::data::jinja {

// A runtime error without a place: the evaluator adds "<name>:<line>: " when it passes it on
// as a zili::Error.
struct RuntimeError {
  std::string what;
};
[[noreturn]] void runtime_fail(std::string what);

struct Value;
using List = std::vector<Value>;

// A Python dict: keys in insertion order (small dicts, so a linear search).
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(const Value& key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};
using Function = std::function<Value(CallArgs&)>;
// The argument at position `position` or named `name` (after its caller's own positional
// arguments); nullptr when it is not given.
const Value* find_arg(const CallArgs& args, size_t position, const char* name);
// RuntimeError when args holds more positional arguments than `most` or a keyword not in
// `names` (comma-separated): "<what>: unexpected keyword argument 'x'".
void check_args(const CallArgs& args, size_t most, const char* names, const std::string& what);

struct Value {
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };
  Kind kind = Kind::Undefined;
  bool boolean = false;
  bool is_tuple = false;   // a List written (a, b): str() gives (1, 2)
  bool is_markup = false;  // a String from |safe: jinja2's Markup, whose + escapes a plain str
  int depth = 0;  // List/Dict: 1 + the deepest item's depth (values nest at most kMaxDepth)
  int64_t integer = 0;
  double number = 0;
  // The string; for Undefined, why it is undefined ("'x' is undefined"); for a Function,
  // its name.
  std::string text;
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;  // Dict and Namespace (attributes)
  std::shared_ptr<Function> function;

  static Value undefined(std::string why);
  static Value none();
  static Value from(bool b);
  static Value from(int64_t i);
  static Value from(double d);
  static Value from(std::string s);
  static Value from(const char* s) { return from(std::string(s)); }
  static Value from(List items, bool tuple = false);
  static Value from(Dict d);
  static Value namespace_of(Dict attributes);
  static Value function_of(std::string name, Function f);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_list() const { return kind == Kind::List; }
  bool is_dict() const { return kind == Kind::Dict; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  // The number as a double (Bool and Int too).
  double as_double() const;
  // The type name Python prints ("str", "dict object" is what jinja2 says in errors).
  std::string type_name() const;
};

// How deep lists and dicts may nest: deeper is a RuntimeError where one is built, so that
// printing, comparing and freeing a value never recurse past it.
constexpr int kMaxDepth = 500;

// Python's bool(v).
bool truthy(const Value& v);
// Python's str(v) (Undefined: "") and repr(v).
std::string to_str(const Value& v);
std::string repr(const Value& v);
// Python's repr of a float: the shortest digits that round-trip, "1.0", "1e+16", "inf".
std::string float_repr(double d);
// Python's ==, and < (RuntimeError for types Python refuses to order).
bool equal(const Value& a, const Value& b);
bool less(const Value& a, const Value& b);
// The items `for x in v` sees: a list's items, a dict's keys, a string's characters
// (UTF-8 code points); Undefined gives none; RuntimeError otherwise.
List iterate(const Value& v);
// len(v): strings count code points.
int64_t length(const Value& v);

// JSON in and out: objects keep their key order.
Value from_json(const nlohmann::ordered_json& j);
// Python's json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers'
// tojson calls it. RuntimeError for what JSON cannot hold.
struct JsonStyle {
  bool ensure_ascii = false;
  bool indented = false;  // indent is not None: one item a line, each level prefixed by indent
  std::string indent;
  std::string item_separator;  // "" means the default for the indent
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonStyle& style);

// UTF-8 code points of s (invalid bytes as single-byte code points, never an error).
std::vector<std::string> code_points(const std::string& s);

}  // namespace zili::data::jinja
