// Small text helpers shared by the commands.
#pragma once

#include <string>
#include <vector>

namespace zili {

// "a,b,,c" -> {"a", "b", "c"}: comma-separated parts, empty ones dropped.
std::vector<std::string> split_commas(const std::string& text);

}  // namespace zili
