// center_crop: the centre [height, width] of the image, padding with 0 where it is larger.
// Matches torchvision.transforms.v2.functional.center_crop: top = round((H - h) / 2) (half to
// even), and when the crop is larger the pad splits as (h - H) // 2 on top, the rest below.
// Records: top, left, height, width (negative top/left where it pads).
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& center_crop_descriptor();

// Offset of a centred crop of `size` in `extent` as torchvision computes it.
int64_t center_crop_offset(int64_t extent, int64_t size);

}  // namespace gpuaug::ops
