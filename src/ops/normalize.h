// normalize: (x - mean) / std per channel, on float images in [0, 1].
// Matches torchvision.transforms.v2.functional.normalize (true division, float32). Images
// still in uint8 are first converted as to_dtype(float32, scale=True) would (docs/design.md).
// Support: 1 or 3 channels; mean and std hold 1 or 3 values.
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& normalize_descriptor();

}  // namespace gpuaug::ops
