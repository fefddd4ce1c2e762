// Tiled execution: every tile of an output, computed from only its source region (copied out,
// so that a pixel the region misses cannot be read), equals the same pixels of the whole image
// executed at once, bit for bit — for resize, rotate, affine, blur, pads, noise and chains of
// them, on odd image and tile sizes (issue 7, "one huge image across GPUs").
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../common/references.h"
#include "../common/tile_cases.h"
#include "core/error.h"
#include "pipeline/chain.h"
#include "pipeline/spec.h"
#include "plan/plan.h"

namespace gpuaug::pipeline {
namespace {

using gpuaug_test::copy_region;
using gpuaug_test::expect_window_equal;
using gpuaug_test::make_image;
using gpuaug_test::RegionCopy;

using gpuaug_test::TileCase;

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

INSTANTIATE_TEST_SUITE_P(Chains, Tiling, ::testing::ValuesIn(gpuaug_test::kTileCases),
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
