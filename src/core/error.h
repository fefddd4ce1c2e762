// gpuaug::Error: the one exception type; every failure names the file, the stage and the cause.
#pragma once

#include <stdexcept>
#include <string>

namespace gpuaug {

class Error : public std::runtime_error {
 public:
  // file may be empty for failures not tied to one input (a spec key, a CUDA call).
  Error(std::string file, std::string stage, std::string cause);

  const std::string& file() const noexcept { return file_; }
  const std::string& stage() const noexcept { return stage_; }
  const std::string& cause() const noexcept { return cause_; }

  // The same failure, now attributed to a file (decoders throw before they know the path).
  Error with_file(const std::string& file) const { return Error(file, stage_, cause_); }

 private:
  std::string file_;
  std::string stage_;
  std::string cause_;
};

}  // namespace gpuaug
