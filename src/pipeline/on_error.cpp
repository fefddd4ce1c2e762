// Parsing on_error and reading the spec's replacement image.
#include "pipeline/on_error.h"

#include <fmt/format.h>

#include "codec/decoder.h"
#include "core/error.h"

namespace gpuaug::pipeline {

OnError parse_on_error(const std::string& text, const std::string& stage) {
  if (text == "raise") return OnError::kRaise;
  if (text == "skip") return OnError::kSkip;
  if (text == "replace") return OnError::kReplace;
  throw Error("", stage, fmt::format("on_error '{}': expected raise, skip or replace", text));
}

std::vector<uint8_t> load_replacement(const Spec& spec) {
  if (spec.replacement.empty())
    throw Error(spec.name, "spec", "on_error replace needs `replacement: <image>` in the spec");
  return codec::read_file(spec.replacement);
}

}  // namespace gpuaug::pipeline
