// center_crop: descriptor and fold.
#include "ops/center_crop.h"

#include <cmath>

#include "ops/random_resized_crop.h"

namespace gpuaug::ops {

int64_t center_crop_offset(int64_t extent, int64_t size) {
  if (size > extent) return -((size - extent) / 2);
  return static_cast<int64_t>(std::nearbyint((extent - size) / 2.0));
}

namespace {

class CenterCrop final : public Op {
 public:
  explicit CenterCrop(const OpArgs& args) : size_(read_output_size(args, "size")) {}

  Drawn draw(RandomStream&, const SampleFold& fold) const override {
    Drawn d;
    d.set("top", double(center_crop_offset(fold.height(), size_.first)));
    d.set("left", double(center_crop_offset(fold.width(), size_.second)));
    d.set("height", size_.first);
    d.set("width", size_.second);
    return d;
  }

  GeometryRole geometry_role() const override { return GeometryRole::kCrop; }  // larger: zeros

  void fold(const Drawn& d, SampleFold& fold) const override {
    fold.crop(int64_t(d.get("top")), int64_t(d.get("left")), size_.first, size_.second);
  }

 private:
  std::pair<int, int> size_;
};

}  // namespace

const OpDescriptor& center_crop_descriptor() {
  static const OpDescriptor descriptor{
      "center_crop",
      "Crop the centre of the image to `size` (padding with 0 where the image is smaller)",
      "torchvision.transforms.v2.functional.center_crop",
      {{"size", "int | [int, int]", ParamValue::null(), "s -> s x s, or [height, width]"}},
      {"top", "left", "height", "width"},
      [](const OpArgs& args) { return std::make_unique<CenterCrop>(args); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
