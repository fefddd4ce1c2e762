// random_resized_crop: descriptor, torchvision's parameter draw, fold into crop + resize.
#include "ops/random_resized_crop.h"

#include <algorithm>
#include <cmath>

namespace gpuaug::ops {

CropBox draw_resized_crop_box(RandomStream& rng, int width, int height,
                              std::pair<double, double> scale, std::pair<double, double> ratio) {
  const double area = double(height) * width;
  // torchvision keeps log_ratio in float32.
  const float log_lo = std::log(float(ratio.first)), log_hi = std::log(float(ratio.second));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale.first, scale.second);
    const double aspect = std::exp(double(float(rng.uniform(log_lo, log_hi))));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = rng.randint(0, height - h + 1);
      const int64_t left = rng.randint(0, width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, or its centre at the nearest allowed ratio; at least a pixel
  // (a ratio far from the image's rounds a side to 0, where torchvision's crop fails and an
  // empty crop here would give a black sample).
  const double in_ratio = double(width) / height;
  int64_t w = width, h = height;
  if (in_ratio < ratio.first) {
    h = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(width / ratio.first)));
  } else if (in_ratio > ratio.second) {
    w = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(height * ratio.second)));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

std::pair<int, int> read_output_size(const OpArgs& args, std::string_view name) {
  const auto [h, w] = args.int_pair(name, 1, 1 << 16);
  return {static_cast<int>(h), static_cast<int>(w)};
}

ResizedCrop::ResizedCrop(const OpArgs& args, int fanout)
    : fanout_(fanout),
      size_(read_output_size(args, "size")),
      scale_(args.range("scale", 0.0, 1.0,
                        [](double v) {
                          return std::pair{v, v};
                        })),
      ratio_(args.range("ratio", 1e-6, 1e6,
                        [](double v) {
                          return std::pair{v, v};
                        })),
      interp_(args.interpolation("interpolation")),
      antialias_(args.boolean("antialias")) {
  if (scale_.second <= 0.0) args.fail("scale", "the upper bound must be above 0");
}

Drawn ResizedCrop::draw(RandomStream& rng, const SampleFold& fold) const {
  const CropBox box = draw_resized_crop_box(rng, fold.width(), fold.height(), scale_, ratio_);
  Drawn d;
  d.set("top", double(box.top));
  d.set("left", double(box.left));
  d.set("height", double(box.height));
  d.set("width", double(box.width));
  d.set("size", {double(size_.first), double(size_.second)});
  return d;
}

void ResizedCrop::fold(const Drawn& d, SampleFold& fold) const {
  fold.crop(int64_t(d.get("top")), int64_t(d.get("left")), int64_t(d.get("height")),
            int64_t(d.get("width")));
  fold.resize(size_.first, size_.second, interp_, antialias_);
}

const OpDescriptor& random_resized_crop_descriptor() {
  static const OpDescriptor descriptor{
      "random_resized_crop",
      "Crop a random area and aspect ratio of the image and resize it to `size`",
      "torchvision.transforms.v2.RandomResizedCrop / functional.resized_crop",
      {{"size", "int | [int, int]", ParamValue::null(),
        "output size: s -> s x s, or [height, width]"},
       {"scale", "[float, float]", ParamValue::of(std::vector<double>{0.08, 1.0}),
        "range of the crop's area as a fraction of the image"},
       {"ratio", "[float, float]", ParamValue::of(std::vector<double>{3.0 / 4.0, 4.0 / 3.0}),
        "range of the crop's aspect ratio (width / height), drawn log-uniformly"},
       interpolation_param("bilinear"),
       {"antialias", "bool", ParamValue::of(true), "low-pass filter when shrinking"}},
      {"top", "left", "height", "width", "size"},
      [](const OpArgs& args) { return std::make_unique<ResizedCrop>(args, 0); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
