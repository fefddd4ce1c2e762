// resize: to [height, width], or the short side to `size` keeping the aspect ratio.
// Matches torchvision.transforms.v2.functional.resize: output size rule (long side truncated,
// max_size), align_corners=False, antialias weights when shrinking (shared notes "Resize").
// Records: size [height, width] (the size actually produced).
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& resize_descriptor();

// torchvision's _compute_resized_output_size for a one-number size (short side), with max_size.
std::pair<int, int> short_side_size(int height, int width, int64_t size, int64_t max_size);

}  // namespace gpuaug::ops
