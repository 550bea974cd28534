// Attribute and item access as jinja2's sandbox does them (obj.name tries the attribute, then
// the item; obj[key] the item, then the attribute), and the methods templates call on
// strings (strip, split, startswith, ...), dicts (get, items, keys, values) and lists.
#pragma once

#include <string>

#include "data/jinja/value.h"

namespace zili::data::jinja {

// obj.name: a bound method, a namespace attribute, a dict item, or Undefined (why in its
// text). RuntimeError when obj is Undefined.
Value get_attr(const Value& obj, const std::string& name);
// obj[key], negative indices from the end; Undefined when absent.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] of a list, tuple or string (Python's slice rules).
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// The bound method name of obj (a string, dict or list), or Undefined when it has none.
Value method(const Value& obj, const std::string& name);

}  // namespace zili::data::jinja
