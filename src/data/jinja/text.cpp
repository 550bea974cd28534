// Python str semantics over UTF-8, one code point at a time.
#include "data/jinja/text.h"

#include <utf8proc.h>

#include "data/jinja/value.h"

namespace zili::data::jinja {
namespace {

std::string encode(int32_t code) {
  utf8proc_uint8_t buf[4];
  const auto n = utf8proc_encode_char(code, buf);
  return std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
}

std::string map_case(const std::string& cp, bool upper) {
  const int32_t c = code_point_value(cp);
  if (c < 0) return cp;
  return encode(upper ? utf8proc_toupper(c) : utf8proc_tolower(c));
}

}  // namespace

int32_t code_point_value(const std::string& cp) {
  utf8proc_int32_t c = -1;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(cp.data()),
                                  static_cast<utf8proc_ssize_t>(cp.size()), &c);
  return n == static_cast<utf8proc_ssize_t>(cp.size()) ? c : -1;
}

bool is_cased_letter(const std::string& cp) {
  const int32_t c = code_point_value(cp);
  if (c < 0) return false;
  const auto cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

bool is_space_code_point(const std::string& cp) {
  const int32_t c = code_point_value(cp);
  if (c < 0) return false;
  if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85) return true;
  if (c < 0x80) return false;
  const auto cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

std::string to_upper(const std::string& s) {
  std::string out;
  for (const auto& cp : code_points(s)) out += map_case(cp, true);
  return out;
}

std::string to_lower(const std::string& s) {
  std::string out;
  for (const auto& cp : code_points(s)) out += map_case(cp, false);
  return out;
}

std::string python_title(const std::string& s) {
  std::string out;
  bool previous_cased = false;
  for (const auto& cp : code_points(s)) {
    const bool cased = is_cased_letter(cp);
    out += cased ? map_case(cp, !previous_cased) : cp;
    previous_cased = cased;
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out;
  bool first = true;
  for (const auto& cp : code_points(s)) {
    out += map_case(cp, first);
    first = false;
  }
  return out;
}

std::string strip(const std::string& s, const std::string* chars, bool left, bool right) {
  const std::vector<std::string> cps = code_points(s);
  std::vector<std::string> set;
  if (chars) set = code_points(*chars);
  const auto strippable = [&](const std::string& cp) {
    if (!chars) return is_space_code_point(cp);
    for (const auto& c : set)
      if (c == cp) return true;
    return false;
  };
  size_t begin = 0, end = cps.size();
  while (left && begin < end && strippable(cps[begin])) ++begin;
  while (right && end > begin && strippable(cps[end - 1])) --end;
  std::string out;
  for (size_t i = begin; i < end; ++i) out += cps[i];
  return out;
}

std::vector<std::string> split(const std::string& s, const std::string* sep, long maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) runtime_fail("split(): empty separator");
    size_t start = 0;
    while (maxsplit < 0 || static_cast<long>(out.size()) < maxsplit) {
      const size_t at = s.find(*sep, start);
      if (at == std::string::npos) break;
      out.push_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    out.push_back(s.substr(start));
    return out;
  }
  const std::vector<std::string> cps = code_points(s);
  size_t i = 0;
  while (true) {
    while (i < cps.size() && is_space_code_point(cps[i])) ++i;
    if (i == cps.size()) break;
    std::string word;
    if (maxsplit >= 0 && static_cast<long>(out.size()) == maxsplit) {
      size_t end = cps.size();
      while (end > i && is_space_code_point(cps[end - 1])) --end;
      for (; i < end; ++i) word += cps[i];
      out.push_back(word);
      break;
    }
    while (i < cps.size() && !is_space_code_point(cps[i])) word += cps[i++];
    out.push_back(word);
  }
  return out;
}

std::vector<std::string> rsplit(const std::string& s, const std::string* sep, long maxsplit) {
  if (!sep || maxsplit < 0) return split(s, sep, maxsplit);
  if (sep->empty()) runtime_fail("rsplit(): empty separator");
  std::vector<std::string> out;
  size_t end = s.size();
  while (static_cast<long>(out.size()) < maxsplit) {
    if (end < sep->size()) break;
    const size_t at = s.rfind(*sep, end - sep->size());
    if (at == std::string::npos) break;
    out.insert(out.begin(), s.substr(at + sep->size(), end - at - sep->size()));
    end = at;
  }
  out.insert(out.begin(), s.substr(0, end));
  return out;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    long count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` between code points and at both ends
    long n = 0;
    for (const auto& cp : code_points(s)) {
      if (count < 0 || n++ < count) out += to;
      out += cp;
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  size_t start = 0;
  long n = 0;
  while (count < 0 || n < count) {
    const size_t at = s.find(from, start);
    if (at == std::string::npos) break;
    out += s.substr(start, at - start) + to;
    if (out.size() > (size_t{256} << 20)) runtime_fail("replace(): the result is too long");
    start = at + from.size();
    ++n;
  }
  return out + s.substr(start);
}

}  // namespace zili::data::jinja
