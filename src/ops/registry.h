// The operator registry: every descriptor, in the order `gpuaug ops` lists them.
#pragma once

#include <string_view>
#include <vector>

#include "ops/op.h"

namespace gpuaug::ops {

const std::vector<const OpDescriptor*>& all_ops();
const OpDescriptor* find_op(std::string_view name);  // nullptr when unknown
std::string op_names();                              // "center_crop, color_jitter, ..."

}  // namespace gpuaug::ops
