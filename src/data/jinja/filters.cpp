// jinja2's string and number filters (jinja2/filters.py), transformers' tojson, and the
// dispatch to the sequence filters (sequence_filters.cpp).
#include "data/jinja/filters.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "data/jinja/sequence_filters.h"
#include "data/jinja/text.h"

namespace zili::data::jinja {
namespace {

const Value* arg(const CallArgs& args, size_t i, const char* name) {
  const Value* v = find_arg(args, i, name);
  return v && !v->is_none() ? v : nullptr;
}

// jinja2's do_title: words start after whitespace and - ( { [ <.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool word_start = true;
  for (const auto& cp : code_points(s)) {
    const bool boundary =
        is_space_code_point(cp) || cp == "-" || cp == "(" || cp == "{" || cp == "[" || cp == "<";
    out += boundary ? cp : word_start ? to_upper(cp) : to_lower(cp);
    word_start = boundary;
  }
  return out;
}

// transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value tojson(const Value& v, const CallArgs& args) {
  check_args(args, 4, "ensure_ascii,indent,separators,sort_keys", "tojson");
  JsonStyle style;
  if (const Value* a = arg(args, 0, "ensure_ascii")) style.ensure_ascii = truthy(*a);
  if (const Value* indent = arg(args, 1, "indent")) {
    style.indented = true;
    if (indent->is_string()) {
      style.indent = indent->text;
    } else if (indent->kind == Value::Kind::Int) {
      style.indent =
          std::string(static_cast<size_t>(std::clamp<int64_t>(indent->integer, 0, 64)), ' ');
    } else {
      runtime_fail("tojson: indent must be an integer or a string");
    }
  }
  if (const Value* sep = arg(args, 2, "separators")) {
    if (!sep->is_list() || sep->list->size() != 2 || !(*sep->list)[0].is_string() ||
        !(*sep->list)[1].is_string())
      runtime_fail("tojson: separators must be a pair of strings");
    style.item_separator = (*sep->list)[0].text;
    style.key_separator = (*sep->list)[1].text;
  }
  if (const Value* a = arg(args, 3, "sort_keys")) style.sort_keys = truthy(*a);
  return Value::from(to_json(v, style));
}

// Python's int(str): optional sign, digits with single underscores, spaces around.
std::optional<int64_t> parse_int(const std::string& text, int base) {
  const std::string s = strip(text, nullptr, true, true);
  std::string digits;
  for (char c : s)
    if (c != '_') digits += c;
  if (digits.empty() || s.find("__") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(digits.c_str(), &end, base);
  if (*end != '\0' || errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> parse_float(const std::string& text) {
  const std::string s = strip(text, nullptr, true, true);
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return v;
}

Value to_int(const Value& v, const CallArgs& args) {
  check_args(args, 2, "default,base", "int");
  const Value* fallback = find_arg(args, 0, "default");
  const Value* base = arg(args, 1, "base");
  const Value otherwise = fallback ? *fallback : Value::from(int64_t{0});
  if (v.kind == Value::Kind::Int) return v;
  if (v.kind == Value::Kind::Bool) return Value::from(static_cast<int64_t>(v.boolean));
  if (v.kind == Value::Kind::Float)
    return std::isfinite(v.number) && std::fabs(v.number) < 9.2e18
               ? Value::from(static_cast<int64_t>(v.number))
               : otherwise;
  if (!v.is_string()) return otherwise;
  const int b = base && base->kind == Value::Kind::Int ? static_cast<int>(base->integer) : 10;
  if (b < 2 || b > 36) runtime_fail("int: base must be 2 to 36");
  if (auto i = parse_int(v.text, b)) return Value::from(*i);
  if (b == 10)
    if (auto d = parse_float(v.text); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18)
      return Value::from(static_cast<int64_t>(*d));
  return otherwise;
}

Value to_float(const Value& v, const CallArgs& args) {
  check_args(args, 1, "default", "float");
  const Value* fallback = find_arg(args, 0, "default");
  if (v.is_number()) return Value::from(v.as_double());
  if (v.is_string())
    if (auto d = parse_float(v.text)) return Value::from(*d);
  return fallback ? *fallback : Value::from(0.0);
}

// round(value, precision=0, method='common'|'ceil'|'floor'): common is Python's round()
// (half to even), which always returns a float here as round(x, 0) does.
Value round_value(const Value& v, const CallArgs& args) {
  check_args(args, 2, "precision,method", "round");
  if (v.is_undefined()) runtime_fail(v.text);
  if (!v.is_number()) runtime_fail(fmt::format("round: '{}' is not a number", v.type_name()));
  const Value* p = arg(args, 0, "precision");
  const Value* m = arg(args, 1, "method");
  const int64_t precision = p && p->kind == Value::Kind::Int ? p->integer : 0;
  const std::string method = m && m->is_string() ? m->text : "common";
  if (method == "common" && v.kind != Value::Kind::Float)
    return Value::from(static_cast<int64_t>(v.as_double()));
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  double r;
  if (method == "common") {
    r = std::nearbyint(x);
  } else if (method == "ceil") {
    r = std::ceil(x);
  } else if (method == "floor") {
    r = std::floor(x);
  } else {
    runtime_fail("round: method must be 'common', 'ceil' or 'floor'");
  }
  return Value::from(r / scale);
}

// jinja2 3.1's indent(width=4, first=False, blank=False).
Value indent(const Value& v, const CallArgs& args) {
  check_args(args, 3, "width,first,blank", "indent");
  std::string prefix = "    ";
  if (const Value* w = arg(args, 0, "width"))
    prefix = w->is_string()
                 ? w->text
                 : std::string(static_cast<size_t>(std::clamp<int64_t>(w->integer, 0, 256)), ' ');
  const Value* first = arg(args, 1, "first");
  const Value* blank = arg(args, 2, "blank");
  // jinja2 appends a newline and takes splitlines(): a last empty line is not indented.
  const std::string newline = "\n";
  std::vector<std::string> lines =
      split(replace(replace(to_str(v), "\r\n", "\n", -1), "\r", "\n", -1) + "\n", &newline, -1);
  lines.pop_back();
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) {
      out = lines[0];
      continue;
    }
    out += "\n";
    if ((blank && truthy(*blank)) || !lines[i].empty()) out += prefix;
    out += lines[i];
  }
  if (first && truthy(*first)) out = prefix + out;
  return Value::from(std::move(out));
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool is_known_filter(const std::string& name) {
  static const char* names[] = {
      "tojson", "default",    "d",          "safe",       "string", "trim",        "upper",
      "lower",  "capitalize", "title",      "e",          "escape", "forceescape", "replace",
      "int",    "float",      "round",      "abs",        "indent", "wordcount",   "format",
      "length", "count",      "list",       "first",      "last",   "join",        "map",
      "select", "reject",     "selectattr", "rejectattr", "items",  "dictsort",    "unique",
      "sort",   "reverse",    "sum",        "min",        "max",    "batch",       "attr"};
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

std::string percent_format(const std::string& format, const List& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    size_t k = i + 1;
    std::string spec = "{:";
    while (k < format.size() && std::string("-+ 0#").find(format[k]) != std::string::npos)
      spec += format[k] == '-' ? '<' : format[k], ++k;
    while (k < format.size() && std::isdigit(static_cast<unsigned char>(format[k])))
      spec += format[k++];
    if (k < format.size() && format[k] == '.') {
      spec += format[k++];
      while (k < format.size() && std::isdigit(static_cast<unsigned char>(format[k])))
        spec += format[k++];
    }
    if (k >= format.size()) runtime_fail("incomplete format: a '%' at the end");
    const char conv = format[k];
    i = k;
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next >= args.size()) runtime_fail("not enough arguments for format string");
    const Value& a = args[next++];
    try {
      if (conv == 's' || conv == 'r') {
        out += fmt::format(fmt::runtime(spec + "}"), conv == 's' ? to_str(a) : repr(a));
      } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
        if (!a.is_number()) runtime_fail(fmt::format("%{} format: a number is required", conv));
        const auto n = a.kind == Value::Kind::Float
                           ? static_cast<int64_t>(a.number)
                           : (a.kind == Value::Kind::Int ? a.integer : a.boolean);
        out += fmt::format(
            fmt::runtime(spec + (conv == 'd' || conv == 'i' ? "" : std::string(1, conv)) + "}"), n);
      } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'g') {
        if (!a.is_number()) runtime_fail(fmt::format("%{} format: a number is required", conv));
        if (spec.find('.') == std::string::npos) spec += ".6";
        out += fmt::format(fmt::runtime(spec + conv + "}"), a.as_double());
      } else {
        runtime_fail(fmt::format("unsupported format character '{}'", conv));
      }
    } catch (const fmt::format_error& e) {
      runtime_fail(fmt::format("bad format '%{}': {}", conv, e.what()));
    }
  }
  if (next < args.size()) runtime_fail("not all arguments converted during string formatting");
  return out;
}

Value apply_filter(const std::string& name, const Value& v, CallArgs& args) {
  if (name == "tojson") return tojson(v, args);
  if (name == "default" || name == "d") {
    check_args(args, 2, "default_value,boolean", name);
    const Value* fallback = find_arg(args, 0, "default_value");
    const Value* boolean = find_arg(args, 1, "boolean");
    if (v.is_undefined() || (boolean && truthy(*boolean) && !truthy(v)))
      return fallback ? *fallback : Value::from("");
    return v;
  }
  if (name == "safe") {
    Value markup = Value::from(to_str(v));
    markup.is_markup = true;
    return markup;
  }
  if (name == "string") return Value::from(to_str(v));
  if (name == "trim") {
    check_args(args, 1, "chars", name);
    const Value* chars = arg(args, 0, "chars");
    return Value::from(strip(to_str(v), chars ? &chars->text : nullptr, true, true));
  }
  if (name == "upper") return Value::from(to_upper(to_str(v)));
  if (name == "lower") return Value::from(to_lower(to_str(v)));
  if (name == "capitalize") return Value::from(capitalize(to_str(v)));
  if (name == "title") return Value::from(jinja_title(to_str(v)));
  if (name == "e" || name == "escape" || name == "forceescape")
    return Value::from(html_escape(to_str(v)));
  if (name == "replace") {
    check_args(args, 3, "old,new,count", name);
    const Value* from = arg(args, 0, "old");
    const Value* to = arg(args, 1, "new");
    const Value* count = arg(args, 2, "count");
    if (!from || !to) runtime_fail("replace takes the old and the new string");
    return Value::from(replace(to_str(v), to_str(*from), to_str(*to),
                               count && count->kind == Value::Kind::Int ? count->integer : -1));
  }
  if (name == "int") return to_int(v, args);
  if (name == "float") return to_float(v, args);
  if (name == "round") return round_value(v, args);
  if (name == "abs") {
    if (v.is_undefined()) runtime_fail(v.text);
    if (v.kind == Value::Kind::Float) return Value::from(std::fabs(v.number));
    if (!v.is_number())
      runtime_fail(fmt::format("bad operand type for abs(): '{}'", v.type_name()));
    const int64_t i = v.kind == Value::Kind::Int ? v.integer : v.boolean;
    if (i == INT64_MIN) runtime_fail("integer overflow in abs");
    return Value::from(i < 0 ? -i : i);
  }
  if (name == "indent") return indent(v, args);
  if (name == "wordcount") {
    int64_t words = 0;
    bool in_word = false;
    for (const auto& cp : code_points(to_str(v))) {
      const bool word = cp == "_" || is_cased_letter(cp) ||
                        (cp.size() == 1 && std::isalnum(static_cast<unsigned char>(cp[0]))) ||
                        (cp.size() > 1 && !is_space_code_point(cp));
      if (word && !in_word) ++words;
      in_word = word;
    }
    return Value::from(words);
  }
  if (name == "format") return Value::from(percent_format(to_str(v), args.positional));
  if (auto result = apply_sequence_filter(name, v, args)) return *result;
  runtime_fail(fmt::format("no filter named '{}'", name));
}

}  // namespace zili::data::jinja
