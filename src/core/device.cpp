// Device name parsing.
#include "core/device.h"

#include <cctype>

#include "core/error.h"

namespace gpuaug {

Device parse_device(const std::string& text) {
  if (text == "cpu") return {};
  if (text == "cuda") return {true, 0};
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 9) {
    int index = 0;
    for (size_t i = 5; i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i])))
        throw Error("", "device", "'" + text + "': expected cpu, cuda or cuda:N");
      index = index * 10 + (text[i] - '0');
    }
    return {true, index};
  }
  throw Error("", "device", "'" + text + "': expected cpu, cuda or cuda:N");
}

}  // namespace gpuaug
