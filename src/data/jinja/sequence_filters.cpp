// jinja2's sequence filters (jinja2/filters.py): what they iterate is what `for` iterates
// (a dict's keys, a string's characters, nothing for Undefined).
#include "data/jinja/sequence_filters.h"

#include <algorithm>

#include <fmt/format.h>

#include "data/jinja/filters.h"
#include "data/jinja/methods.h"
#include "data/jinja/tests.h"
#include "data/jinja/text.h"

namespace zili::data::jinja {
namespace {

const Value* arg(const CallArgs& args, size_t i, const char* name) {
  const Value* v = find_arg(args, i, name);
  return v && !v->is_none() ? v : nullptr;
}

// The sort key: strings lower-cased unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return v.is_string() && !case_sensitive ? Value::from(to_lower(v.text)) : v;
}

// The items, each replaced by its attribute path when attribute is given.
List keyed(const List& items, const Value* attribute) {
  if (!attribute) return items;
  List out;
  for (const Value& item : items) out.push_back(attribute_path(item, to_str(*attribute)));
  return out;
}

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...).
Value select(const Value& v, CallArgs& args, bool by_attribute, bool keep) {
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty()) runtime_fail("selectattr/rejectattr need an attribute name");
    attribute = to_str(args.positional[next++]);
  }
  std::string test;
  if (next < args.positional.size()) test = to_str(args.positional[next++]);
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<long>(next),
                              args.positional.end());
  test_args.keyword = args.keyword;
  List out;
  if (!truthy(v)) return Value::from(std::move(out));  // jinja2: "if value:" before iterating
  for (const Value& item : iterate(v)) {
    const Value subject = by_attribute ? attribute_path(item, attribute) : item;
    const bool pass = test.empty() ? truthy(subject) : apply_test(test, subject, test_args);
    if (pass == keep) out.push_back(item);
  }
  return Value::from(std::move(out));
}

Value map(const Value& v, CallArgs& args) {
  List out;
  const List items = truthy(v) ? iterate(v) : List{};  // jinja2: "if value:" before iterating
  const Value* attribute = find_arg(args, static_cast<size_t>(-1), "attribute");
  if (attribute) {
    const Value* fallback = find_arg(args, static_cast<size_t>(-1), "default");
    for (const Value& item : items) {
      Value got = attribute_path(item, to_str(*attribute));
      out.push_back(got.is_undefined() && fallback ? *fallback : got);
    }
    return Value::from(std::move(out));
  }
  if (args.positional.empty()) runtime_fail("map needs a filter name or attribute=");
  const std::string filter = to_str(args.positional[0]);
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    CallArgs each = rest;
    out.push_back(apply_filter(filter, item, each));
  }
  return Value::from(std::move(out));
}

Value sorted(const Value& v, const CallArgs& args) {
  check_args(args, 3, "reverse,case_sensitive,attribute", "sort");
  const Value* reverse = arg(args, 0, "reverse");
  const Value* case_sensitive = arg(args, 1, "case_sensitive");
  const Value* attribute = arg(args, 2, "attribute");
  const List items = iterate(v);
  const List keys = keyed(items, attribute);
  const bool cs = case_sensitive && truthy(*case_sensitive);
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return less(sort_key(keys[a], cs), sort_key(keys[b], cs));
  });
  if (reverse && truthy(*reverse)) {
    // Python's sort(reverse=True) keeps equal items in their order.
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return less(sort_key(keys[b], cs), sort_key(keys[a], cs));
    });
  }
  List out;
  for (size_t i : order) out.push_back(items[i]);
  return Value::from(std::move(out));
}

Value dictsort(const Value& v, const CallArgs& args) {
  check_args(args, 3, "case_sensitive,by,reverse", "dictsort");
  if (!v.is_dict()) runtime_fail("dictsort: expected a mapping");
  const Value* case_sensitive = arg(args, 0, "case_sensitive");
  const Value* by = arg(args, 1, "by");
  const Value* reverse = arg(args, 2, "reverse");
  const bool by_value = by && to_str(*by) == "value";
  if (by && !by_value && to_str(*by) != "key")
    runtime_fail("dictsort: you can only sort by either 'key' or 'value'");
  List items;
  for (const auto& [k, val] : v.dict->items) items.push_back(Value::from(List{k, val}, true));
  const bool cs = case_sensitive && truthy(*case_sensitive);
  const bool rev = reverse && truthy(*reverse);
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const Value& ka = (*a.list)[by_value ? 1 : 0];
    const Value& kb = (*b.list)[by_value ? 1 : 0];
    return rev ? less(sort_key(kb, cs), sort_key(ka, cs))
               : less(sort_key(ka, cs), sort_key(kb, cs));
  });
  return Value::from(std::move(items));
}

Value unique(const Value& v, const CallArgs& args) {
  check_args(args, 2, "case_sensitive,attribute", "unique");
  const Value* case_sensitive = arg(args, 0, "case_sensitive");
  const Value* attribute = arg(args, 1, "attribute");
  const bool cs = case_sensitive && truthy(*case_sensitive);
  const List items = iterate(v);
  const List keys = keyed(items, attribute);
  List seen, out;
  for (size_t i = 0; i < items.size(); ++i) {
    const Value key = sort_key(keys[i], cs);
    bool found = false;
    for (const Value& s : seen) found = found || equal(s, key);
    if (found) continue;
    seen.push_back(key);
    out.push_back(items[i]);
  }
  return Value::from(std::move(out));
}

Value extreme(const Value& v, const CallArgs& args, bool want_max) {
  check_args(args, 2, "case_sensitive,attribute", want_max ? "max" : "min");
  const Value* case_sensitive = arg(args, 0, "case_sensitive");
  const Value* attribute = arg(args, 1, "attribute");
  const bool cs = case_sensitive && truthy(*case_sensitive);
  const List items = iterate(v);
  if (items.empty()) return Value::undefined("no min/max item, the sequence was empty");
  const List keys = keyed(items, attribute);
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const bool better = want_max ? less(sort_key(keys[best], cs), sort_key(keys[i], cs))
                                 : less(sort_key(keys[i], cs), sort_key(keys[best], cs));
    if (better) best = i;
  }
  return items[best];
}

}  // namespace

Value attribute_path(const Value& item, const std::string& path) {
  Value v = item;
  const std::string dot = ".";
  for (const std::string& part : split(path, &dot, -1)) {
    const bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    v = digits && part.size() < 18
            ? get_item(v, Value::from(static_cast<int64_t>(std::stoll(part))))
            : get_item(v, Value::from(part));
  }
  return v;
}

std::optional<Value> apply_sequence_filter(const std::string& name, const Value& v,
                                           CallArgs& args) {
  if (name == "length" || name == "count") return Value::from(length(v));
  if (name == "list") return Value::from(iterate(v));
  if (name == "first" || name == "last") {
    const List items = iterate(v);
    if (items.empty())
      return Value::undefined(fmt::format("no {} item, the sequence was empty", name));
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    check_args(args, 2, "d,attribute", "join");
    const Value* sep = arg(args, 0, "d");
    const Value* attribute = arg(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : keyed(iterate(v), attribute)) {
      if (!first && sep) out += to_str(*sep);
      out += to_str(item);
      first = false;
    }
    return Value::from(std::move(out));
  }
  if (name == "map") return map(v, args);
  if (name == "select" || name == "reject") return select(v, args, false, name == "select");
  if (name == "selectattr" || name == "rejectattr")
    return select(v, args, true, name == "selectattr");
  if (name == "items") {
    if (v.is_undefined()) return Value::from(List{});
    if (!v.is_dict()) runtime_fail("items: expected a mapping");
    List out;
    for (const auto& [k, val] : v.dict->items) out.push_back(Value::from(List{k, val}, true));
    return Value::from(std::move(out));
  }
  if (name == "dictsort") return dictsort(v, args);
  if (name == "unique") return unique(v, args);
  if (name == "sort") return sorted(v, args);
  if (name == "reverse") {
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    if (!v.is_string()) return Value::from(std::move(items));
    std::string out;
    for (const Value& c : items) out += c.text;
    return Value::from(std::move(out));
  }
  if (name == "sum") {
    check_args(args, 2, "attribute,start", "sum");
    const Value* attribute = arg(args, 0, "attribute");
    const Value* start = arg(args, 1, "start");
    Value total = start ? *start : Value::from(int64_t{0});
    for (const Value& item : keyed(iterate(v), attribute)) {
      if (!total.is_number() || !item.is_number())
        runtime_fail(
            fmt::format("sum: cannot add '{}' and '{}'", total.type_name(), item.type_name()));
      total = total.kind == Value::Kind::Float || item.kind == Value::Kind::Float
                  ? Value::from(total.as_double() + item.as_double())
                  : Value::from(static_cast<int64_t>(total.as_double()) +
                                static_cast<int64_t>(item.as_double()));
    }
    return total;
  }
  if (name == "min" || name == "max") return extreme(v, args, name == "max");
  if (name == "batch") {
    check_args(args, 2, "linecount,fill_with", "batch");
    const Value* count = arg(args, 0, "linecount");
    const Value* fill = arg(args, 1, "fill_with");
    if (!count || count->kind != Value::Kind::Int || count->integer <= 0)
      runtime_fail("batch: linecount must be a positive integer");
    List out, current;
    for (const Value& item : iterate(v)) {
      current.push_back(item);
      if (static_cast<int64_t>(current.size()) == count->integer) {
        out.push_back(Value::from(std::move(current)));
        current.clear();
      }
    }
    if (!current.empty()) {
      while (fill && static_cast<int64_t>(current.size()) < count->integer)
        current.push_back(*fill);
      out.push_back(Value::from(std::move(current)));
    }
    return Value::from(std::move(out));
  }
  if (name == "attr") {
    if (args.positional.size() != 1) runtime_fail("attr takes one name");
    return get_attr(v, to_str(args.positional[0]));
  }
  return std::nullopt;
}

}  // namespace zili::data::jinja
