// jinja2's built-in filters that chat templates use, and transformers' tojson (json.dumps
// with ensure_ascii=False, its indent/separators/sort_keys, no HTML escaping).
#pragma once

#include <string>

#include "data/jinja/value.h"

namespace zili::data::jinja {

// input | name(args); RuntimeError "no filter named 'x'" for one zili does not have.
Value apply_filter(const std::string& name, const Value& input, CallArgs& args);

// markupsafe's escape: & < > " ' as entities.
std::string html_escape(const std::string& s);

// Whether zili has the filter name (the parser refuses the others, as jinja2 does).
bool is_known_filter(const std::string& name);

// Python's printf-style format % args (%s %r %d %i %f %x %%, flags, width, precision), as the
// % operator on a string and the format filter use it.
std::string percent_format(const std::string& format, const List& args);

}  // namespace zili::data::jinja
