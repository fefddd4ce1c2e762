// Chains and helpers of the tiling tests (CPU and GPU): each case is one sample's ops, chosen
// to cover separable and warped geometry, every border, blurs (halos) and per-pixel noise.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "plan/plan.h"

namespace gpuaug_test {

using namespace gpuaug;

struct TileCase {
  const char* name;
  const char* ops;
};

inline const TileCase kTileCases[] = {
    {"resize_down", "  - resize: {size: [23, 31]}\n"},
    {"resize_up_bicubic", "  - resize: {size: [150, 130], interpolation: bicubic}\n"},
    {"resize_nearest", "  - resize: {size: [40, 50], interpolation: nearest}\n"},
    {"resize_no_antialias", "  - resize: {size: [20, 45], antialias: false}\n"},
    {"random_resized_crop_flip", "  - random_resized_crop: {size: [37, 41]}\n  - horizontal_flip: {p: 1}\n"},
    {"rotate_bilinear", "  - rotate: {degrees: 33, interpolation: bilinear, fill: [10, 20, 30]}\n"},
    {"rotate_expand_bicubic", "  - rotate: {degrees: 70, interpolation: bicubic, expand: true}\n"},
    {"affine", "  - random_affine: {degrees: 20, translate: [0.1, 0.2], scale: [0.7, 1.3], shear: 10, "
               "interpolation: bilinear}\n"},
    {"resize_then_rotate", "  - resize: {size: [45, 52]}\n  - rotate: {degrees: 15, interpolation: bilinear}\n"},
    {"blur", "  - gaussian_blur: {kernel_size: [5, 9], sigma: [0.5, 2]}\n"},
    {"two_blurs_float", "  - to_dtype: {dtype: float32}\n  - gaussian_blur: {kernel_size: 3}\n"
                        "  - gaussian_noise: {sigma: 0.05}\n  - gaussian_blur: {kernel_size: [7, 3]}\n"},
    {"pad_reflect_crop", "  - pad: {padding: [9, 4, 2, 7], padding_mode: reflect}\n"
                         "  - random_crop: {size: [50, 40], pad_if_needed: true, padding_mode: symmetric}\n"},
    {"pad_edge_resize", "  - pad: {padding: 5, padding_mode: edge}\n  - resize: {size: [30, 70]}\n"},
    // Borders after the resampling fold the output index: a tile there shows pixels elsewhere.
    {"resize_pad_reflect_fill", "  - resize: {size: [45, 38]}\n  - pad: {padding: [11, 3, 6, 14], padding_mode: reflect}\n"
                                "  - pad: {padding: 4, fill: [200, 10, 90]}\n"},
    {"pad_fill_rotate_pad_symmetric", "  - pad: {padding: 6, fill: 50}\n"
                                      "  - rotate: {degrees: 20, interpolation: bilinear, fill: [0, 90, 180]}\n"
                                      "  - pad: {padding: [13, 2, 4, 9], padding_mode: symmetric}\n"},
    {"chain", "  - random_resized_crop: {size: [48, 40], scale: [0.3, 1]}\n"
              "  - rotate: {degrees: 25, interpolation: bilinear}\n"
              "  - color_jitter: {brightness: 0.4, saturation: 0.4, hue: 0.1}\n"
              "  - gaussian_blur: {kernel_size: 5}\n  - random_erasing: {p: 1}\n"
              "  - to_dtype: {dtype: float16}\n  - normalize: {}\n"},
    {"gray_blur_noise", "  - grayscale: {num_output_channels: 1}\n  - gaussian_blur: {kernel_size: 3}\n"
                        "  - gaussian_noise: {sigma: 0.1}\n"},
};

// The source pixels of `region` in their own buffer: the view a tile gets.
struct RegionCopy {
  std::vector<uint8_t> pixels;
  plan::SourceView view;
};

inline RegionCopy copy_region(const Image& src, const codec::Rect& r) {
  RegionCopy c;
  c.pixels.resize(size_t(r.width) * r.height * 3 + 1);  // never empty, so data() is a real pointer
  for (int y = 0; y < r.height; ++y)
    std::memcpy(&c.pixels[size_t(y) * r.width * 3], src.row(r.y + y) + size_t(r.x) * 3, size_t(r.width) * 3);
  c.view = {c.pixels.data(), size_t(r.width) * 3, r, src.width, src.height};
  return c;
}

// Rows of `window` of `whole` (same dtype and layout as `tile`) equal `tile`'s.
inline void expect_window_equal(const Tensor& whole, const Tensor& tile, const codec::Rect& w, const std::string& what) {
  const size_t e = dtype_size(whole.dtype);
  ASSERT_EQ(tile.width, w.width);
  ASSERT_EQ(tile.height, w.height);
  for (int c = 0; c < whole.channels; ++c)
    for (int y = 0; y < w.height; ++y)
      for (int x = 0; x < w.width; ++x) {
        const auto* a = whole.data.data() + whole.offset(w.y + y, w.x + x, c) * e;
        const auto* b = tile.data.data() + tile.offset(y, x, c) * e;
        if (std::memcmp(a, b, e) != 0) {
          ADD_FAILURE() << what << ": pixel (" << w.x + x << ", " << w.y + y << ") channel " << c << " differs";
          return;
        }
      }
}

}  // namespace gpuaug_test
