// local_crops: n random resized crops of one image, each its own output sample (the local
// views of multi-crop self-supervised training, as DINO's). Each crop draws its box exactly as
// random_resized_crop does, from its own stream (SampleId::crop = j + 1); ops after it are
// drawn per crop, ops before it once per image. Output names gain "-c<j>".
// Records: crop, top, left, height, width, size.
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& local_crops_descriptor();

}  // namespace gpuaug::ops
