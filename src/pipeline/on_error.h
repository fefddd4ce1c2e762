// on_error: what jobs and the Python loader do with a sample that cannot be read or decoded —
// raise, skip it, or put the spec's replacement image in its place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/spec.h"

namespace gpuaug::pipeline {

enum class OnError { kRaise, kSkip, kReplace };

// "raise", "skip" or "replace"; anything else is Error("", stage, ...) naming the choices.
OnError parse_on_error(const std::string& text, const std::string& stage);

// The bytes of spec.replacement, read once. Error(spec.name, "spec", ...) when the spec has
// none ("on_error replace needs `replacement: <image>` in the spec"), or the read's own error
// naming the replacement file.
std::vector<uint8_t> load_replacement(const Spec& spec);

}  // namespace gpuaug::pipeline
