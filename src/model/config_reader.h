// Typed, strict access to the keys of a config.json object, each error one line naming the
// file and the key: shared by config.cpp (common keys) and config_families.cpp (per family).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace zili::model {

struct ConfigReader {
  const nlohmann::json& object;
  const std::string& where;

  // Present and not null.
  bool has(const char* key) const { return object.contains(key) && !object.at(key).is_null(); }
  // Present, null or not (an explicit null often means "none", unlike an absent key).
  bool present(const char* key) const { return object.contains(key); }

  int64_t integer(const char* key) const {
    if (!has(key)) fail("{}: missing required key \"{}\"", where, key);
    return integer_value(object.at(key), key);
  }
  int64_t integer_or(const char* key, int64_t fallback) const {
    return has(key) ? integer_value(object.at(key), key) : fallback;
  }
  int64_t integer_value(const nlohmann::json& value, const char* key) const {
    if (!value.is_number_integer())
      fail("{}: \"{}\" must be an integer, got {}", where, key, value.dump());
    return value.get<int64_t>();
  }
  int64_t positive(const char* key) const {
    const int64_t value = integer(key);
    if (value <= 0) fail("{}: \"{}\" must be positive, got {}", where, key, value);
    return value;
  }
  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!object.at(key).is_number())
      fail("{}: \"{}\" must be a number, got {}", where, key, object.at(key).dump());
    return object.at(key).get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!object.at(key).is_boolean())
      fail("{}: \"{}\" must be true or false, got {}", where, key, object.at(key).dump());
    return object.at(key).get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!object.at(key).is_string())
      fail("{}: \"{}\" must be a string, got {}", where, key, object.at(key).dump());
    return object.at(key).get<std::string>();
  }
};

}  // namespace zili::model
