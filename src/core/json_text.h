// JSON as text where a string is not UTF-8: file names on Linux are bytes, and nlohmann's dump
// throws on them (a job stopped with a message naming no file); their bad bytes become U+FFFD.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace gpuaug {

template <class Json>
std::string json_text(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// Whether json_text keeps `text` as it is (no byte replaced).
inline bool is_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

}  // namespace gpuaug
