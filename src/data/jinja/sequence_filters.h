// jinja2's filters over sequences and mappings: length, first, last, list, join, map,
// select/reject(attr), items, dictsort, unique, sort, reverse, sum, min, max, batch.
#pragma once

#include <optional>
#include <string>

#include "data/jinja/value.h"

namespace zili::data::jinja {

// The result of the filter name, or nullopt when name is not one of these.
std::optional<Value> apply_sequence_filter(const std::string& name, const Value& v, CallArgs& args);
// jinja2's attribute getter for map/selectattr/sort(attribute=...): "a.b.0" looks up each
// part as an item first, then as an attribute.
Value attribute_path(const Value& item, const std::string& path);

}  // namespace zili::data::jinja
