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

// The op of random_resized_crop (fanout 0: one sample) and of local_crops (fanout n: n crops
// of one image, each drawn from its own stream).
class ResizedCrop final : public Op {
 public:
  ResizedCrop(const OpArgs& args, int fanout);
  int fanout() const override { return fanout_; }
  Drawn draw(RandomStream& rng, const SampleFold& fold) const override;
  GeometryRole geometry_role() const override { return GeometryRole::kResize; }
  void fold(const Drawn& d, SampleFold& fold) const override;

 private:
  int fanout_;
  std::pair<int, int> size_;
  std::pair<double, double> scale_;
  std::pair<double, double> ratio_;
  Interp interp_;
  bool antialias_;
};

// "size" as torchvision reads it: an int s -> (s, s), [h, w] -> (h, w).
std::pair<int, int> read_output_size(const OpArgs& args, std::string_view name);

}  // namespace gpuaug::ops
