// random_crop: a crop of `size` at a random position, after optional padding.
// Matches torchvision.transforms.v2.RandomCrop: padding first (fill / padding_mode), then with
// pad_if_needed the sides still too small are padded on both sides by the shortfall, then
// top = randint(0, H - h + 1), left = randint(0, W - w + 1).
// Records: top, left, height, width (in the padded image), padding [left, top, right, bottom].
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& random_crop_descriptor();

}  // namespace gpuaug::ops
