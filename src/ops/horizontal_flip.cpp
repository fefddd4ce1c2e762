// horizontal_flip: descriptor.
#include "ops/horizontal_flip.h"

namespace gpuaug::ops {

const OpDescriptor& horizontal_flip_descriptor() {
  static const OpDescriptor descriptor{
      "horizontal_flip", "Mirror the image left-right with probability p",
      "torchvision.transforms.v2.RandomHorizontalFlip / functional.horizontal_flip",
      {p_param(0.5)}, {},
      [](const OpArgs& args) { return std::make_unique<RandomFlip>(args, true); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
