// SampleFold: the axis windows, scales, shifts and flips that crops, resizes, flips and pads
// fold into, the warp matrix they compose into, and the output dtype and channel rules.
#include <gtest/gtest.h>

#include <array>

#include "core/error.h"
#include "ops/fold.h"

namespace gpuaug::ops {
namespace {

void expect_axis(const Axis& a, double lo, double hi, double scale, double shift, bool flip,
                 bool resampled, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_DOUBLE_EQ(a.lo, lo);
  EXPECT_DOUBLE_EQ(a.hi, hi);
  EXPECT_DOUBLE_EQ(a.scale, scale);
  EXPECT_DOUBLE_EQ(a.shift, shift);
  EXPECT_EQ(a.flip, flip);
  EXPECT_EQ(a.resampled, resampled);
}

// Source x of output pixel centre u (continuous) under a separable axis, as fold.h documents.
double axis_source(const Axis& a, double u) {
  const double k = a.flip ? a.out_size - u : u;
  return a.lo + a.scale * (k + a.shift);
}

TEST(SampleFold, FreshFoldIsTheWholeSource) {
  const FoldResult r = SampleFold(17, 19).finish();
  const Geometry& g = r.geometry;
  EXPECT_TRUE(g.separable);
  EXPECT_EQ(g.out_w, 17);
  EXPECT_EQ(g.out_h, 19);
  EXPECT_EQ(g.x.out_size, 17);
  EXPECT_EQ(g.y.out_size, 19);
  expect_axis(g.x, 0, 17, 1, 0, false, false, "x");
  expect_axis(g.y, 0, 19, 1, 0, false, false, "y");
  EXPECT_EQ(g.x.source.count, 0);
  EXPECT_EQ(g.y.output.count, 0);
  EXPECT_EQ(g.fill_count, 1);  // F.crop's zero only
  EXPECT_EQ(r.dtype, DType::kUInt8);
  EXPECT_EQ(r.channels, 3);
  EXPECT_TRUE(r.pixels.empty());
}

TEST(SampleFold, CropMovesTheWindow) {
  SampleFold f(17, 19);
  f.crop(2, 3, 10, 12);
  EXPECT_EQ(f.width(), 12);
  EXPECT_EQ(f.height(), 10);
  f.crop(-1, 4, 5, 20);  // partly outside: the window may leave the source
  const Geometry g = f.finish().geometry;
  expect_axis(g.x, 7, 27, 1, 0, false, false, "x");
  expect_axis(g.y, 1, 6, 1, 0, false, false, "y");
  EXPECT_EQ(g.out_w, 20);
  EXPECT_EQ(g.out_h, 5);
}

TEST(SampleFold, ResizeAfterCropScalesTheWindow) {
  SampleFold f(17, 19);
  f.crop(2, 3, 10, 12);
  f.resize(5, 8, Interp::kBicubic, false);
  const Geometry g = f.finish().geometry;
  expect_axis(g.x, 3, 15, 1.5, 0, false, true, "x");
  expect_axis(g.y, 2, 12, 2.0, 0, false, true, "y");
  EXPECT_EQ(g.interp, Interp::kBicubic);
  EXPECT_FALSE(g.antialias);
  // Output pixel edges map to the crop's edges.
  EXPECT_DOUBLE_EQ(axis_source(g.x, 0), 3);
  EXPECT_DOUBLE_EQ(axis_source(g.x, 8), 15);
}

TEST(SampleFold, CropAfterResizeShiftsTheOutputIndex) {
  SampleFold f(17, 19);
  f.resize(38, 34, Interp::kBilinear, true);  // 2x up
  f.crop(1, 2, 30, 20);
  const Geometry g = f.finish().geometry;
  expect_axis(g.x, 0, 17, 0.5, 2, false, true, "x");
  expect_axis(g.y, 0, 19, 0.5, 1, false, true, "y");
  // Output column 0 is resized column 2, whose centre is at 2.5 / 2 = 1.25 in the source.
  EXPECT_DOUBLE_EQ(axis_source(g.x, 0.5), 1.25);
}

TEST(SampleFold, SecondResizeFoldsIntoTheFirst) {
  SampleFold f(17, 19);
  f.resize(38, 34, Interp::kBilinear, true);
  f.crop(0, 4, 38, 30);
  f.resize(19, 10, Interp::kBilinear, true);
  const Geometry g = f.finish().geometry;
  // x: 17 -> 34 (0.5 per pixel), crop from 4, 30 -> 10 (3 per pixel): 1.5 source pixels each,
  // starting at resized column 4 = source 2.
  EXPECT_DOUBLE_EQ(g.x.scale, 1.5);
  EXPECT_DOUBLE_EQ(axis_source(g.x, 0), 2.0);
  EXPECT_DOUBLE_EQ(axis_source(g.x, 10), 17.0);
  EXPECT_DOUBLE_EQ(g.y.scale, 1.0);
  EXPECT_DOUBLE_EQ(axis_source(g.y, 19), 19.0);
}

TEST(SampleFold, CropOfAFlippedImageCountsFromTheOtherEnd) {
  SampleFold f(17, 19);
  f.flip_horizontal();
  f.crop(0, 3, 19, 5);  // columns 3..7 of the mirror = source columns 13..9
  const Geometry g = f.finish().geometry;
  expect_axis(g.x, 9, 14, 1, 0, true, false, "x");
  EXPECT_DOUBLE_EQ(axis_source(g.x, 0.5), 13.5);  // output 0 reads source column 13
  EXPECT_DOUBLE_EQ(axis_source(g.x, 4.5), 9.5);
  f.flip_horizontal();
  EXPECT_FALSE(f.finish().geometry.x.flip);
}

TEST(SampleFold, FlipsAreInvolutions) {
  SampleFold f(5, 3);
  f.flip_vertical();
  EXPECT_TRUE(f.finish().geometry.y.flip);
  EXPECT_FALSE(f.finish().geometry.x.flip);
  f.flip_vertical();
  EXPECT_FALSE(f.finish().geometry.y.flip);
}

void expect_edge(const Edges& edges, int k, double lo, double hi, Border border, int fill, const char* what) {
  SCOPED_TRACE(what);
  ASSERT_LT(k, edges.count);
  const Edge& e = edges.edge[size_t(k)];
  EXPECT_DOUBLE_EQ(e.lo, lo);
  EXPECT_DOUBLE_EQ(e.hi, hi);
  EXPECT_EQ(e.border, border);
  EXPECT_EQ(int(e.fill), fill);
}

TEST(SampleFold, PadIsACropBeyondTheBorderWithItsRule) {
  SampleFold f(17, 19);
  f.pad(1, 2, 3, 4, Border::kReflect, {10, 20, 30});
  const FoldResult r = f.finish();
  expect_axis(r.geometry.x, -1, 20, 1, 0, false, false, "x");
  expect_axis(r.geometry.y, -2, 23, 1, 0, false, false, "y");
  EXPECT_EQ(r.geometry.out_w, 21);
  EXPECT_EQ(r.geometry.out_h, 25);
  // The edge keeps the image the pad was given and its rule; a mirror needs no fill value.
  ASSERT_EQ(r.geometry.x.source.count, 1);
  expect_edge(r.geometry.x.source, 0, 0, 17, Border::kReflect, 0, "x");
  expect_edge(r.geometry.y.source, 0, 0, 19, Border::kReflect, 0, "y");
  EXPECT_EQ(r.geometry.fill_count, 1);
}

TEST(SampleFold, EveryPadKeepsItsOwnRuleAndFill) {
  // torchvision pads the image it is given: each pad is an edge around the previous image.
  SampleFold f(17, 19);
  f.pad(2, 2, 2, 2, Border::kReflect, {0, 0, 0});
  f.pad(1, 0, 1, 0, Border::kConstant, {9, 9, 9});  // x only: no edge on y
  f.crop(0, 3, 19, 10);                              // inside: no edge
  f.pad(4, 1, 0, 0, Border::kConstant, {5, 6, 7});
  const Geometry g = f.finish().geometry;
  ASSERT_EQ(g.x.source.count, 3);
  expect_edge(g.x.source, 0, 0, 17, Border::kReflect, 0, "x reflect");
  expect_edge(g.x.source, 1, -2, 19, Border::kConstant, 1, "x fill 9");
  expect_edge(g.x.source, 2, 0, 10, Border::kConstant, 2, "x fill 5,6,7: the crop");
  ASSERT_EQ(g.y.source.count, 2);
  expect_edge(g.y.source, 0, 0, 19, Border::kReflect, 0, "y reflect");
  expect_edge(g.y.source, 1, -2, 17, Border::kConstant, 2, "y fill 5,6,7: the crop");
  EXPECT_EQ(g.fill_count, 3);
  EXPECT_EQ(g.fills[1], (std::array<float, 3>{9, 9, 9}));
  EXPECT_EQ(g.fills[2], (std::array<float, 3>{5, 6, 7}));
}

TEST(SampleFold, ACropPastTheImageIsAZeroEdgeOfItsOwn) {
  // F.crop pads with zeros whatever fill an earlier pad used: its own, later, fill number.
  SampleFold f(10, 8);
  f.pad(1, 1, 1, 1, Border::kConstant, {50, 50, 50});
  f.crop(-2, -3, 14, 18);
  const Geometry g = f.finish().geometry;
  ASSERT_EQ(g.x.source.count, 2);
  expect_edge(g.x.source, 1, -1, 11, Border::kConstant, 2, "x");
  EXPECT_EQ(g.fills[2], (std::array<float, 3>{0, 0, 0}));
  // The same fill as the newest shares its number.
  SampleFold h(10, 8);
  h.crop(-1, -1, 10, 12);
  EXPECT_EQ(int(h.finish().geometry.x.source.edge[0].fill), 0);
  EXPECT_EQ(h.finish().geometry.fill_count, 1);
}

TEST(SampleFold, PadsAfterAResizeAreOutputEdgesInResizedCoordinates) {
  // Output index i' + shift is the resized image's index: a mirrored pad mirrors it there.
  SampleFold f(17, 19);
  f.resize(11, 9, Interp::kBilinear, true);
  f.pad(3, 5, 2, 1, Border::kReflect, {0, 0, 0});
  f.flip_horizontal();
  f.pad(0, 0, 4, 0, Border::kConstant, {7, 7, 7});  // right of the flipped image: resized left
  const Geometry g = f.finish().geometry;
  EXPECT_EQ(g.x.source.count, 0);
  ASSERT_EQ(g.x.output.count, 2);
  expect_edge(g.x.output, 0, 0, 9, Border::kReflect, 0, "x reflect");
  expect_edge(g.x.output, 1, -3, 11, Border::kConstant, 1, "x fill");
  EXPECT_DOUBLE_EQ(g.x.shift, -7);  // 3 + 4 columns before resized column 0
  expect_edge(g.y.output, 0, 0, 11, Border::kReflect, 0, "y reflect");
  // A second resize scales them with the output index.
  f.resize(38, 30, Interp::kBilinear, true);
  const Geometry h = f.finish().geometry;
  expect_edge(h.x.output, 0, 0, 15, Border::kReflect, 0, "x reflect, 18 -> 30");
}

TEST(SampleFold, AWarpMovesResizedEdgesToTheSourceAndKeepsItsFill) {
  SampleFold f(20, 10);
  f.resize(5, 10, Interp::kBilinear, true);  // 2 source pixels per output pixel
  f.pad(1, 0, 1, 0, Border::kConstant, {4, 4, 4});
  f.warp({1, 0, 0, 0, 1, 0}, 12, 5, Interp::kBilinear, {200, 100, 0});
  const Geometry g = f.finish().geometry;
  ASSERT_EQ(g.x.source.count, 1);
  expect_edge(g.x.source, 0, 0, 20, Border::kConstant, 1, "x: resized [0, 10) is source [0, 20)");
  EXPECT_EQ(g.x.output.count, 0);
  EXPECT_EQ(int(g.warp_fill), 2);
  EXPECT_EQ(g.fills[2], (std::array<float, 3>{200, 100, 0}));
  // After the warp, pads and crops are output edges in output pixels, moved by later crops
  // and mirrored by flips.
  f.pad(2, 0, 0, 0, Border::kSymmetric, {0, 0, 0});
  f.crop(0, 1, 5, 10);
  f.flip_horizontal();
  const Geometry h = f.finish().geometry;
  ASSERT_EQ(h.x.output.count, 1);
  expect_edge(h.x.output, 0, 10 - 13, 10 - 1, Border::kSymmetric, 0, "x: [1, 13) flipped in 10");
}

TEST(SampleFold, BordersBetweenTwoWarpsDoNotFold) {
  SampleFold f(10, 10);
  f.warp({1, 0, 0, 0, 1, 0}, 10, 10, Interp::kNearest, {1, 2, 3});
  f.crop(-1, -1, 12, 12);
  EXPECT_THROW(f.warp({1, 0, 0, 0, 1, 0}, 12, 12, Interp::kNearest, {0, 0, 0}), Error);
  // Without one, the first warp's input becomes an edge with its fill for the second.
  SampleFold h(10, 8);
  h.crop(1, 2, 6, 7);
  h.warp({1, 0, 0, 0, 1, 0}, 7, 6, Interp::kNearest, {1, 2, 3});
  h.warp({1, 0, 0, 0, 1, 0}, 7, 6, Interp::kNearest, {4, 5, 6});
  const Geometry g = h.finish().geometry;
  ASSERT_EQ(g.x.source.count, 1);
  expect_edge(g.x.source, 0, 2, 9, Border::kConstant, 1, "x: the first warp's input");
  expect_edge(g.y.source, 0, 1, 7, Border::kConstant, 1, "y");
  EXPECT_EQ(int(g.warp_fill), 2);
}

TEST(SampleFold, WarpComposesWithEarlierCrops) {
  SampleFold f(17, 19);
  f.crop(2, 3, 10, 12);
  // A 180-degree turn of the 12 x 10 crop: crop coordinate (12 - u, 10 - v).
  f.warp({-1, 0, 12, 0, -1, 10}, 12, 10, Interp::kNearest, {1, 2, 3});
  const Geometry g = f.finish().geometry;
  EXPECT_FALSE(g.separable);
  const std::array<double, 6> m{-1, 0, 15, 0, -1, 12};
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(g.m[i], m[i]) << i;
  // Taps count only inside the crop: valid maps source to crop coordinates.
  const std::array<double, 6> valid{1, 0, -3, 0, 1, -2};
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(g.valid[i], valid[i]) << i;
  EXPECT_EQ(g.valid_rect, (std::array<double, 4>{0, 12, 0, 10}));
  EXPECT_EQ(g.interp, Interp::kNearest);
  EXPECT_EQ(g.fills[size_t(g.warp_fill)], (std::array<float, 3>{1, 2, 3}));
  EXPECT_EQ(g.out_w, 12);
  EXPECT_EQ(g.out_h, 10);
}

TEST(SampleFold, OpsAfterAWarpComposeIntoItsMatrix) {
  SampleFold f(17, 19);
  f.warp({1, 0, 0, 0, 1, 0}, 17, 19, Interp::kBilinear, {0, 0, 0});  // identity warp
  f.flip_horizontal();    // (u, v) -> (17 - u, v)
  f.crop(1, 2, 10, 8);    // (u, v) -> (u + 2, v + 1)
  f.resize(5, 16, Interp::kBilinear, true);  // (u, v) -> (u / 2, 2 v)
  f.flip_vertical();      // (u, v) -> (u, 5 - v)
  const Geometry g = f.finish().geometry;
  // Output (u, v): y = 5 - v; resize: (u / 2, 2 (5 - v)); crop: (u / 2 + 2, 11 - 2 v);
  // flip: (15 - u / 2, 11 - 2 v).
  const std::array<double, 6> m{-0.5, 0, 15, 0, -2, 11};
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(g.m[i], m[i]) << i;
  EXPECT_EQ(g.out_w, 16);
  EXPECT_EQ(g.out_h, 5);
}

TEST(SampleFold, OutputDtypeFollowsTheDomain) {
  {
    SampleFold f(4, 4);
    f.require_float(2);
    const FoldResult r = f.finish();
    ASSERT_EQ(r.pixels.size(), 1u);
    EXPECT_EQ(r.pixels[0].kind, PixelKind::kToFloat);
    EXPECT_EQ(r.pixels[0].op_index, 2);
    EXPECT_TRUE(r.pixels[0].uint8_domain);  // the step reads uint8 values
    EXPECT_EQ(r.dtype, DType::kFloat32);
    f.require_float(3);  // already float: nothing added
    EXPECT_EQ(f.finish().pixels.size(), 1u);
  }
  {
    SampleFold f(4, 4);
    f.require_float(0);
    f.set_output_dtype(DType::kFloat16);
    EXPECT_EQ(f.finish().dtype, DType::kFloat16);
    f.set_output_dtype(DType::kBFloat16);
    EXPECT_EQ(f.finish().dtype, DType::kBFloat16);
  }
  {
    SampleFold f(4, 4);
    f.require_float(0);
    PixelOp back;
    back.kind = PixelKind::kToUInt8;
    f.pixel(back);
    EXPECT_TRUE(f.uint8_domain());
    EXPECT_EQ(f.finish().dtype, DType::kUInt8);
    EXPECT_FALSE(f.finish().pixels.back().uint8_domain);  // it reads floats
  }
  {
    SampleFold f(4, 4);
    f.set_grayscale_channels(1);
    PixelOp gray;
    gray.kind = PixelKind::kGrayscale;
    f.pixel(gray);
    EXPECT_EQ(f.finish().channels, 1);
    EXPECT_EQ(f.finish().pixels[0].channels, 1);
  }
}

TEST(SampleFold, NormalizeIsNoted) {
  SampleFold f(4, 4);
  f.note_normalize({0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.5f});
  const FoldResult r = f.finish();
  EXPECT_TRUE(r.has_normalize);
  EXPECT_EQ(r.norm_mean, (std::array<float, 3>{0.5f, 0.4f, 0.3f}));
  EXPECT_EQ(r.norm_std, (std::array<float, 3>{0.2f, 0.25f, 0.5f}));
}

}  // namespace
}  // namespace gpuaug::ops
