// random_affine: random rotation, translation, scale and shear about the centre.
// Matches torchvision.transforms.v2.RandomAffine: draws angle, then translate (rounded half to
// even, in pixels), scale, shear_x, shear_y; the inverse matrix as
// torchvision.transforms.v2.functional._geometry._get_inverse_affine_matrix (float64); sampling
// at pixel centres with grid_sample's mask-of-ones fill (shared notes "Rotate / affine").
// Records: angle, translate [tx, ty], scale, shear [sx, sy] (functional.affine's arguments).
#pragma once

#include <array>

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& random_affine_descriptor();

// torchvision's inverse affine matrix, centre relative to the image centre.
std::array<double, 6> inverse_affine_matrix(double center_x, double center_y, double angle_deg,
                                            double translate_x, double translate_y, double scale,
                                            double shear_x_deg, double shear_y_deg);
// Folds a torchvision inverse matrix: output (out_w x out_h) pixel centres to the current image.
void fold_affine(SampleFold& fold, const std::array<double, 6>& inverse, int out_w, int out_h,
                 Interp interp, std::array<float, 3> fill);
// The `center` parameter ([x, y] in pixels, or null) relative to the image centre.
std::pair<double, double> relative_center(const ParamValue& center, int width, int height);

}  // namespace gpuaug::ops
