// rotate: a random angle in `degrees`, counter-clockwise, about the centre (or `center`).
// Matches torchvision.transforms.v2.RandomRotation / functional.rotate: the inverse matrix of
// functional.affine with -angle, expand's output size computed in float32 with the 1e-4
// truncation, nearest by default, fill through grid_sample's mask of ones.
// Records: angle.
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& rotate_descriptor();

// torchvision's _compute_affine_output_size for expand=True: (width, height).
std::pair<int, int> expanded_size(const std::array<double, 6>& inverse, int width, int height);

}  // namespace gpuaug::ops
