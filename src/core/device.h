// Device names as the command and Python take them: "cpu", "cuda" (= cuda:0), "cuda:N".
#pragma once

#include <string>

namespace gpuaug {

struct Device {
  bool cuda = false;
  int index = 0;
  std::string name() const { return cuda ? "cuda:" + std::to_string(index) : "cpu"; }
};

// Throws gpuaug::Error (stage "device") for anything else.
Device parse_device(const std::string& text);

}  // namespace gpuaug
