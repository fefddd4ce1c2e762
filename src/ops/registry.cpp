// The operator registry: one line per operator.
#include "ops/registry.h"

#include <fmt/format.h>

#include "ops/center_crop.h"
#include "ops/color_jitter.h"
#include "ops/gaussian_blur.h"
#include "ops/gaussian_noise.h"
#include "ops/grayscale.h"
#include "ops/horizontal_flip.h"
#include "ops/local_crops.h"
#include "ops/normalize.h"
#include "ops/pad.h"
#include "ops/pca_lighting.h"
#include "ops/random_affine.h"
#include "ops/random_crop.h"
#include "ops/random_erasing.h"
#include "ops/random_resized_crop.h"
#include "ops/resize.h"
#include "ops/rotate.h"
#include "ops/to_dtype.h"
#include "ops/vertical_flip.h"

namespace gpuaug::ops {

const std::vector<const OpDescriptor*>& all_ops() {
  static const std::vector<const OpDescriptor*> ops{
      &center_crop_descriptor(),     &color_jitter_descriptor(),
      &gaussian_blur_descriptor(),   &gaussian_noise_descriptor(),
      &grayscale_descriptor(),       &horizontal_flip_descriptor(),
      &local_crops_descriptor(),     &normalize_descriptor(),
      &pad_descriptor(),             &pca_lighting_descriptor(),
      &random_affine_descriptor(),   &random_crop_descriptor(),
      &random_erasing_descriptor(),  &random_resized_crop_descriptor(),
      &resize_descriptor(),          &rotate_descriptor(),
      &to_dtype_descriptor(),        &vertical_flip_descriptor(),
  };
  return ops;
}

const OpDescriptor* find_op(std::string_view name) {
  for (const OpDescriptor* op : all_ops())
    if (op->name == name) return op;
  return nullptr;
}

std::string op_names() {
  std::vector<std::string> names;
  for (const OpDescriptor* op : all_ops()) names.push_back(op->name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace gpuaug::ops
