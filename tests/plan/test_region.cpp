// decode_needs and retarget: the region holds every tap (checked against torchvision's tap
// formula and by executing on the region alone), the DCT denominator rules, borders that need
// the whole image, and retargeted geometry giving the same output as the full source.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "../common/references.h"
#include "ops/random_affine.h"
#include "plan/plan.h"

namespace gpuaug::plan {
namespace {

using gpuaug_test::crop_image;
using gpuaug_test::make_image;
using gpuaug_test::tensor_image;

ops::FoldResult resize_fold(int w, int h, int out_h, int out_w) {
  ops::SampleFold f(w, h);
  f.resize(out_h, out_w, ops::Interp::kBilinear, true);
  return f.finish();
}

int denom_of(const std::vector<ops::FoldResult>& folds, int w, int h, bool dct = true) {
  std::vector<const ops::FoldResult*> ptrs;
  for (const auto& f : folds) ptrs.push_back(&f);
  return decode_needs(ptrs, w, h, dct).scale_denom;
}

// d = the largest power of two <= min(scale_x, scale_y), at most 8.
TEST(DecodeNeeds, DctDenominatorIsTheLargestPowerOfTwoBelowTheShrink) {
  struct Case {
    int out_h, out_w, d;
  };
  const Case cases[] = {{600, 800, 1}, {1200, 1600, 1}, {300, 400, 2}, {301, 400, 1},
                        {300, 401, 1}, {200, 267, 2},   {150, 200, 4}, {100, 200, 4},
                        {151, 100, 2}, {75, 100, 8},    {10, 10, 8},   {1, 1, 8}};
  for (const Case& c : cases) {
    EXPECT_EQ(denom_of({resize_fold(800, 600, c.out_h, c.out_w)}, 800, 600), c.d) << c.out_h << "x" << c.out_w;
    EXPECT_EQ(denom_of({resize_fold(800, 600, c.out_h, c.out_w)}, 800, 600, false), 1);
  }
  // Several outputs of one image: the finest wins.
  EXPECT_EQ(denom_of({resize_fold(800, 600, 75, 100), resize_fold(800, 600, 300, 400)}, 800, 600), 2);
  // A crop then resize counts the crop's shrink, not the image's.
  ops::SampleFold crop(800, 600);
  crop.crop(0, 0, 100, 100);
  crop.resize(50, 50, ops::Interp::kBilinear, true);
  EXPECT_EQ(denom_of({crop.finish()}, 800, 600), 2);
}

TEST(DecodeNeeds, WarpDenominatorFromTheMatrixScale) {
  ops::SampleFold rotate(800, 600);
  ops::fold_affine(rotate, ops::inverse_affine_matrix(0, 0, -30, 0, 0, 1.0, 0, 0), 800, 600,
                   ops::Interp::kBilinear, {0, 0, 0});
  EXPECT_EQ(denom_of({rotate.finish()}, 800, 600), 1);
  ops::SampleFold shrink(800, 600);
  ops::fold_affine(shrink, ops::inverse_affine_matrix(0, 0, 20, 0, 0, 0.25, 0, 0), 200, 150,
                   ops::Interp::kBilinear, {0, 0, 0});
  EXPECT_EQ(denom_of({shrink.finish()}, 800, 600), 4);  // 1 / 0.25
  EXPECT_EQ(denom_of({shrink.finish()}, 800, 600, false), 1);
}

TEST(DecodeNeeds, NonConstantBorderReadsTheWholeImage) {
  for (ops::Border border : {ops::Border::kEdge, ops::Border::kReflect, ops::Border::kSymmetric}) {
    ops::SampleFold f(800, 600);
    f.crop(10, 10, 50, 50);
    f.pad(2, 2, 2, 2, border, {0, 0, 0});
    const ops::FoldResult r = f.finish();
    const DecodeNeeds needs = decode_needs({&r}, 800, 600, true);
    EXPECT_EQ(needs.region.width, 0) << int(border);
  }
  ops::SampleFold constant(800, 600);
  constant.crop(10, 10, 50, 50);
  constant.pad(2, 2, 2, 2, ops::Border::kConstant, {0, 0, 0});
  const ops::FoldResult r = constant.finish();
  EXPECT_GT(decode_needs({&r}, 800, 600, true).region.width, 0);
}

TEST(DecodeNeeds, WholeImageWhenEveryPixelIsRead) {
  const ops::FoldResult r = resize_fold(64, 48, 30, 40);
  const DecodeNeeds needs = decode_needs({&r}, 64, 48, false);
  EXPECT_EQ(needs.region.width, 0);
  EXPECT_EQ(needs.scale_denom, 1);
}

// Taps of a crop [left, left + width) resized to out, torchvision's formula, in source columns.
std::pair<int64_t, int64_t> tap_span(int left, int width, int out, bool flip) {
  const auto taps = gpuaug_test::ref_axis(width, out);
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& t : taps) {
    if (t.weights.empty()) continue;
    int64_t a = t.first, b = t.first + int64_t(t.weights.size());
    if (flip) std::tie(a, b) = std::pair{width - b, width - a};  // crop of the mirror
    lo = std::min(lo, left + a), hi = std::max(hi, left + b);
  }
  return {lo, hi};
}

struct CropCase {
  int top, left, height, width, out_h, out_w;
  bool flip;
};

class RegionOfCropResize : public ::testing::TestWithParam<CropCase> {};

TEST_P(RegionOfCropResize, HoldsEveryTapAndLittleMore) {
  const CropCase& c = GetParam();
  const int W = 401, H = 303;
  ops::SampleFold f(W, H);
  if (c.flip) f.flip_horizontal();
  f.crop(c.top, c.left, c.height, c.width);
  f.resize(c.out_h, c.out_w, ops::Interp::kBilinear, true);
  const ops::FoldResult r = f.finish();
  const DecodeNeeds needs = decode_needs({&r}, W, H, false);
  ASSERT_GT(needs.region.width, 0);
  // With a flip first, the crop's columns are counted from the right.
  const int left = c.flip ? W - c.left - c.width : c.left;
  const auto [x0, x1] = tap_span(left, c.width, c.out_w, c.flip);
  const auto [y0, y1] = tap_span(c.top, c.height, c.out_h, false);
  EXPECT_LE(needs.region.x, x0);
  EXPECT_GE(needs.region.x + needs.region.width, x1);
  EXPECT_LE(needs.region.y, y0);
  EXPECT_GE(needs.region.y + needs.region.height, y1);
  EXPECT_GE(needs.region.x, 0);
  EXPECT_GE(needs.region.y, 0);
  EXPECT_LE(needs.region.x + needs.region.width, W);
  EXPECT_LE(needs.region.y + needs.region.height, H);
  // Not much more than the crop (taps never leave the crop).
  EXPECT_LE(needs.region.width, c.width + 2);
  EXPECT_LE(needs.region.height, c.height + 2);
}

INSTANTIATE_TEST_SUITE_P(Boxes, RegionOfCropResize,
                         ::testing::Values(CropCase{10, 20, 50, 60, 7, 9, false},
                                           CropCase{100, 150, 33, 17, 40, 50, false},
                                           CropCase{0, 0, 40, 40, 5, 5, false},
                                           CropCase{250, 380, 53, 21, 11, 3, false},
                                           CropCase{10, 20, 50, 60, 7, 9, true},
                                           CropCase{5, 300, 17, 19, 17, 19, true}));

// Executing on the region alone, with the geometry retargeted to its origin (d = 1), gives
// exactly the bytes of executing on the whole source; pixels outside the region are never read.
struct FoldCase {
  const char* name;
  std::function<void(ops::SampleFold&)> build;
};

class RetargetOrigin : public ::testing::TestWithParam<FoldCase> {};

TEST_P(RetargetOrigin, RegionAloneGivesTheSameOutput) {
  const int W = 61, H = 47;
  const Image src = make_image(W, H);
  ops::SampleFold f(W, H);
  GetParam().build(f);
  const ops::FoldResult fold = f.finish();
  const Image full = tensor_image(execute_cpu(fold, src, {}, Layout::kHWC));
  const DecodeNeeds needs = decode_needs({&fold}, W, H, false);
  ASSERT_EQ(needs.scale_denom, 1);
  ASSERT_GT(needs.region.width, 0) << "expected a partial region";
  for (int grow : {0, 3}) {  // the exact region, and a larger one with another origin
    const int x0 = std::max(0, needs.region.x - grow), y0 = std::max(0, needs.region.y - grow);
    const int x1 = std::min(W, needs.region.x + needs.region.width + grow);
    const int y1 = std::min(H, needs.region.y + needs.region.height + grow);
    const Image part = crop_image(src, y0, x0, y1 - y0, x1 - x0);
    ops::FoldResult moved = fold;
    moved.geometry = retarget(fold.geometry, 1, x0, y0);
    const Image out = tensor_image(execute_cpu(moved, part, {}, Layout::kHWC));
    EXPECT_EQ(out.pixels, full.pixels) << GetParam().name << " grow " << grow;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Folds, RetargetOrigin,
    ::testing::Values(
        FoldCase{"crop_resize", [](ops::SampleFold& f) { f.crop(9, 13, 21, 30); f.resize(8, 11, ops::Interp::kBilinear, true); }},
        FoldCase{"crop_upscale_bicubic", [](ops::SampleFold& f) { f.crop(20, 30, 7, 9); f.resize(15, 20, ops::Interp::kBicubic, true); }},
        FoldCase{"flip_crop", [](ops::SampleFold& f) { f.flip_vertical(); f.crop(3, 40, 10, 12); }},
        FoldCase{"crop_beyond_border", [](ops::SampleFold& f) { f.crop(-4, 50, 12, 20); }},
        FoldCase{"resize_then_crop", [](ops::SampleFold& f) { f.resize(94, 122, ops::Interp::kBilinear, true); f.crop(10, 60, 20, 30); }},
        FoldCase{"pad_constant", [](ops::SampleFold& f) { f.crop(30, 40, 10, 10); f.pad(2, 3, 4, 5, ops::Border::kConstant, {9, 8, 7}); }},
        FoldCase{"crop_rotate_bilinear",
                 [](ops::SampleFold& f) {
                   f.crop(10, 15, 20, 24);
                   ops::fold_affine(f, ops::inverse_affine_matrix(0, 0, -30, 0, 0, 1.0, 0, 0), 24, 20,
                                    ops::Interp::kBilinear, {5, 5, 5});
                 }},
        FoldCase{"crop_rotate_bicubic_scaled",
                 [](ops::SampleFold& f) {
                   f.crop(5, 5, 30, 30);
                   ops::fold_affine(f, ops::inverse_affine_matrix(0, 0, 17, 2, -3, 0.7, 5, 0), 25, 25,
                                    ops::Interp::kBicubic, {0, 0, 0});
                 }},
        FoldCase{"rotate_nearest_then_crop",
                 [](ops::SampleFold& f) {
                   ops::fold_affine(f, ops::inverse_affine_matrix(0, 0, 45, 0, 0, 1.0, 0, 0), 61, 47,
                                    ops::Interp::kNearest, {1, 2, 3});
                   f.crop(30, 20, 9, 11);
                 }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Retarget, SeparableArithmetic) {
  ops::Geometry g;
  g.x.lo = 10, g.x.hi = 30, g.x.scale = 2;
  g.y.lo = -3, g.y.hi = 13, g.y.scale = 4;
  const ops::Geometry r = retarget(g, 2, 3, 1, 1, 0);
  // (source + grid_offset) / d - origin.
  EXPECT_DOUBLE_EQ(r.x.lo, (10 + 1) / 2.0 - 3);
  EXPECT_DOUBLE_EQ(r.x.hi, (30 + 1) / 2.0 - 3);
  EXPECT_DOUBLE_EQ(r.x.scale, 1.0);
  EXPECT_DOUBLE_EQ(r.y.lo, -3 / 2.0 - 1);
  EXPECT_DOUBLE_EQ(r.y.hi, 13 / 2.0 - 1);
  EXPECT_DOUBLE_EQ(r.y.scale, 2.0);
}

TEST(Retarget, SourceEdgesMoveWithTheWindow) {
  ops::SampleFold f(40, 30);
  f.pad(3, 0, 0, 0, ops::Border::kReflect, {0, 0, 0});
  f.crop(0, 6, 30, 20);
  f.pad(0, 0, 5, 0, ops::Border::kConstant, {1, 2, 3});
  const ops::Geometry r = retarget(f.finish().geometry, 2, 3, 1, 1, 0);
  ASSERT_EQ(r.x.source.count, 2);
  EXPECT_DOUBLE_EQ(r.x.source.edge[0].lo, (0 + 1) / 2.0 - 3);  // the source
  EXPECT_DOUBLE_EQ(r.x.source.edge[0].hi, (40 + 1) / 2.0 - 3);
  EXPECT_DOUBLE_EQ(r.x.source.edge[1].lo, (3 + 1) / 2.0 - 3);  // the crop [3, 23)
  EXPECT_DOUBLE_EQ(r.x.source.edge[1].hi, (23 + 1) / 2.0 - 3);
}

// With DCT scaling an image whose width is no multiple of the scale ends in a scaled pixel that
// is part image (libjpeg fills the rest by repeating the edge): a tap there reads that pixel.
// (It read fill once, a dark last column: 300 columns at 1/8 end at 37.5.)
TEST(Retarget, ThePartialLastScaledPixelIsImage) {
  ops::SampleFold f(300, 200);
  f.resize(11, 9, ops::Interp::kBilinear, true);
  ops::FoldResult r = f.finish();
  r.geometry = retarget(r.geometry, 8, 0, 0);
  Image decoded(38, 25, 3);  // ceil(300 / 8) x ceil(200 / 8)
  std::fill(decoded.pixels.begin(), decoded.pixels.end(), uint8_t(100));
  const Tensor out = execute_cpu(r, decoded, {}, Layout::kHWC);
  const auto* p = reinterpret_cast<const uint8_t*>(out.data.data());
  for (size_t i = 0; i < out.data.size(); ++i) ASSERT_EQ(p[i], 100) << i;
}

TEST(Retarget, WarpMapsAndValidityAgree) {
  ops::Geometry g;
  g.separable = false;
  g.m = {0.8, -0.6, 12, 0.6, 0.8, -4};
  g.valid = {1, 0, -5, 0, 1, -7};
  const int d = 4, ox = 3, oy = 2, gx = 1, gy = 3;
  const ops::Geometry r = retarget(g, d, ox, oy, gx, gy);
  for (double u : {0.5, 7.25, 30.0})
    for (double v : {0.5, 11.0}) {
      // m' gives the decoded coordinate of the source point m gives.
      const double sx = g.m[0] * u + g.m[1] * v + g.m[2], sy = g.m[3] * u + g.m[4] * v + g.m[5];
      EXPECT_NEAR(r.m[0] * u + r.m[1] * v + r.m[2], (sx + gx) / d - ox, 1e-12);
      EXPECT_NEAR(r.m[3] * u + r.m[4] * v + r.m[5], (sy + gy) / d - oy, 1e-12);
      // valid' of a decoded point equals valid of the source point it stands for.
      const double px = u, py = v;
      const double qx = d * (px + ox) - gx, qy = d * (py + oy) - gy;
      EXPECT_NEAR(r.valid[0] * px + r.valid[1] * py + r.valid[2], g.valid[0] * qx + g.valid[1] * qy + g.valid[2], 1e-12);
      EXPECT_NEAR(r.valid[3] * px + r.valid[4] * py + r.valid[5], g.valid[3] * qx + g.valid[4] * qy + g.valid[5], 1e-12);
    }
}

}  // namespace
}  // namespace gpuaug::plan
