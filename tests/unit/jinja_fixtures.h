// Shared by the Jinja engine's unit tests: render a template source with a JSON context, and
// the error message a template gives.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "data/jinja/template.h"
#include "util/error.h"

namespace zili::test {

inline std::string render(const std::string& source, const nlohmann::ordered_json& context =
                                                         nlohmann::ordered_json::object()) {
  return data::jinja::Template::parse(source, "t.jinja").render(context).text;
}

// The zili::Error message of parsing and rendering source; "" when there is none.
inline std::string render_error(const std::string& source, const nlohmann::ordered_json& context =
                                                               nlohmann::ordered_json::object()) {
  try {
    render(source, context);
  } catch (const zili::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace zili::test
