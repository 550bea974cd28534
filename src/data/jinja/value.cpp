// Python semantics of Jinja values: truthiness, comparison, str()/repr(), json.dumps.
#include "data/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace zili::data::jinja {

void runtime_fail(std::string what) {
  throw RuntimeError{std::move(what)};
}

const Value* find_arg(const CallArgs& args, size_t position, const char* name) {
  if (position < args.positional.size()) return &args.positional[position];
  for (const auto& [key, value] : args.keyword)
    if (key == name) return &value;
  return nullptr;
}

void check_args(const CallArgs& args, size_t most, const char* names, const std::string& what) {
  if (args.positional.size() > most)
    runtime_fail(fmt::format("{} takes at most {} arguments ({} given)", what, most,
                             args.positional.size()));
  const std::string known = std::string(",") + names + ",";
  for (const auto& [key, value] : args.keyword)
    if (known.find("," + key + ",") == std::string::npos)
      runtime_fail(fmt::format("{}: unexpected keyword argument '{}'", what, key));
}

const Value* Dict::find(const Value& key) const {
  for (const auto& [k, v] : items)
    if (equal(k, key)) return &v;
  return nullptr;
}

const Value* Dict::find(const std::string& key) const {
  for (const auto& [k, v] : items)
    if (k.is_string() && k.text == key) return &v;
  return nullptr;
}

void Dict::set(const Value& key, Value value) {
  for (auto& [k, v] : items)
    if (equal(k, key)) {
      v = std::move(value);
      return;
    }
  items.emplace_back(key, std::move(value));
}

Value Value::undefined(std::string why) {
  Value v;
  v.text = std::move(why);
  return v;
}
Value Value::none() {
  Value v;
  v.kind = Kind::None;
  return v;
}
Value Value::from(bool b) {
  Value v;
  v.kind = Kind::Bool;
  v.boolean = b;
  return v;
}
Value Value::from(int64_t i) {
  Value v;
  v.kind = Kind::Int;
  v.integer = i;
  return v;
}
Value Value::from(double d) {
  Value v;
  v.kind = Kind::Float;
  v.number = d;
  return v;
}
Value Value::from(std::string s) {
  Value v;
  v.kind = Kind::String;
  v.text = std::move(s);
  return v;
}
static int depth_of(const Value& v) {
  return v.depth;
}

Value Value::from(List items, bool tuple) {
  Value v;
  for (const Value& item : items) v.depth = std::max(v.depth, depth_of(item) + 1);
  if (v.depth > kMaxDepth)
    runtime_fail(fmt::format("lists and dicts nest more than {} deep", kMaxDepth));
  v.kind = Kind::List;
  v.is_tuple = tuple;
  v.list = std::make_shared<List>(std::move(items));
  return v;
}
Value Value::from(Dict d) {
  Value v;
  for (const auto& [key, item] : d.items)
    v.depth = std::max(v.depth, std::max(key.depth, item.depth) + 1);
  if (v.depth > kMaxDepth)
    runtime_fail(fmt::format("lists and dicts nest more than {} deep", kMaxDepth));
  v.kind = Kind::Dict;
  v.dict = std::make_shared<Dict>(std::move(d));
  return v;
}
Value Value::namespace_of(Dict attributes) {
  Value v = from(std::move(attributes));
  v.kind = Kind::Namespace;
  return v;
}
Value Value::function_of(std::string name, Function f) {
  Value v;
  v.kind = Kind::Function;
  v.text = std::move(name);
  v.function = std::make_shared<Function>(std::move(f));
  return v;
}

double Value::as_double() const {
  if (kind == Kind::Float) return number;
  if (kind == Kind::Int) return static_cast<double>(integer);
  return boolean ? 1 : 0;
}

std::string Value::type_name() const {
  switch (kind) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return is_tuple ? "tuple" : "list";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Function:
      return "function";
  }
  return "?";
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return false;
    case Value::Kind::Bool:
      return v.boolean;
    case Value::Kind::Int:
      return v.integer != 0;
    case Value::Kind::Float:
      return v.number != 0;
    case Value::Kind::String:
      return !v.text.empty();
    case Value::Kind::List:
      return !v.list->empty();
    case Value::Kind::Dict:
      return !v.dict->items.empty();
    default:
      return true;
  }
}

// Python's float repr: repr() picks the shortest round-tripping digits, then writes them
// positionally when the decimal exponent is in [-4, 16) and as d.ddde+XX otherwise.
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, result.ptr);  // "-1.2345e+02"
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::stoi(sci.substr(e + 1));
  if (exponent >= -4 && exponent < 16) {
    std::string out;
    if (exponent < 0) {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
    return sign + out;
  }
  std::string mantissa = digits.substr(0, 1);
  if (digits.size() > 1) mantissa += "." + digits.substr(1);
  return fmt::format("{}{}e{}{:02d}", sign, mantissa, exponent < 0 ? '-' : '+', std::abs(exponent));
}

static std::string repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out + quote;
}

static std::string repr_at(const Value& v, int depth);

std::string repr(const Value& v) {
  return repr_at(v, 0);
}

static std::string repr_at(const Value& v, int depth) {
  if (depth > kMaxDepth) runtime_fail("a value nested too deeply to print");
  switch (v.kind) {
    case Value::Kind::String:
      return repr_string(v.text);
    case Value::Kind::List: {
      std::string out = v.is_tuple ? "(" : "[";
      for (size_t i = 0; i < v.list->size(); ++i)
        out += (i ? ", " : "") + repr_at((*v.list)[i], depth + 1);
      if (v.is_tuple && v.list->size() == 1) out += ",";
      return out + (v.is_tuple ? ")" : "]");
    }
    case Value::Kind::Dict:
    case Value::Kind::Namespace: {
      const bool ns = v.kind == Value::Kind::Namespace;
      std::string out = ns ? "<Namespace {" : "{";
      for (size_t i = 0; i < v.dict->items.size(); ++i)
        out += (i ? ", " : "") + repr_at(v.dict->items[i].first, depth + 1) + ": " +
               repr_at(v.dict->items[i].second, depth + 1);
      return out + (ns ? "}>" : "}");
    }
    default:
      return to_str(v);
  }
}

std::string to_str(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined:
      return "";
    case Value::Kind::None:
      return "None";
    case Value::Kind::Bool:
      return v.boolean ? "True" : "False";
    case Value::Kind::Int:
      return std::to_string(v.integer);
    case Value::Kind::Float:
      return float_repr(v.number);
    case Value::Kind::String:
      return v.text;
    case Value::Kind::Function:
      return "<function " + v.text + ">";
    default:
      return repr(v);
  }
}

static bool equal_at(const Value& a, const Value& b, int depth);

bool equal(const Value& a, const Value& b) {
  return equal_at(a, b, 0);
}

static bool equal_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxDepth) runtime_fail("values nested too deeply to compare");
  if (a.is_number() && b.is_number()) {
    if (a.kind != Value::Kind::Float && b.kind != Value::Kind::Float)
      return (a.kind == Value::Kind::Int ? a.integer : a.boolean) ==
             (b.kind == Value::Kind::Int ? b.integer : b.boolean);
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.text == b.text;
    case Value::Kind::List:
      if (a.is_tuple != b.is_tuple || a.list->size() != b.list->size()) return false;
      for (size_t i = 0; i < a.list->size(); ++i)
        if (!equal_at((*a.list)[i], (*b.list)[i], depth + 1)) return false;
      return true;
    case Value::Kind::Dict:
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& [k, value] : a.dict->items) {
        const Value* other = b.dict->find(k);
        if (!other || !equal_at(value, *other, depth + 1)) return false;
      }
      return true;
    default:
      return a.dict == b.dict && a.function == b.function;
  }
}

static bool less_at(const Value& a, const Value& b, int depth);

bool less(const Value& a, const Value& b) {
  return less_at(a, b, 0);
}

static bool less_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxDepth) runtime_fail("values nested too deeply to compare");
  if (a.is_number() && b.is_number()) {
    if (a.kind != Value::Kind::Float && b.kind != Value::Kind::Float)
      return (a.kind == Value::Kind::Int ? a.integer : a.boolean) <
             (b.kind == Value::Kind::Int ? b.integer : b.boolean);
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.text < b.text;  // UTF-8 order = code point order
  if (a.is_list() && b.is_list()) {
    const size_t n = std::min(a.list->size(), b.list->size());
    for (size_t i = 0; i < n; ++i) {
      if (less_at((*a.list)[i], (*b.list)[i], depth + 1)) return true;
      if (less_at((*b.list)[i], (*a.list)[i], depth + 1)) return false;
    }
    return a.list->size() < b.list->size();
  }
  runtime_fail(fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(),
                           b.type_name()));
}

std::vector<std::string> code_points(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) n = 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

List iterate(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
      return *v.list;
    case Value::Kind::Dict: {
      List keys;
      for (const auto& item : v.dict->items) keys.push_back(item.first);
      return keys;
    }
    case Value::Kind::String: {
      List chars;
      for (auto& c : code_points(v.text)) chars.push_back(Value::from(std::move(c)));
      return chars;
    }
    default:
      runtime_fail(fmt::format("'{}' object is not iterable", v.type_name()));
  }
}

int64_t length(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined:
      return 0;
    case Value::Kind::String:
      return static_cast<int64_t>(code_points(v.text).size());
    case Value::Kind::List:
      return static_cast<int64_t>(v.list->size());
    case Value::Kind::Dict:
    case Value::Kind::Namespace:
      return static_cast<int64_t>(v.dict->items.size());
    default:
      runtime_fail(fmt::format("object of type '{}' has no len()", v.type_name()));
  }
}

}  // namespace zili::data::jinja
