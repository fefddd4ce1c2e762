// vertical_flip: descriptor (the flip itself is RandomFlip in horizontal_flip.h).
#include "ops/vertical_flip.h"

#include "ops/horizontal_flip.h"

namespace gpuaug::ops {

const OpDescriptor& vertical_flip_descriptor() {
  static const OpDescriptor descriptor{
      "vertical_flip", "Mirror the image top-bottom with probability p",
      "torchvision.transforms.v2.RandomVerticalFlip / functional.vertical_flip",
      {p_param(0.5)}, {},
      [](const OpArgs& args) { return std::make_unique<RandomFlip>(args, false); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
