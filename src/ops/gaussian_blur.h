// gaussian_blur: blur with a Gaussian kernel whose sigma is drawn per sample.
// Matches torchvision.transforms.v2.GaussianBlur: sigma = U(sigma_min, sigma_max) (drawn in
// float32, like torch.empty(1).uniform_), the same for both axes; then
// functional.gaussian_blur: kernel w_i = exp(-((i - c) / sigma)^2 / 2) normalized, reflect
// padding without repeating the edge, uint8 results rounded half to even. Runs as its own
// pass (plan/pixel_passes.h: separable, horizontal then vertical in float32; tolerance against
// torchvision's single 2-D conv stated there). Where half the kernel is as large as the image,
// torchvision refuses the padding; we keep reflecting.
//
// Parameters: kernel_size: k -> (k, k), or [kx, ky] (x first, as torchvision), odd and
// positive; sigma: s -> [s, s], or [min, max] with 0 < min <= max.
// Support: uint8 and float domains; 1 or 3 channels. Ends a fused segment (needs neighbours).
// Records: kernel_size [kx, ky], sigma [s, s] (functional.gaussian_blur's arguments).
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& gaussian_blur_descriptor();

}  // namespace gpuaug::ops
