// JSON in and out of Values: the template context from nlohmann's ordered_json, and
// Python's json.dumps as transformers' tojson filter calls it.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "data/jinja/value.h"

namespace zili::data::jinja {

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::from(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::from(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      return j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                 ? Value::from(static_cast<double>(j.get<uint64_t>()))
                 : Value::from(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float:
      return Value::from(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::from(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      for (const auto& item : j) items.push_back(from_json(item));
      return Value::from(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      for (const auto& [k, item] : j.items()) d.items.emplace_back(Value::from(k), from_json(item));
      return Value::from(std::move(d));
    }
    default:
      return Value::none();
  }
}

// json.dumps' string escaping: \" \\ \n \r \t \b \f, other control characters as \u00XX;
// with ensure_ascii, every non-ASCII code point as \uXXXX (UTF-16 surrogate pairs above FFFF).
namespace {

std::string json_string(const std::string& s, bool ensure_ascii) {
  std::string out = "\"";
  for (const std::string& cp : code_points(s)) {
    const auto c = static_cast<unsigned char>(cp[0]);
    if (cp.size() == 1 && c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          out += c < 0x20 ? fmt::format("\\u{:04x}", c) : std::string(1, c);
      }
    } else if (!ensure_ascii || cp.size() == 1) {
      out += cp;
    } else {
      uint32_t code = c & (0xff >> (cp.size() + 1));
      for (size_t k = 1; k < cp.size(); ++k) code = (code << 6) | (cp[k] & 0x3f);
      if (code >= 0x10000) {
        code -= 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff));
      } else {
        out += fmt::format("\\u{:04x}", code);
      }
    }
  }
  return out + "\"";
}

void dump(const Value& v, const JsonStyle& style, int depth, std::string& out) {
  if (depth > 200) runtime_fail("tojson: nesting too deep");
  const std::string item_sep = !style.item_separator.empty() ? style.item_separator
                               : style.indented              ? ","
                                                             : ", ";
  const auto newline = [&](int level) {
    if (!style.indented) return;
    out += "\n";
    for (int i = 0; i < level; ++i) out += style.indent;
  };
  switch (v.kind) {
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += v.boolean ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.integer);
      return;
    case Value::Kind::Float:
      out += std::isnan(v.number)   ? "NaN"
             : std::isinf(v.number) ? (v.number < 0 ? "-Infinity" : "Infinity")
                                    : float_repr(v.number);
      return;
    case Value::Kind::String:
      out += json_string(v.text, style.ensure_ascii);
      return;
    case Value::Kind::List: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += "[";
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        dump((*v.list)[i], style, depth + 1, out);
      }
      newline(depth);
      out += "]";
      return;
    }
    case Value::Kind::Dict: {
      if (v.dict->items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& item : v.dict->items) items.push_back(&item);
      if (style.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return less(a->first, b->first); });
      out += "{";
      for (size_t i = 0; i < items.size(); ++i) {
        const Value& key = items[i]->first;
        if (i) out += item_sep;
        newline(depth + 1);
        if (key.is_string()) {
          out += json_string(key.text, style.ensure_ascii);
        } else if (key.is_number() || key.is_none()) {
          std::string k;
          dump(key, style, depth + 1, k);
          out += "\"" + k + "\"";
        } else {
          runtime_fail(fmt::format("tojson: keys must be str, int, float, bool or None, not {}",
                                   key.type_name()));
        }
        out += style.key_separator;
        dump(items[i]->second, style, depth + 1, out);
      }
      newline(depth);
      out += "}";
      return;
    }
    default:
      runtime_fail(
          fmt::format("tojson: Object of type {} is not JSON serializable", v.type_name()));
  }
}

}  // namespace

std::string to_json(const Value& v, const JsonStyle& style) {
  std::string out;
  dump(v, style, 0, out);
  return out;
}

}  // namespace zili::data::jinja
