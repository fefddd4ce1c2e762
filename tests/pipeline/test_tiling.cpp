// Tiled execution: every tile of an output, computed from only its source region (copied out,
// so that a pixel the region misses cannot be read), equals the same pixels of the whole image
// executed at once, bit for bit — for resize, rotate, affine, blur, pads, noise and chains of
// them, on odd image and tile sizes (issue 7, "one huge image across GPUs").
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../common/references.h"
#include "core/error.h"
#include "pipeline/chain.h"
#include "pipeline/spec.h"
#include "plan/plan.h"

namespace gpuaug::pipeline {
namespace {

using gpuaug_test::make_image;

// The source pixels of `region` in their own buffer: the view a tile gets.
struct RegionCopy {
  std::vector<uint8_t> pixels;
  plan::SourceView view;
};

RegionCopy copy_region(const Image& src, const codec::Rect& r) {
  RegionCopy c;
  c.pixels.resize(size_t(r.width) * r.height * 3 + 1);  // never empty, so data() is a real pointer
  for (int y = 0; y < r.height; ++y)
    std::memcpy(&c.pixels[size_t(y) * r.width * 3], src.row(r.y + y) + size_t(r.x) * 3, size_t(r.width) * 3);
  c.view = {c.pixels.data(), size_t(r.width) * 3, r, src.width, src.height};
  return c;
}

// Rows of `window` of `whole` (same dtype and layout as `tile`) equal `tile`'s.
void expect_window_equal(const Tensor& whole, const Tensor& tile, const codec::Rect& w, const std::string& what) {
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

struct TileCase {
  const char* name;
  const char* ops;
};

class Tiling : public ::testing::TestWithParam<TileCase> {};

TEST_P(Tiling, EveryTileEqualsTheWholeImage) {
  const Spec spec = parse_spec(std::string("seed: 11\nops:\n") + GetParam().ops, "tile.yaml");
  const Chain chain(spec);
  for (const auto& [w, h] : {std::pair{97, 61}, std::pair{64, 64}, std::pair{33, 101}}) {
    const Image src = make_image(w, h);
    for (uint64_t index = 0; index < 3; ++index) {
      const RandomKey key = RandomKey::from(spec.seed, 0);
      const std::vector<SamplePlan> plans = chain.plan(key, index, 0, w, h);
      ASSERT_EQ(plans.size(), 1u);
      const ops::FoldResult& fold = plans[0].fold;
      const plan::PixelStreamId stream{key, plans[0].id};
      for (const Layout layout : {Layout::kHWC, Layout::kCHW}) {
        const Tensor whole = plan::execute_cpu(fold, src, stream, layout);
        const int W = fold.geometry.out_w, H = fold.geometry.out_h;
        for (const auto& [tw, th] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{16, 16}, std::pair{W, 9}, std::pair{29, H}}) {
          if (tw == 1 && (W * H > 1200 || layout == Layout::kCHW)) continue;  // single pixels: small outputs only
          for (int y = 0; y < H; y += th)
            for (int x = 0; x < W; x += tw) {
              const codec::Rect window{x, y, std::min(tw, W - x), std::min(th, H - y)};
              const codec::Rect region = plan::source_region(fold, w, h, window);
              const RegionCopy part = copy_region(src, region);
              const Tensor tile = plan::execute_cpu_window(fold, part.view, stream, layout, window);
              expect_window_equal(whole, tile, window,
                                  std::string(GetParam().name) + " " + std::to_string(w) + "x" + std::to_string(h) +
                                      " index " + std::to_string(index) + " tile " + std::to_string(tw) + "x" +
                                      std::to_string(th));
              if (HasFailure()) return;
            }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Chains, Tiling,
    ::testing::Values(
        TileCase{"resize_down", "  - resize: {size: [23, 31]}\n"},
        TileCase{"resize_up_bicubic", "  - resize: {size: [150, 130], interpolation: bicubic}\n"},
        TileCase{"resize_nearest", "  - resize: {size: [40, 50], interpolation: nearest}\n"},
        TileCase{"resize_no_antialias", "  - resize: {size: [20, 45], antialias: false}\n"},
        TileCase{"random_resized_crop_flip", "  - random_resized_crop: {size: [37, 41]}\n  - horizontal_flip: {p: 1}\n"},
        TileCase{"rotate_bilinear", "  - rotate: {degrees: 33, interpolation: bilinear, fill: [10, 20, 30]}\n"},
        TileCase{"rotate_expand_bicubic", "  - rotate: {degrees: 70, interpolation: bicubic, expand: true}\n"},
        TileCase{"affine", "  - random_affine: {degrees: 20, translate: [0.1, 0.2], scale: [0.7, 1.3], shear: 10, "
                           "interpolation: bilinear}\n"},
        TileCase{"resize_then_rotate", "  - resize: {size: [45, 52]}\n  - rotate: {degrees: 15, interpolation: bilinear}\n"},
        TileCase{"blur", "  - gaussian_blur: {kernel_size: [5, 9], sigma: [0.5, 2]}\n"},
        TileCase{"two_blurs_float", "  - to_dtype: {dtype: float32}\n  - gaussian_blur: {kernel_size: 3}\n"
                                    "  - gaussian_noise: {sigma: 0.05}\n  - gaussian_blur: {kernel_size: [7, 3]}\n"},
        TileCase{"pad_reflect_crop", "  - pad: {padding: [9, 4, 2, 7], padding_mode: reflect}\n"
                                     "  - random_crop: {size: [50, 40], pad_if_needed: true, padding_mode: symmetric}\n"},
        TileCase{"pad_edge_resize", "  - pad: {padding: 5, padding_mode: edge}\n  - resize: {size: [30, 70]}\n"},
        TileCase{"chain", "  - random_resized_crop: {size: [48, 40], scale: [0.3, 1]}\n"
                          "  - rotate: {degrees: 25, interpolation: bilinear}\n"
                          "  - color_jitter: {brightness: 0.4, saturation: 0.4, hue: 0.1}\n"
                          "  - gaussian_blur: {kernel_size: 5}\n  - random_erasing: {p: 1}\n"
                          "  - to_dtype: {dtype: float16}\n  - normalize: {}\n"},
        TileCase{"gray_blur_noise", "  - grayscale: {num_output_channels: 1}\n  - gaussian_blur: {kernel_size: 3}\n"
                                    "  - gaussian_noise: {sigma: 0.1}\n"}),
    [](const auto& info) { return std::string(info.param.name); });

// Contrast blends with the whole image's mean: a tile of such a chain is refused, naming the
// stage; the whole output as one window still runs.
TEST(Tiling, ContrastRunsOnlyOnTheWholeImage) {
  const Spec spec = parse_spec("seed: 1\nops:\n  - color_jitter: {contrast: 0.5}\n", "c.yaml");
  const Chain chain(spec);
  const Image src = make_image(20, 10);
  const auto plans = chain.plan(RandomKey::from(1, 0), 0, 0, 20, 10);
  const ops::FoldResult& fold = plans.at(0).fold;
  try {
    plan::execute_cpu_window(fold, plan::SourceView::of(src), {}, Layout::kHWC, {0, 0, 10, 10});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.stage(), "tile");
    EXPECT_NE(std::string(e.what()).find("contrast"), std::string::npos) << e.what();
  }
  const Tensor whole = plan::execute_cpu_window(fold, plan::SourceView::of(src), {}, Layout::kHWC, {0, 0, 20, 10});
  const Tensor reference = plan::execute_cpu(fold, src, {}, Layout::kHWC);
  EXPECT_EQ(std::memcmp(whole.data.data(), reference.data.data(), reference.data.size()), 0);
}

TEST(Tiling, WindowOutsideTheOutputIsAnError) {
  const Spec spec = parse_spec("seed: 1\nops:\n  - resize: {size: [8, 8]}\n", "r.yaml");
  const auto plans = Chain(spec).plan(RandomKey::from(1, 0), 0, 0, 20, 10);
  const Image src = make_image(20, 10);
  EXPECT_THROW(plan::execute_cpu_window(plans.at(0).fold, plan::SourceView::of(src), {}, Layout::kHWC, {4, 4, 5, 4}),
               Error);
  EXPECT_THROW(plan::execute_cpu_window(plans.at(0).fold, plan::SourceView::of(src), {}, Layout::kHWC, {0, 0, 0, 4}),
               Error);
}

// A tile reads a small part of a large source: its region is far smaller than the image.
TEST(Tiling, RegionOfATileIsLocal) {
  const Spec spec = parse_spec("seed: 1\nops:\n  - rotate: {degrees: 10, interpolation: bicubic}\n"
                               "  - gaussian_blur: {kernel_size: 7}\n", "r.yaml");
  const auto plans = Chain(spec).plan(RandomKey::from(1, 0), 0, 0, 1000, 800);
  const codec::Rect r = plan::source_region(plans.at(0).fold, 1000, 800, {500, 400, 50, 40});
  EXPECT_GT(r.width, 50);
  EXPECT_LT(r.width, 120);
  EXPECT_GT(r.height, 40);
  EXPECT_LT(r.height, 110);
}

}  // namespace
}  // namespace gpuaug::pipeline
