// vertical_flip: mirror top-bottom with probability p (exact: no resampling of its own).
// Matches torchvision.transforms.v2.RandomVerticalFlip. Records only `applied`.
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& vertical_flip_descriptor();

}  // namespace gpuaug::ops
