// Python's str operations on UTF-8 text, by code point: upper/lower/title/capitalize (with
// utf8proc's case maps), strip with or without chars, split with or without a separator,
// replace with a count.
#pragma once

#include <string>
#include <vector>

namespace zili::data::jinja {

std::string to_upper(const std::string& s);
std::string to_lower(const std::string& s);
// str.title(): a cased character after an uncased one goes upper, the others lower.
std::string python_title(const std::string& s);
// str.capitalize(): the first character upper, the rest lower.
std::string capitalize(const std::string& s);
// str.strip(chars) (whitespace when chars is null), from the left and/or the right.
std::string strip(const std::string& s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit): by runs of whitespace when sep is null; maxsplit < 0: no limit.
std::vector<std::string> split(const std::string& s, const std::string* sep, long maxsplit);
// str.rsplit(sep, maxsplit).
std::vector<std::string> rsplit(const std::string& s, const std::string* sep, long maxsplit);
// str.replace(old, new, count); count < 0: all.
std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    long count);
// Python's str.isspace() for one code point.
bool is_space_code_point(const std::string& cp);
// utf8proc's decoding of one code point (-1 when invalid).
int32_t code_point_value(const std::string& cp);
bool is_cased_letter(const std::string& cp);

}  // namespace zili::data::jinja
