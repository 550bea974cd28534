// jinja2's tests (`x is name`, `x is not name(args)`): defined, none, string, mapping, number,
// sequence, equalto, divisibleby, ... as jinja2/tests.py defines them.
#pragma once

#include <string>

#include "data/jinja/value.h"

namespace zili::data::jinja {

// RuntimeError "no test named 'x'" for one zili does not have.
// Whether zili has the test name (the parser refuses the others, as jinja2 does).
bool is_known_test(const std::string& name);
bool apply_test(const std::string& name, const Value& value, CallArgs& args);

}  // namespace zili::data::jinja
