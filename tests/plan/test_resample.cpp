// resample_math.h against independent oracles: filter kernels by hand, per-axis taps and weights
// against torchvision's antialias formula in double precision, border rules against numpy.pad,
// rounding ties, one warp pixel's mask-of-ones fill worked out by hand, and the zero-weight
// padding of taps that the GPU kernels rely on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../common/references.h"
#include "plan/plan.h"
#include "plan/resample_math.h"

namespace gpuaug::plan {
namespace {

constexpr auto kBilinear = static_cast<uint8_t>(ops::Interp::kBilinear);
constexpr auto kBicubic = static_cast<uint8_t>(ops::Interp::kBicubic);

TEST(FilterWeight, TriangleAndKeys) {
  EXPECT_DOUBLE_EQ(filter_weight(kBilinear, 0.0, -0.5), 1.0);
  EXPECT_DOUBLE_EQ(filter_weight(kBilinear, 0.25, -0.5), 0.75);
  EXPECT_DOUBLE_EQ(filter_weight(kBilinear, -0.75, -0.5), 0.25);
  EXPECT_DOUBLE_EQ(filter_weight(kBilinear, 1.0, -0.5), 0.0);
  EXPECT_DOUBLE_EQ(filter_weight(kBilinear, 3.0, -0.5), 0.0);
  // Keys, a = -0.5: (a+2)x^3 - (a+3)x^2 + 1 on [0, 1), a x^3 - 5a x^2 + 8a x - 4a on [1, 2).
  EXPECT_DOUBLE_EQ(filter_weight(kBicubic, 0.0, -0.5), 1.0);
  EXPECT_DOUBLE_EQ(filter_weight(kBicubic, 0.25, -0.5), 0.8671875);
  EXPECT_DOUBLE_EQ(filter_weight(kBicubic, -0.5, -0.5), 0.5625);
  EXPECT_NEAR(filter_weight(kBicubic, 1.0, -0.5), 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(filter_weight(kBicubic, 1.5, -0.5), -0.0625);
  EXPECT_NEAR(filter_weight(kBicubic, 2.0, -0.5), 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(filter_weight(kBicubic, 2.5, -0.5), 0.0);
  // a = -0.75 (torchvision without antialias).
  EXPECT_DOUBLE_EQ(filter_weight(kBicubic, 0.5, -0.75), 0.59375);
  EXPECT_DOUBLE_EQ(filter_weight(kBicubic, -1.5, -0.75), -0.09375);
}

struct AxisCase {
  int in, out;
  bool bicubic;
};

class AxisTaps : public ::testing::TestWithParam<AxisCase> {};

// The axis of a resize of p.in pixels to p.out, on the window [lo, lo + p.in) of an axis.
ops::Axis resized_axis(const AxisCase& p, int lo) {
  ops::Axis axis;
  axis.out_size = p.out;
  axis.scale = double(p.in) / p.out;
  axis.lo = lo;
  axis.hi = lo + p.in;
  axis.resampled = true;
  return axis;
}

// Taps and weights of a whole-axis resize (and of the same resize on a window [lo, lo + in)
// of a larger axis) equal torchvision's.
TEST_P(AxisTaps, MatchTorchvisionAntialias) {
  const AxisCase& p = GetParam();
  const auto ref = gpuaug_test::ref_axis(p.in, p.out, p.bicubic);
  for (int lo : {0, 7}) {
    const ops::Axis axis = resized_axis(p, lo);
    const AxisSampler a = make_axis_sampler(axis, p.bicubic ? ops::Interp::kBicubic : ops::Interp::kBilinear, true);
    EXPECT_EQ(a.base, lo);
    EXPECT_EQ(a.window, p.in);
    for (int i = 0; i < p.out; ++i) {
      double centre;
      int fill;
      ASSERT_TRUE(axis_centre(a, i, centre, fill)) << i;
      int first;
      const int count = axis_taps(a, centre, first);
      ASSERT_EQ(first, ref[i].first) << "output " << i << " lo " << lo;
      ASSERT_EQ(size_t(count), ref[i].weights.size()) << "output " << i << " lo " << lo;
      const double total = axis_total(a, centre, first, count);
      for (int j = 0; j < count; ++j)
        ASSERT_NEAR(axis_weight(a, centre, first + j, total), ref[i].weights[j], 1e-7) << i << " tap " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, AxisTaps,
                         ::testing::Values(AxisCase{1, 1, false}, AxisCase{1, 5, false}, AxisCase{17, 1, false},
                                           AxisCase{19, 7, false}, AxisCase{7, 19, false}, AxisCase{100, 3, false},
                                           AxisCase{31, 31, false}, AxisCase{19, 7, true}, AxisCase{7, 19, true},
                                           AxisCase{64, 5, true}, AxisCase{3, 2, true}));

// Without antialias the taps clamp their index to the window and keep torch's weights: the
// dense weight matrix equals upsample_{bilinear,bicubic}2d's, also on a window [7, 7 + in) of a
// larger axis (a crop before the resize: torch resizes the crop, so the clamp is at its edges).
TEST_P(AxisTaps, WithoutAntialiasMatchTorchUpsample) {
  const AxisCase& p = GetParam();
  const auto ref = gpuaug_test::ref_axis_no_antialias(p.in, p.out, p.bicubic);
  for (int lo : {0, 7}) {
    const ops::Axis axis = resized_axis(p, lo);
    const AxisSampler a = make_axis_sampler(axis, p.bicubic ? ops::Interp::kBicubic : ops::Interp::kBilinear, false);
    for (int i = 0; i < p.out; ++i) {
      double centre;
      int fill;
      ASSERT_TRUE(axis_centre(a, i, centre, fill)) << i;
      int first;
      const int count = axis_taps(a, centre, first);
      ASSERT_GE(count, 1);
      ASSERT_GE(first, 0);
      ASSERT_LE(first + count, p.in);
      const double total = axis_total(a, centre, first, count);
      std::vector<double> dense(size_t(p.in), 0.0);
      for (int j = 0; j < count; ++j) dense[size_t(first + j)] = axis_weight(a, centre, first + j, total);
      for (int j = 0; j < p.in; ++j)
        ASSERT_NEAR(dense[size_t(j)], ref[size_t(i)][size_t(j)], 1e-6) << "output " << i << " pixel " << j << " lo " << lo;
    }
  }
}

TEST(AxisTaps, WithoutAntialiasBilinearWeightsAreTheRenormalizedOnes) {
  // Triangle taps clamped at an edge sum to exactly what dropping and renormalizing gives, so
  // bilinear without antialias keeps its float weights bit for bit (the edges are where the two
  // rules could differ).
  for (const auto& [in, out] : {std::pair{17, 34}, std::pair{23, 50}, std::pair{90, 37}, std::pair{5, 1}, std::pair{1, 9}}) {
    ops::Axis axis;
    axis.out_size = out;
    axis.scale = double(in) / out;
    axis.hi = in;
    axis.resampled = true;
    AxisSampler clamped = make_axis_sampler(axis, ops::Interp::kBilinear, false);
    AxisSampler dropped = clamped;
    dropped.clamp_taps = 0;
    for (int i = 0; i < out; ++i) {
      double centre;
      int fill;
      axis_centre(clamped, i, centre, fill);
      int cf, df;
      const int cn = axis_taps(clamped, centre, cf), dn = axis_taps(dropped, centre, df);
      const double ct = axis_total(clamped, centre, cf, cn), dt = axis_total(dropped, centre, df, dn);
      std::vector<float> cw(size_t(in), 0.0f), dw(size_t(in), 0.0f);
      for (int j = 0; j < cn; ++j) cw[size_t(cf + j)] = axis_weight(clamped, centre, cf + j, ct);
      for (int j = 0; j < dn; ++j) dw[size_t(df + j)] = axis_weight(dropped, centre, df + j, dt);
      for (int j = 0; j < in; ++j) ASSERT_EQ(cw[size_t(j)], dw[size_t(j)]) << in << "->" << out << " output " << i << " pixel " << j;
    }
  }
}

TEST(AxisTaps, FlipReversesTheOutputIndex) {
  ops::Axis axis;
  axis.out_size = 5;
  axis.scale = 3.0;
  axis.hi = 15;
  axis.flip = true;
  const AxisSampler a = make_axis_sampler(axis, ops::Interp::kBilinear, true);
  for (int i = 0; i < 5; ++i) {
    double centre;
    int fill;
    axis_centre(a, i, centre, fill);
    EXPECT_DOUBLE_EQ(centre, 3.0 * (4 - i + 0.5));
  }
}

TEST(AxisTaps, WithoutAntialiasShrinkIsTwoTapBilinear) {
  ops::Axis axis;
  axis.out_size = 5;
  axis.scale = 4.0;
  axis.hi = 20;
  const AxisSampler a = make_axis_sampler(axis, ops::Interp::kBilinear, false);
  for (int i = 0; i < 5; ++i) {
    double centre;
    int fill;
    axis_centre(a, i, centre, fill);
    int first;
    const int count = axis_taps(a, centre, first);
    // Source position 4i + 1.5 in pixel indices: half of pixels 4i+1 and 4i+2.
    ASSERT_EQ(first, 4 * i + 1);
    ASSERT_EQ(count, 2);
    const double total = axis_total(a, centre, first, count);
    EXPECT_FLOAT_EQ(axis_weight(a, centre, first, total), 0.5f);
    EXPECT_FLOAT_EQ(axis_weight(a, centre, first + 1, total), 0.5f);
  }
}

TEST(AxisTaps, CentresBeyondTheWindowAreFill) {
  ops::Axis axis;  // a crop after a resize that reaches past the resized image
  axis.out_size = 6;
  axis.scale = 0.5;
  axis.shift = -2;
  axis.hi = 2;
  axis.resampled = true;
  const AxisSampler a = make_axis_sampler(axis, ops::Interp::kBilinear, true);
  for (int i = 0; i < 6; ++i) {
    double centre;
    int fill = -1;
    EXPECT_EQ(axis_centre(a, i, centre, fill), i >= 2) << i;  // resized index i - 2 exists for 0..3
    EXPECT_EQ(fill, 0);  // beyond the window: F.crop's zero
  }
}

TEST(AxisTaps, NearestTakesTheFlooredCentre) {
  ops::Axis axis;
  axis.out_size = 3;
  axis.scale = 7.0 / 3.0;
  axis.hi = 7;
  const AxisSampler a = make_axis_sampler(axis, ops::Interp::kNearest, true);
  const int expected[] = {1, 3, 5};  // floor(7/3 * (i + 0.5)): 1.17, 3.5, 5.83
  for (int i = 0; i < 3; ++i) {
    double centre;
    int fill;
    axis_centre(a, i, centre, fill);
    int first;
    EXPECT_EQ(axis_taps(a, centre, first), 1);
    EXPECT_EQ(first, expected[i]);
  }
}

// numpy.pad(numpy.arange(5), 7, mode) for indices -7 .. 11.
TEST(BorderIndex, MatchesNumpyPad) {
  const int edge[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4};
  const int reflect[] = {1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3};
  const int symmetric[] = {3, 4, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1};
  for (int i = -7; i < 12; ++i) {
    EXPECT_EQ(border_index(i, 5, uint8_t(ops::Border::kEdge)), edge[i + 7]) << i;
    EXPECT_EQ(border_index(i, 5, uint8_t(ops::Border::kReflect)), reflect[i + 7]) << i;
    EXPECT_EQ(border_index(i, 5, uint8_t(ops::Border::kSymmetric)), symmetric[i + 7]) << i;
    EXPECT_EQ(border_index(i, 5, uint8_t(ops::Border::kConstant)), i >= 0 && i < 5 ? i : -1) << i;
  }
  for (int i = -3; i < 4; ++i) {
    EXPECT_EQ(border_index(i, 1, uint8_t(ops::Border::kReflect)), 0);
    EXPECT_EQ(border_index(i, 1, uint8_t(ops::Border::kSymmetric)), 0);
  }
}

TEST(Rounding, HalfToEvenAndClamp) {
  EXPECT_EQ(round_half_even(0.5f), 0.0f);
  EXPECT_EQ(round_half_even(1.5f), 2.0f);
  EXPECT_EQ(round_half_even(2.5f), 2.0f);
  EXPECT_EQ(round_half_even(3.5f), 4.0f);
  EXPECT_EQ(round_half_even(254.5f), 254.0f);
  EXPECT_EQ(round_half_even(127.49999f), 127.0f);
  EXPECT_EQ(round_half_even(127.50001f), 128.0f);
  EXPECT_EQ(quantize_resampled(-3.2f), 0.0f);
  EXPECT_EQ(quantize_resampled(-0.5f), 0.0f);
  EXPECT_EQ(quantize_resampled(255.4f), 255.0f);
  EXPECT_EQ(quantize_resampled(300.0f), 255.0f);
  EXPECT_EQ(quantize_resampled(12.5f), 12.0f);
}

// numpy.pad(numpy.arange(5), 7, mode) again, now as pixel centres through mirror_coord (the
// output-side fold), on an interval [3, 8) that does not start at 0.
TEST(MirrorCoord, MatchesNumpyPadOnPixelCentres) {
  const int edge[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4};
  const int reflect[] = {1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3};
  const int symmetric[] = {3, 4, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1};
  for (int i = -7; i < 12; ++i) {
    const double u = 3 + i + 0.5;
    EXPECT_EQ(mirror_coord(u, 3, 8, uint8_t(ops::Border::kEdge)), 3 + edge[i + 7] + 0.5) << i;
    EXPECT_EQ(mirror_coord(u, 3, 8, uint8_t(ops::Border::kReflect)), 3 + reflect[i + 7] + 0.5) << i;
    EXPECT_EQ(mirror_coord(u, 3, 8, uint8_t(ops::Border::kSymmetric)), 3 + symmetric[i + 7] + 0.5) << i;
  }
  for (const double u : {-2.5, 0.5, 1.5, 7.5})
    for (auto b : {ops::Border::kReflect, ops::Border::kSymmetric, ops::Border::kEdge})
      EXPECT_EQ(mirror_coord(u, 1, 2, uint8_t(b)), 1.5);  // a one-pixel image repeats
}

AxisEdges edges_of(std::initializer_list<TapEdge> source, std::initializer_list<CoordEdge> output = {}) {
  AxisEdges e{};
  e.inner_lo = INT32_MIN / 2, e.inner_hi = INT32_MAX / 2;
  for (const TapEdge& t : source) {
    e.source[e.source_count++] = t;
    e.inner_lo = std::max(e.inner_lo, t.lo), e.inner_hi = std::min(e.inner_hi, t.hi);
  }
  for (const CoordEdge& c : output) e.output[e.output_count++] = c;
  return e;
}

constexpr auto kConstant = uint8_t(ops::Border::kConstant);
constexpr auto kReflect = uint8_t(ops::Border::kReflect);

// A tap through its axis' edges, outermost first, as torchvision pads each image in turn:
// np.pad(np.pad(x, 2, reflect), 1, constant 9) and np.pad(np.pad(x, 1, constant 9), 2, reflect)
// on x = arange(5).
TEST(FoldTap, EdgesApplyOutermostFirst) {
  // reflect first (inner, [0, 5)), then a fill (outer, [-2, 7), fill number 1).
  const AxisEdges mirror_then_fill = edges_of({{0, 5, kReflect, 0}, {-2, 7, kConstant, 1}});
  const int want_a[] = {-2, 2, 1, 0, 1, 2, 3, 4, 3, 2, -2};  // -2: fill 1, i.e. -1 - 1
  for (int i = -3; i < 8; ++i) EXPECT_EQ(fold_tap(i, mirror_then_fill, 5), want_a[i + 3]) << i;
  // fill first (inner, [0, 5)), then reflect (outer, [-1, 6)): the fill ring is mirrored too.
  const AxisEdges fill_then_mirror = edges_of({{0, 5, kConstant, 1}, {-1, 6, kReflect, 0}});
  const int want_b[] = {1, 0, -2, 0, 1, 2, 3, 4, -2, 4, 3};
  for (int i = -3; i < 8; ++i) EXPECT_EQ(fold_tap(i, fill_then_mirror, 5), want_b[i + 3]) << i;
  // No edge: outside the decoded image is fill 0.
  EXPECT_EQ(fold_tap(-1, edges_of({}), 5), -1);
  EXPECT_EQ(fold_tap(4, edges_of({}), 5), 4);
}

TEST(FoldTap, OfTwoAxesTheOuterFillWins) {
  EXPECT_EQ(fill_of(3, 4), -1);       // two indices: a pixel
  EXPECT_EQ(fill_of(-1 - 2, 4), 2);   // one fill
  EXPECT_EQ(fill_of(-1 - 2, -1 - 5), 5);
  EXPECT_EQ(fill_of(-1 - 0, -1 - 1), 1);
}

// After a resize the output index is folded first: resize to 4, then a reflect pad of 2 on the
// left: output 0, 1 show resized 2, 1, i.e. the centres 2.5 and 1.5 at scale 2.
TEST(AxisTaps, OutputEdgesFoldTheIndexIntoTheResizedImage) {
  ops::Axis axis;
  axis.out_size = 7;
  axis.scale = 2.0;
  axis.shift = -2;
  axis.hi = 8;
  axis.resampled = true;
  axis.output.edge[0] = {0, 4, ops::Border::kReflect, 0};
  axis.output.edge[1] = {-2, 4, ops::Border::kConstant, 3};  // then a fill on the right
  axis.output.count = 2;
  const AxisSampler a = make_axis_sampler(axis, ops::Interp::kBilinear, true);
  const double want[] = {2 * 2.5, 2 * 1.5, 2 * 0.5, 2 * 1.5, 2 * 2.5, 2 * 3.5};
  for (int i = 0; i < 6; ++i) {
    double centre;
    int fill;
    ASSERT_TRUE(axis_centre(a, i, centre, fill)) << i;
    EXPECT_DOUBLE_EQ(centre, want[i]) << i;
  }
  double centre;
  int fill;
  EXPECT_FALSE(axis_centre(a, 6, centre, fill));
  EXPECT_EQ(fill, 3);
}

// A 3 x 2 image, one channel repeated: values v(x, y) below.
struct TinyFetch {
  float fill;
  void operator()(int x, int y, float px[3]) const {
    static const float v[2][3] = {{10, 20, 100}, {30, 40, 200}};
    const float value = x >= 0 && x < 3 && y >= 0 && y < 2 ? v[y][x] : fill;
    px[0] = px[1] = px[2] = value;
  }
};

WarpSampler tiny_sampler(std::array<double, 6> m, ops::Interp interp) {
  ops::Geometry g;
  g.separable = false;
  g.m = m;
  g.valid = {1, 0, 0, 0, 1, 0};
  g.valid_rect = {0, 3, 0, 2};
  g.interp = interp;
  g.fills[1] = {6, 6, 6};
  g.fill_count = 2;
  g.warp_fill = 1;
  return make_warp_sampler(g);
}

TEST(WarpPixel, NearestAndBilinearWithMaskOfOnes) {
  Fills fill{};
  fill.v[1][0] = fill.v[1][1] = fill.v[1][2] = 6;
  TinyFetch fetch{6};
  float out[3];
  // Identity, nearest: each pixel itself.
  const WarpSampler id = tiny_sampler({1, 0, 0, 0, 1, 0}, ops::Interp::kNearest);
  warp_pixel(id, 2, 1, fill, fetch, out);
  EXPECT_EQ(out[0], 200.0f);
  // Half a pixel right and down, bilinear: the mean of a 2 x 2 block.
  const WarpSampler shifted = tiny_sampler({1, 0, 0.5, 0, 1, 0.5}, ops::Interp::kBilinear);
  warp_pixel(shifted, 0, 0, fill, fetch, out);
  EXPECT_FLOAT_EQ(out[0], (10 + 20 + 30 + 40) / 4.0f);
  // At the right edge two of the four taps are invalid: sum = 0.25 (100 + 200) = 75, mask 0.5,
  // result (75 - fill) * 0.5 + fill = 40.5 (torchvision's _apply_grid_transform).
  warp_pixel(shifted, 2, 0, fill, fetch, out);
  EXPECT_FLOAT_EQ(out[0], 40.5f);
  // Wholly outside: the fill.
  warp_pixel(tiny_sampler({1, 0, 10, 0, 1, 0}, ops::Interp::kBilinear), 0, 0, fill, fetch, out);
  EXPECT_FLOAT_EQ(out[0], 6.0f);
  warp_pixel(tiny_sampler({1, 0, -5, 0, 1, 0}, ops::Interp::kNearest), 0, 0, fill, fetch, out);
  EXPECT_FLOAT_EQ(out[0], 6.0f);
}

// Only a warp carrying a folded shrinking resize supersamples (an area filter standing in for
// torchvision's antialiased resize before the warp); plain rotations, affines (scale included)
// and nearest sampling keep one sample per pixel, as grid_sample.
TEST(WarpSampler, SupersamplesOnlyShrinkingResizedWarps) {
  ops::Geometry g;
  g.separable = false;
  g.resized = true;
  g.m = {0.8, -0.6, 0, 0.6, 0.8, 0};  // a rotation: no shrink
  EXPECT_EQ(make_warp_sampler(g).supersample, 1);
  g.m = {2.5, 0, 0, 0, 1, 0};
  EXPECT_EQ(make_warp_sampler(g).supersample, 3);  // ceil(2.5)
  g.m = {20, 0, 0, 0, 20, 0};
  EXPECT_EQ(make_warp_sampler(g).supersample, 8);  // capped
  g.interp = ops::Interp::kNearest;
  EXPECT_EQ(make_warp_sampler(g).supersample, 1);
  g.interp = ops::Interp::kBilinear;
  g.antialias = false;
  EXPECT_EQ(make_warp_sampler(g).supersample, 1);
  g.antialias = true;
  g.resized = false;  // an affine's own scale: grid_sample does not filter
  EXPECT_EQ(make_warp_sampler(g).supersample, 1);
}

}  // namespace
// The GPU kernels run every pixel of a warp (and every row of a tile) with the most taps of any
// of them, the taps past a pixel's own weighing 0 (sum_rows_of_taps, sum_tile_rows,
// store_tabled_rows in cuda_executor.cu). That keeps the CPU's bits because each sum starts at
// +0 and a sum of products is never -0 (x + -x and +0 + -0 round to +0), so adding 0 * v = +-0
// changes nothing. Checked here with real tap weights (bicubic's are negative in places) over
// levels and over row sums, which are negative, zero and -0 in places.
TEST(PaddedTaps, ZeroWeightsPastAPixelsTapsLeaveItsBits) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> out_size(213, 2000);  // a shrink of up to 3x, an enlargement up to 3x
  std::uniform_int_distribution<int> level(0, 255);
  size_t sums = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const AxisCase axis_case{640, out_size(rng), trial % 2 == 1};
    const AxisSampler a = make_axis_sampler(resized_axis(axis_case, 0), axis_case.bicubic ? ops::Interp::kBicubic
                                                                                          : ops::Interp::kBilinear, true);
    for (int i = 0; i < a.out_size; i += 7) {
      double centre = 0.0;
      int fill = 0, first = 0;
      if (!axis_centre(a, i, centre, fill)) continue;
      const int count = axis_taps(a, centre, first);
      const double total = axis_total(a, centre, first, count);
      std::vector<float> w(size_t(count) + 8, 0.0f);
      for (int j = 0; j < count; ++j) w[size_t(j)] = axis_weight(a, centre, first + j, total);
      for (const bool row_sums : {false, true}) {
        // Levels, or row sums: a level times a weight (-0 where 0 meets a negative one), less
        // a quarter of another level in places.
        std::vector<float> v(w.size());
        for (size_t j = 0; j < v.size(); ++j) {
          v[j] = float(level(rng));
          if (row_sums) v[j] = v[j] * w[j % size_t(count)] - (level(rng) % 4 == 0 ? 0.25f * float(level(rng)) : 0.0f);
        }
        if (row_sums && trial % 5 == 0) v[0] = -0.0f;
        float own = 0.0f;
        for (int j = 0; j < count; ++j) own += w[size_t(j)] * v[size_t(j)];
        for (int padded = count + 1; padded <= count + 8; ++padded) {
          float sum = 0.0f;
          for (int j = 0; j < padded; ++j) sum += w[size_t(j)] * v[size_t(j)];
          ASSERT_EQ(std::memcmp(&sum, &own, sizeof sum), 0) << "taps " << count << " padded to " << padded << ": "
                                                            << own << " became " << sum;
          ++sums;
        }
      }
    }
  }
  EXPECT_GT(sums, 100000u);
}

}  // namespace gpuaug::plan
