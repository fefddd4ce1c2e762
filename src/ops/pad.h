// pad: add borders; constant (fill), edge, reflect or symmetric as numpy/torchvision name them.
// Matches torchvision.transforms.v2.functional.pad. Padding: p -> all sides, [lr, tb], or
// [left, top, right, bottom]. Records: padding [left, top, right, bottom].
#pragma once

#include <array>

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& pad_descriptor();

// torchvision's padding argument as [left, top, right, bottom].
std::array<int64_t, 4> read_padding(const OpArgs& args, std::string_view name);
Border read_padding_mode(const OpArgs& args, std::string_view name);
ParamSpec padding_mode_param();

}  // namespace gpuaug::ops
