// random_resized_crop: crop a random area and aspect ratio, then resize to `size`.
// Parameters are drawn as torchvision.transforms.v2.RandomResizedCrop.make_params does (up to
// 10 tries, then the centre fallback; see shared notes "RandomResizedCrop parameters"), from
// our Philox stream instead of torch's generator; the crop + resize folds into one resampling
// with torchvision's antialias weights (taps stop at the crop's edges).
// Records: top, left, height, width, size (torchvision.transforms.v2.functional.resized_crop).
#pragma once

#include "core/random.h"
#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& random_resized_crop_descriptor();

// The crop box of RandomResizedCrop for an image of width x height; shared with local_crops.
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};
CropBox draw_resized_crop_box(RandomStream& rng, int width, int height,
                              std::pair<double, double> scale, std::pair<double, double> ratio);

// "size" as torchvision reads it: an int s -> (s, s), [h, w] -> (h, w).
std::pair<int, int> read_output_size(const OpArgs& args, std::string_view name);

}  // namespace gpuaug::ops
