// local_crops: descriptor; draws like random_resized_crop, fans out to n samples.
#include "ops/local_crops.h"

#include "ops/random_resized_crop.h"

namespace gpuaug::ops {

const OpDescriptor& local_crops_descriptor() {
  static const OpDescriptor descriptor{
      "local_crops",
      "n random resized crops of one image, each its own output sample",
      "multi-crop (DINO) local views; each crop as torchvision.transforms.v2.RandomResizedCrop",
      {{"n", "int", ParamValue::of(6.0), "number of crops per image"},
       {"size", "int | [int, int]", ParamValue::of(96.0), "output size of each crop"},
       {"scale", "[float, float]", ParamValue::of(std::vector<double>{0.05, 0.4}),
        "range of each crop's area as a fraction of the image"},
       {"ratio", "[float, float]", ParamValue::of(std::vector<double>{3.0 / 4.0, 4.0 / 3.0}),
        "range of aspect ratios (width / height)"},
       interpolation_param("bilinear"),
       {"antialias", "bool", ParamValue::of(true), "low-pass filter when shrinking"}},
      {"top", "left", "height", "width", "size"},
      [](const OpArgs& args) {
        return std::make_unique<ResizedCrop>(args, int(args.integer("n", 1, 255)));
      },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
