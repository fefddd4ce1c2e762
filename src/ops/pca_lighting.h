// pca_lighting: AlexNet's lighting noise — every pixel of a sample shifted by the same
// eigvec @ (alpha * eigval), alpha ~ N(0, alphastd) per principal component, as
// fb.resnet.torch's and timm's Lighting do (x + offset on float images in [0, 1], before
// normalize). The components come from `eigval` / `eigvec` (default: ImageNet's, as those
// repositories give them) or from a `gpuaug stats` file (`stats: stats.json`): its PCA's
// eigenvectors, scaled by the square root of each eigenvalue (the standard deviation along that
// axis). A path is taken from the working folder.
//
// Folded as a normalize with mean -offset and std 1 ((x + o) / 1, exact), so it runs in the
// same pass on CPU and GPU. Float domain (uint8 images are converted first); 3 channels (a
// 1-channel image is left as it is, recorded as not applied).
// Records: alpha (three values), and the offset added to R, G and B.
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& pca_lighting_descriptor();

}  // namespace gpuaug::ops
