// gpuaug::Error: message formatting.
#include "core/error.h"

namespace gpuaug {

namespace {
std::string format_message(const std::string& file, const std::string& stage,
                           const std::string& cause) {
  std::string message = file.empty() ? std::string() : file + ": ";
  message += stage + ": " + cause;
  return message;
}
}  // namespace

Error::Error(std::string file, std::string stage, std::string cause)
    : std::runtime_error(format_message(file, stage, cause)),
      file_(std::move(file)),
      stage_(std::move(stage)),
      cause_(std::move(cause)) {}

}  // namespace gpuaug
