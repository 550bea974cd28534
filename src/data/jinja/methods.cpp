// obj.attr, obj[key], obj[a:b:c] and the str/dict/list methods templates call. Methods that
// modify a list or dict are refused, as transformers' ImmutableSandboxedEnvironment does.
#include "data/jinja/methods.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "data/jinja/text.h"

namespace zili::data::jinja {
namespace {

// jinja2's object_type_repr: "dict object", "None", ...
std::string type_repr(const Value& v) {
  return v.is_none() ? "None" : v.type_name() + " object";
}

Value missing_attr(const Value& obj, const std::string& name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", type_repr(obj), name));
}

const std::string* optional_string(const CallArgs& args, size_t i, const char* name,
                                   const char* what) {
  const Value* v = find_arg(args, i, name);
  if (!v || v->is_none()) return nullptr;
  if (!v->is_string()) runtime_fail(fmt::format("{}: '{}' must be a string", what, name));
  return &v->text;
}

int64_t int_arg(const CallArgs& args, size_t i, const char* name, int64_t fallback) {
  const Value* v = find_arg(args, i, name);
  if (!v || v->is_none()) return fallback;
  if (v->kind != Value::Kind::Int && v->kind != Value::Kind::Bool)
    runtime_fail(fmt::format("'{}' must be an integer", name));
  return v->kind == Value::Kind::Int ? v->integer : v->boolean;
}

Value string_list(const std::vector<std::string>& parts) {
  List out;
  for (const auto& p : parts) out.push_back(Value::from(p));
  return Value::from(std::move(out));
}

// startswith/endswith take a string or a tuple of strings.
bool affix(const std::string& s, const Value& what, bool prefix) {
  if (what.is_list()) {
    for (const Value& v : *what.list)
      if (affix(s, v, prefix)) return true;
    return false;
  }
  if (!what.is_string()) runtime_fail("startswith/endswith take a string or a tuple of strings");
  const std::string& a = what.text;
  return s.size() >= a.size() && s.compare(prefix ? 0 : s.size() - a.size(), a.size(), a) == 0;
}

// str.format: {} (the next argument), {0}, {name}, {{ and }}; a format spec after ':' is
// refused.
std::string brace_format(const std::string& s, const CallArgs& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '{' || s[i] == '}') && i + 1 < s.size() && s[i + 1] == s[i]) {
      out += s[i++];
      continue;
    }
    if (s[i] == '}') runtime_fail("str.format(): single '}' encountered in format string");
    if (s[i] != '{') {
      out += s[i];
      continue;
    }
    const size_t close = s.find('}', i);
    if (close == std::string::npos) runtime_fail("str.format(): single '{' encountered");
    const std::string field = s.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      runtime_fail("str.format(): format specs and conversions are not supported");
    const Value* value = nullptr;
    if (field.empty()) {
      value = find_arg(args, next++, "");
    } else if (field.find_first_not_of("0123456789") == std::string::npos && field.size() < 9) {
      value = find_arg(args, static_cast<size_t>(std::stoul(field)), "");
    } else {
      value = find_arg(args, static_cast<size_t>(-1), field.c_str());
    }
    if (!value) runtime_fail(fmt::format("str.format(): no argument for '{{{}}}'", field));
    out += to_str(*value);
    i = close;
  }
  return out;
}

Value string_method(const std::string& s, const std::string& name, CallArgs& args) {
  const std::string what = "str." + name + "()";
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    check_args(args, 1, "chars", what);
    return Value::from(strip(s, optional_string(args, 0, "chars", what.c_str()), name != "rstrip",
                             name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    check_args(args, 2, "sep,maxsplit", what);
    const std::string* sep = optional_string(args, 0, "sep", what.c_str());
    const long maxsplit = static_cast<long>(int_arg(args, 1, "maxsplit", -1));
    return string_list(name == "split" ? split(s, sep, maxsplit) : rsplit(s, sep, maxsplit));
  }
  if (name == "startswith" || name == "endswith") {
    check_args(args, 1, "", what);
    if (args.positional.empty()) runtime_fail(what + " takes one argument");
    return Value::from(affix(s, args.positional[0], name == "startswith"));
  }
  if (name == "upper") return Value::from(to_upper(s));
  if (name == "lower") return Value::from(to_lower(s));
  if (name == "title") return Value::from(python_title(s));
  if (name == "capitalize") return Value::from(capitalize(s));
  if (name == "replace") {
    check_args(args, 3, "count", what);
    const std::string* from = optional_string(args, 0, "old", what.c_str());
    const std::string* to = optional_string(args, 1, "new", what.c_str());
    if (!from || !to) runtime_fail(what + " takes two strings");
    return Value::from(replace(s, *from, *to, static_cast<long>(int_arg(args, 2, "count", -1))));
  }
  if (name == "find" || name == "rfind" || name == "count" || name == "index") {
    check_args(args, 1, "", what);
    const std::string* needle = optional_string(args, 0, "sub", what.c_str());
    if (!needle) runtime_fail(what + " takes a string");
    if (name == "count") {
      if (needle->empty()) return Value::from(static_cast<int64_t>(code_points(s).size() + 1));
      int64_t n = 0;
      for (size_t at = s.find(*needle); at != std::string::npos;
           at = s.find(*needle, at + needle->size()))
        ++n;
      return Value::from(n);
    }
    const size_t at = name == "rfind" ? s.rfind(*needle) : s.find(*needle);
    if (at == std::string::npos && name == "index") runtime_fail("substring not found");
    // Python counts code points, not bytes.
    return Value::from(at == std::string::npos
                           ? int64_t{-1}
                           : static_cast<int64_t>(code_points(s.substr(0, at)).size()));
  }
  if (name == "join") {
    check_args(args, 1, "", what);
    if (args.positional.empty()) runtime_fail(what + " takes one argument");
    std::string out;
    bool first = true;
    for (const Value& v : iterate(args.positional[0])) {
      if (!v.is_string()) runtime_fail(what + ": sequence item is not a string");
      out += (first ? "" : s) + v.text;
      first = false;
    }
    return Value::from(std::move(out));
  }
  if (name == "format") return Value::from(brace_format(s, args));
  if (name == "isspace" || name == "isdigit" || name == "isalpha" || name == "isalnum") {
    const auto cps = code_points(s);
    bool all = !cps.empty();
    for (const auto& cp : cps) {
      const bool digit = cp.size() == 1 && cp[0] >= '0' && cp[0] <= '9';
      const bool alpha = is_cased_letter(cp);
      all = all && (name == "isspace"   ? is_space_code_point(cp)
                    : name == "isdigit" ? digit
                    : name == "isalpha" ? alpha
                                        : digit || alpha);
    }
    return Value::from(all);
  }
  runtime_fail(fmt::format("'str' object has no method '{}'", name));
}

}  // namespace

Value method(const Value& obj, const std::string& name) {
  static const char* string_methods[] = {
      "strip", "lstrip",  "rstrip",     "split",   "rsplit",  "startswith", "endswith", "upper",
      "lower", "title",   "capitalize", "replace", "find",    "rfind",      "count",    "index",
      "join",  "isspace", "isdigit",    "isalpha", "isalnum", "format"};
  if (obj.is_string()) {
    for (const char* m : string_methods)
      if (name == m)
        return Value::function_of("str." + name, [s = obj.text, name](CallArgs& args) {
          return string_method(s, name, args);
        });
    return Value::undefined(fmt::format("'str object' has no attribute '{}'", name));
  }
  if (obj.is_dict()) {
    const auto d = obj.dict;
    if (name == "get")
      return Value::function_of("dict.get", [d](CallArgs& args) {
        check_args(args, 2, "", "dict.get()");
        if (args.positional.empty()) runtime_fail("dict.get() takes a key");
        const Value* found = d->find(args.positional[0]);
        return found ? *found : args.positional.size() > 1 ? args.positional[1] : Value::none();
      });
    if (name == "items" || name == "keys" || name == "values")
      return Value::function_of("dict." + name, [d, name](CallArgs& args) {
        check_args(args, 0, "", "dict." + name + "()");
        List out;
        for (const auto& [k, v] : d->items)
          out.push_back(name == "keys" ? k : name == "values" ? v : Value::from(List{k, v}, true));
        return Value::from(std::move(out));
      });
    if (name == "copy")
      return Value::function_of("dict.copy", [d](CallArgs&) { return Value::from(*d); });
    for (const char* m : {"pop", "popitem", "update", "setdefault", "clear"})
      if (name == m)
        return Value::undefined(fmt::format(
            "access to attribute '{}' of 'dict' object is unsafe (templates cannot change dicts)",
            name));
    return Value::undefined(fmt::format("'dict object' has no attribute '{}'", name));
  }
  if (obj.is_list()) {
    const auto l = obj.list;
    if (name == "index" || name == "count")
      return Value::function_of("list." + name, [l, name](CallArgs& args) {
        check_args(args, 1, "", "list." + name + "()");
        if (args.positional.empty()) runtime_fail("list." + name + "() takes one argument");
        int64_t n = 0;
        for (size_t i = 0; i < l->size(); ++i)
          if (equal((*l)[i], args.positional[0])) {
            if (name == "index") return Value::from(static_cast<int64_t>(i));
            ++n;
          }
        if (name == "index") runtime_fail("list.index(x): x not in list");
        return Value::from(n);
      });
    for (const char* m :
         {"append", "extend", "pop", "insert", "remove", "clear", "sort", "reverse"})
      if (name == m)
        return Value::undefined(fmt::format(
            "access to attribute '{}' of 'list' object is unsafe (templates cannot change lists)",
            name));
  }
  return missing_attr(obj, name);
}

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) runtime_fail(obj.text);
  if (obj.kind == Value::Kind::Namespace) {
    const Value* found = obj.dict->find(name);
    return found ? *found : missing_attr(obj, name);
  }
  if (obj.is_string() || obj.is_list() || obj.is_dict()) {
    Value m = method(obj, name);
    if (!m.is_undefined() || !obj.is_dict()) return m;
    const Value* found = obj.dict->find(name);
    return found ? *found : m;
  }
  return missing_attr(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) runtime_fail(obj.text);
  if (obj.is_dict() || obj.kind == Value::Kind::Namespace) {
    const Value* found = obj.dict->find(key);
    if (found) return *found;
  } else if ((obj.is_list() || obj.is_string()) &&
             (key.kind == Value::Kind::Int || key.kind == Value::Kind::Bool)) {
    int64_t i = key.kind == Value::Kind::Int ? key.integer : key.boolean;
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.list->size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return (*obj.list)[static_cast<size_t>(i)];
    } else {
      const auto cps = code_points(obj.text);
      const auto n = static_cast<int64_t>(cps.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return Value::from(cps[static_cast<size_t>(i)]);
    }
    return Value::undefined(fmt::format("'{}' has no element {}", type_repr(obj), repr(key)));
  }
  if (key.is_string() && obj.kind != Value::Kind::Namespace) return get_attr(obj, key.text);
  return Value::undefined(fmt::format("'{}' has no element {}", type_repr(obj), repr(key)));
}

// Python's slice.indices(): clamp start and stop into range for the step's direction.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) runtime_fail(obj.text);
  const auto as_index = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (v.kind != Value::Kind::Int && v.kind != Value::Kind::Bool)
      runtime_fail(fmt::format("slice {} must be an integer or none", what));
    return v.kind == Value::Kind::Int ? v.integer : v.boolean;
  };
  const int64_t by = as_index(step, "step").value_or(1);
  if (by == 0) runtime_fail("slice step cannot be zero");
  std::vector<std::string> cps;
  if (obj.is_string()) {
    cps = code_points(obj.text);
  } else if (!obj.is_list()) {
    runtime_fail(fmt::format("'{}' object is not subscriptable", obj.type_name()));
  }
  const auto n = static_cast<int64_t>(obj.is_string() ? cps.size() : obj.list->size());
  const auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v < 0 ? *v + n : *v;
    if (by > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t from = clamp(as_index(start, "start"), by > 0 ? 0 : n - 1);
  const int64_t to = clamp(as_index(stop, "stop"), by > 0 ? n : -1);
  std::string text;
  List items;
  for (int64_t i = from; by > 0 ? i < to : i > to; i += by) {
    if (obj.is_string()) {
      text += cps[static_cast<size_t>(i)];
    } else {
      items.push_back((*obj.list)[static_cast<size_t>(i)]);
    }
  }
  return obj.is_string() ? Value::from(std::move(text))
                         : Value::from(std::move(items), obj.is_tuple);
}

}  // namespace zili::data::jinja
