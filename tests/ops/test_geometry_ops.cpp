// Geometric ops folded and executed on the CPU against independent oracles: exact index maps for
// identity, crops, flips, pads (numpy.pad's modes), centre crops and quarter turns; torchvision's
// antialiased resize written out in double precision for crop+resize, resize+crop and flips.
//
// Tolerance for resampled outputs: <= 1 per sample. The executor sums float32 products and
// rounds half to even; the oracle sums in double. A sum within a float32 rounding error of an
// x.5 boundary can round the other way (torchvision's own CPU and CUDA paths differ likewise).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "../common/references.h"
#include "ops/random_affine.h"
#include "ops/random_resized_crop.h"
#include "ops/registry.h"
#include "ops/rotate.h"
#include "plan/plan.h"

namespace gpuaug::ops {
namespace {

using gpuaug_test::crop_image;
using gpuaug_test::flip_image;
using gpuaug_test::make_coordinate_image;
using gpuaug_test::make_image;
using gpuaug_test::max_abs_diff;
using gpuaug_test::ref_resize;
using gpuaug_test::tensor_image;
using Params = std::vector<std::pair<std::string, ParamValue>>;

std::unique_ptr<Op> make_op(const std::string& name, const Params& params) {
  const OpDescriptor* descriptor = find_op(name);
  EXPECT_NE(descriptor, nullptr) << name;
  auto op = descriptor->make(OpArgs(*descriptor, params, 1));
  op->bind(descriptor, 0);
  return op;
}

// Folds an op with its own draw (for ops whose draw is not random).
void fold_drawn(const Op& op, SampleFold& fold) {
  RandomStream rng(RandomKey{1, 2}, 0, 0, 0);
  op.fold(op.draw(rng, fold), fold);
}

Image execute(const SampleFold& fold, const Image& src) {
  return tensor_image(plan::execute_cpu(fold.finish(), src, {}, Layout::kHWC));
}

ParamValue list(std::vector<double> xs) { return ParamValue::of(std::move(xs)); }
ParamValue num(double x) { return ParamValue::of(x); }
ParamValue str(const char* s) { return ParamValue::of(std::string(s)); }

// Share of samples that differ (for reporting near-tie disagreements).
double differing_share(const Image& a, const Image& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) n += a.pixels[i] != b.pixels[i];
  return a.pixels.empty() ? 0.0 : double(n) / double(a.pixels.size());
}

struct Size {
  int w, h;
};

class IdentityAndFlips : public ::testing::TestWithParam<Size> {};

TEST_P(IdentityAndFlips, IdentityReproducesTheSource) {
  const Image src = make_image(GetParam().w, GetParam().h);
  EXPECT_EQ(execute(SampleFold(src.width, src.height), src).pixels, src.pixels);
}

TEST_P(IdentityAndFlips, IdentityInChwLayout) {
  const Image src = make_image(GetParam().w, GetParam().h);
  const Tensor t = plan::execute_cpu(SampleFold(src.width, src.height).finish(), src, {}, Layout::kCHW);
  ASSERT_EQ(t.layout, Layout::kCHW);
  const auto* data = reinterpret_cast<const uint8_t*>(t.data.data());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < src.height; ++y)
      for (int x = 0; x < src.width; ++x)
        ASSERT_EQ(data[(size_t(c) * src.height + y) * src.width + x], src.row(y)[x * 3 + c]);
}

TEST_P(IdentityAndFlips, FlipsMirrorExactly) {
  const Image src = make_image(GetParam().w, GetParam().h);
  const auto hflip = make_op("horizontal_flip", {});
  const auto vflip = make_op("vertical_flip", {});
  for (int mask = 0; mask < 4; ++mask) {
    SampleFold f(src.width, src.height);
    Drawn h, v;
    h.applied = mask & 1;
    v.applied = mask & 2;
    hflip->fold(h, f);
    vflip->fold(v, f);
    EXPECT_EQ(execute(f, src).pixels, flip_image(src, mask & 1, mask & 2).pixels) << "mask " << mask;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, IdentityAndFlips,
                         ::testing::Values(Size{1, 1}, Size{17, 19}, Size{5, 3}, Size{2, 31}, Size{6, 4}),
                         [](const auto& info) { return std::to_string(info.param.w) + "x" + std::to_string(info.param.h); });

// random_crop's fold with recorded parameters: rows/columns outside the image are fill (0),
// as torchvision's F.crop pads.
TEST(Crop, InsideAndBeyondTheBorder) {
  const Image src = make_image(17, 19);
  const auto op = make_op("random_crop", {{"size", list({6, 9})}});
  const int cases[][2] = {{0, 0}, {13, 8}, {-2, -3}, {16, 15}, {-10, 4}, {30, 30}};
  for (const auto& [top, left] : cases) {
    SampleFold f(17, 19);
    Drawn d;
    d.set("top", top);
    d.set("left", left);
    op->fold(d, f);
    EXPECT_EQ(execute(f, src).pixels, crop_image(src, top, left, 6, 9, 0).pixels) << top << "," << left;
  }
}

TEST(Crop, OneByOneSource) {
  const Image src = make_image(1, 1);
  SampleFold f(1, 1);
  f.crop(-1, -2, 3, 4);
  EXPECT_EQ(execute(f, src).pixels, crop_image(src, -1, -2, 3, 4, 0).pixels);
}

// torchvision center_crop: top = round_half_even((H - h) / 2), likewise left; a crop larger
// than the image pads (H - h) // 2 before. Offsets below are worked out by hand for 17 x 19.
TEST(CenterCrop, OffsetsMatchTorchvision) {
  const Image src = make_image(17, 19);  // width 17, height 19
  struct Case {
    int h, w, top, left;
  };
  const Case cases[] = {
      {8, 8, 6, 4},     // (19-8)/2 = 5.5 -> 6, (17-8)/2 = 4.5 -> 4
      {19, 17, 0, 0},   //
      {21, 9, -1, 4},   // pad 1 on top
      {20, 20, 0, -1},  // pad 0 on top (1 below), 1 left (2 right)
      {25, 25, -3, -4}, //
      {1, 1, 9, 8},     //
  };
  for (const Case& c : cases) {
    const auto op = make_op("center_crop", {{"size", list({double(c.h), double(c.w)})}});
    SampleFold f(17, 19);
    fold_drawn(*op, f);
    EXPECT_EQ(execute(f, src).pixels, crop_image(src, c.top, c.left, c.h, c.w, 0).pixels)
        << c.h << "x" << c.w;
  }
}

// numpy.pad([0 1 2 3 4], (3, 4), mode) and numpy.pad([0 1 2 3], (2, 3), mode), written out.
TEST(Pad, ModesMatchNumpyPad) {
  const Image src = make_coordinate_image(5, 4);  // R = x, G = y
  struct Mode {
    const char* name;
    std::vector<int> xs, ys;
  };
  const Mode modes[] = {
      {"edge", {0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4, 4}, {0, 0, 0, 1, 2, 3, 3, 3, 3}},
      {"reflect", {3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0}, {2, 1, 0, 1, 2, 3, 2, 1, 0}},
      {"symmetric", {2, 1, 0, 0, 1, 2, 3, 4, 4, 3, 2, 1}, {1, 0, 0, 1, 2, 3, 3, 2, 1}},
  };
  for (const Mode& mode : modes) {
    const auto op = make_op("pad", {{"padding", list({3, 2, 4, 3})}, {"padding_mode", str(mode.name)}});
    SampleFold f(5, 4);
    fold_drawn(*op, f);
    const Image out = execute(f, src);
    ASSERT_EQ(out.width, 12);
    ASSERT_EQ(out.height, 9);
    for (int y = 0; y < 9; ++y)
      for (int x = 0; x < 12; ++x)
        for (int c = 0; c < 3; ++c)
          ASSERT_EQ(out.row(y)[x * 3 + c], src.row(mode.ys[y])[mode.xs[x] * 3 + c])
              << mode.name << " at " << x << "," << y;
  }
}

TEST(Pad, ConstantFillPerChannel) {
  const Image src = make_coordinate_image(5, 4);
  const auto op = make_op("pad", {{"padding", list({1, 2})}, {"fill", list({10, 20, 30})}});
  SampleFold f(5, 4);
  fold_drawn(*op, f);
  const Image out = execute(f, src);
  ASSERT_EQ(out.width, 7);
  ASSERT_EQ(out.height, 8);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 7; ++x) {
      const bool inside = x >= 1 && x < 6 && y >= 2 && y < 6;
      for (int c = 0; c < 3; ++c) {
        const int expected = inside ? src.row(y - 2)[(x - 1) * 3 + c] : 10 * (c + 1);
        ASSERT_EQ(out.row(y)[x * 3 + c], expected) << x << "," << y << "," << c;
      }
    }
}

TEST(Pad, EdgeAndSymmetricOnOnePixel) {
  const Image src = make_image(1, 1);
  for (const char* mode : {"edge", "symmetric"}) {
    const auto op = make_op("pad", {{"padding", num(2)}, {"padding_mode", str(mode)}});
    SampleFold f(1, 1);
    fold_drawn(*op, f);
    const Image out = execute(f, src);
    ASSERT_EQ(out.width, 5);
    for (int i = 0; i < 25; ++i)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(out.pixels[i * 3 + c], src.pixels[c]) << mode;
  }
}

// torchvision pads the image it is given: after a crop, edge/reflect/symmetric mirror the
// crop's own border pixels, not the source pixels beyond it (numpy.pad of the crop).
TEST(Pad, NonConstantModesAfterACropMirrorTheCrop) {
  const Image src = make_coordinate_image(10, 9);  // R = x, G = y
  struct Mode {
    const char* name;
    std::vector<int> xs;  // numpy.pad([3 4 5 6], 2, mode): source columns
  };
  const Mode modes[] = {{"edge", {3, 3, 3, 4, 5, 6, 6, 6}},
                        {"reflect", {5, 4, 3, 4, 5, 6, 5, 4}},
                        {"symmetric", {4, 3, 3, 4, 5, 6, 6, 5}}};
  for (const Mode& mode : modes) {
    const auto pad = make_op("pad", {{"padding", list({2, 0})}, {"padding_mode", str(mode.name)}});
    SampleFold f(10, 9);
    f.crop(2, 3, 5, 4);
    fold_drawn(*pad, f);
    const Image out = execute(f, src);
    ASSERT_EQ(out.width, 8);
    ASSERT_EQ(out.height, 5);
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 8; ++x) {
        ASSERT_EQ(out.row(y)[x * 3 + 0], mode.xs[x]) << mode.name << " at " << x << "," << y;
        ASSERT_EQ(out.row(y)[x * 3 + 1], y + 2) << mode.name << " at " << x << "," << y;
      }
  }
}

// After a resize, a non-constant pad mirrors the resized image (torchvision pads the resize's
// output); here with an exact 2x nearest enlargement so the expected pixels are indices.
TEST(Pad, NonConstantModesAfterAResizeMirrorTheResizedImage) {
  // The output index is folded into the resized image before it maps to the source
  // (ops::Axis::output), so the border repeats resized pixels.
  const Image src = make_coordinate_image(5, 4);
  const auto resize = make_op("resize", {{"size", list({8, 10})}, {"interpolation", str("nearest")}});
  const auto pad = make_op("pad", {{"padding", num(2)}, {"padding_mode", str("edge")}});
  SampleFold f(5, 4);
  fold_drawn(*resize, f);
  fold_drawn(*pad, f);
  const Image out = execute(f, src);
  ASSERT_EQ(out.width, 14);
  ASSERT_EQ(out.height, 12);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 14; ++x) {
      const int rx = std::clamp(x - 2, 0, 9), ry = std::clamp(y - 2, 0, 7);  // resized index
      ASSERT_EQ(out.row(y)[x * 3 + 0], rx / 2) << x << "," << y;
      ASSERT_EQ(out.row(y)[x * 3 + 1], ry / 2) << x << "," << y;
    }
}

// Every pad keeps its own rule and fill, as torchvision pads the image each is given: two pads
// in a row equal numpy.pad of numpy.pad, whatever the modes and fills.
TEST(Pad, TwoPadsInARowKeepTheirOwnRulesAndFills) {
  using gpuaug_test::pad_image;
  const Image src = make_coordinate_image(7, 5);
  struct PadSpec {
    int l, t, r, b;
    const char* mode;
    double fill;
  };
  const std::pair<PadSpec, PadSpec> cases[] = {
      {{2, 2, 2, 2, "reflect", 0}, {1, 1, 1, 1, "constant", 9}},
      {{1, 1, 1, 1, "constant", 9}, {2, 3, 2, 1, "reflect", 0}},
      {{3, 0, 1, 2, "symmetric", 0}, {2, 2, 0, 1, "edge", 0}},
      {{2, 1, 0, 3, "constant", 50}, {1, 2, 3, 0, "constant", 77}},
      {{1, 1, 1, 1, "edge", 0}, {9, 7, 8, 6, "reflect", 0}},  // wider than the image: repeated
  };
  for (const auto& [a, b] : cases) {
    SampleFold f(7, 5);
    for (const PadSpec& p : {a, b})
      fold_drawn(*make_op("pad", {{"padding", list({double(p.l), double(p.t), double(p.r), double(p.b)})},
                                  {"padding_mode", str(p.mode)},
                                  {"fill", num(p.fill)}}),
                 f);
    const Image want = pad_image(pad_image(src, a.l, a.t, a.r, a.b, a.mode, uint8_t(a.fill)), b.l, b.t, b.r, b.b,
                                 b.mode, uint8_t(b.fill));
    EXPECT_EQ(execute(f, src).pixels, want.pixels) << a.mode << " then " << b.mode;
  }
}

// torchvision's F.crop pads with zeros, whatever fill an earlier pad used.
TEST(Pad, ACropPastAPaddedImageFillsZeros) {
  using gpuaug_test::pad_image;
  const Image src = make_coordinate_image(6, 5);
  SampleFold f(6, 5);
  f.pad(1, 1, 1, 1, Border::kConstant, {50, 50, 50});
  f.crop(-2, -1, 11, 10);
  EXPECT_EQ(execute(f, src).pixels, crop_image(pad_image(src, 1, 1, 1, 1, "constant", 50), -2, -1, 11, 10, 0).pixels);
  // And a mirrored pad after that crop mirrors its zeros too.
  f.pad(2, 0, 0, 0, Border::kReflect, {0, 0, 0});
  EXPECT_EQ(execute(f, src).pixels,
            pad_image(crop_image(pad_image(src, 1, 1, 1, 1, "constant", 50), -2, -1, 11, 10, 0), 2, 0, 0, 0, "reflect")
                .pixels);
}

// Pads after a resize and after a warp: each border of the resized (warped) image, in turn.
TEST(Pad, PadsAfterAResizeOrAWarpPadTheResampledImage) {
  using gpuaug_test::pad_image;
  const Image src = make_coordinate_image(5, 4);
  Image resized(10, 8, 3);  // an exact 2x nearest enlargement
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 10; ++x)
      for (int c = 0; c < 3; ++c) resized.row(y)[x * 3 + c] = src.row(y / 2)[(x / 2) * 3 + c];
  const auto resize = make_op("resize", {{"size", list({8, 10})}, {"interpolation", str("nearest")}});
  const auto reflect = make_op("pad", {{"padding", list({3, 1, 2, 4})}, {"padding_mode", str("reflect")}});
  const auto fill = make_op("pad", {{"padding", list({1, 2})}, {"fill", num(9)}});
  const auto symmetric = make_op("pad", {{"padding", num(2)}, {"padding_mode", str("symmetric")}});
  SampleFold f(5, 4);
  for (const Op* op : {resize.get(), reflect.get(), fill.get(), symmetric.get()}) fold_drawn(*op, f);
  const Image want =
      pad_image(pad_image(pad_image(resized, 3, 1, 2, 4, "reflect"), 1, 2, 1, 2, "constant", 9), 2, 2, 2, 2, "symmetric");
  EXPECT_EQ(execute(f, src).pixels, want.pixels);
  // An identity rotation (nearest: exact) makes the geometry a warp; the pads then fold the
  // warp's output pixels the same way.
  const auto turn = make_op("rotate", {{"degrees", list({0, 0})}});
  SampleFold w(5, 4);
  for (const Op* op : {turn.get(), reflect.get(), fill.get(), symmetric.get()}) fold_drawn(*op, w);
  EXPECT_FALSE(w.finish().geometry.separable);
  EXPECT_EQ(execute(w, src).pixels,
            pad_image(pad_image(pad_image(src, 3, 1, 2, 4, "reflect"), 1, 2, 1, 2, "constant", 9), 2, 2, 2, 2, "symmetric")
                .pixels);
}

// random_resized_crop = crop then resize; the resize's taps stop at the crop's edges, so the
// pixels around the crop never matter, and the result is resize(crop(image)).
struct CropResize {
  int top, left, height, width, out_h, out_w;
  const char* interpolation;
};

class RandomResizedCropFold : public ::testing::TestWithParam<CropResize> {};

TEST_P(RandomResizedCropFold, MatchesResizeOfTheCrop) {
  const CropResize& p = GetParam();
  const Image src = make_image(37, 29);
  const auto op = make_op("random_resized_crop", {{"size", list({double(p.out_h), double(p.out_w)})},
                                                  {"interpolation", str(p.interpolation)}});
  Drawn d;
  d.set("top", p.top);
  d.set("left", p.left);
  d.set("height", p.height);
  d.set("width", p.width);
  d.set("size", {double(p.out_h), double(p.out_w)});
  SampleFold f(37, 29);
  op->fold(d, f);
  const Image out = execute(f, src);

  // Everything outside the crop poisoned: not one output sample may change.
  Image poisoned = src;
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x)
      if (y < p.top || y >= p.top + p.height || x < p.left || x >= p.left + p.width)
        for (int c = 0; c < 3; ++c) poisoned.row(y)[x * 3 + c] = 255 * ((x + y + c) & 1);
  EXPECT_EQ(execute(f, poisoned).pixels, out.pixels);

  const bool bicubic = std::string(p.interpolation) == "bicubic";
  const Image expected = ref_resize(crop_image(src, p.top, p.left, p.height, p.width), p.out_h, p.out_w, bicubic);
  EXPECT_LE(max_abs_diff(out, expected), 1);
  EXPECT_LT(differing_share(out, expected), 0.05);
}

INSTANTIATE_TEST_SUITE_P(
    Boxes, RandomResizedCropFold,
    ::testing::Values(CropResize{5, 7, 15, 21, 9, 11, "bilinear"},   // shrink
                      CropResize{0, 0, 29, 37, 7, 5, "bilinear"},    // whole image, strong shrink
                      CropResize{3, 30, 6, 5, 13, 17, "bilinear"},   // enlarge
                      CropResize{10, 1, 17, 19, 17, 19, "bilinear"}, // same size: a plain crop
                      CropResize{4, 6, 20, 25, 8, 10, "bicubic"},    // bicubic shrink
                      CropResize{2, 2, 5, 7, 11, 9, "bicubic"}));    // bicubic enlarge

// 150 boxes from a fixed LCG: sizes 1..40, crops anywhere inside, outputs 1..40 (shrink and
// enlarge, odd and even), both filters; same tolerance as above.
TEST(ResizedCrop, SweepAgainstReference) {
  uint32_t state = 12345;
  const auto next = [&](int lo, int hi) {  // [lo, hi]
    state = state * 1664525u + 1013904223u;
    return lo + int((state >> 8) % uint32_t(hi - lo + 1));
  };
  for (int trial = 0; trial < 150; ++trial) {
    const int w = next(1, 40), h = next(1, 40);
    const int cw = next(1, w), ch = next(1, h);
    const int left = next(0, w - cw), top = next(0, h - ch);
    const int ow = next(1, 40), oh = next(1, 40);
    const bool bicubic = trial % 3 == 0;
    const Image src = make_image(w, h, 3, uint32_t(trial));
    SampleFold f(w, h);
    f.crop(top, left, ch, cw);
    f.resize(oh, ow, bicubic ? Interp::kBicubic : Interp::kBilinear, true);
    const Image out = execute(f, src);
    const Image expected = ref_resize(crop_image(src, top, left, ch, cw), oh, ow, bicubic);
    ASSERT_LE(max_abs_diff(out, expected), 1)
        << "trial " << trial << ": " << w << "x" << h << " crop " << left << "," << top << " " << cw << "x" << ch
        << " -> " << ow << "x" << oh << (bicubic ? " bicubic" : " bilinear");
    EXPECT_LT(differing_share(out, expected), 0.05) << "trial " << trial;
  }
}

TEST(Resize, ShortSideSizeAsTorchvision) {
  // _compute_resized_output_size: short = size, long = int(size * long / short).
  const auto op = make_op("resize", {{"size", num(10)}});
  SampleFold f(23, 17);
  fold_drawn(*op, f);
  EXPECT_EQ(f.height(), 10);
  EXPECT_EQ(f.width(), 13);  // int(10 * 23 / 17) = int(13.53)
  SampleFold g(17, 23);
  fold_drawn(*op, g);
  EXPECT_EQ(g.width(), 10);
  EXPECT_EQ(g.height(), 13);
  const auto capped = make_op("resize", {{"size", num(10)}, {"max_size", num(12)}});
  SampleFold h(23, 17);
  fold_drawn(*capped, h);
  EXPECT_EQ(h.width(), 12);
  EXPECT_EQ(h.height(), 9);  // int(12 * 10 / 13)
}

TEST(Resize, ThenCenterCropEqualsCroppingTheResizedImage) {
  const Image src = make_image(23, 17);
  const auto resize = make_op("resize", {{"size", list({12, 15})}});
  const Image resized = ref_resize(src, 12, 15);
  struct Case {
    int h, w, top, left;
  };
  const Case cases[] = {{7, 9, 2, 3},      // (12-7)/2 = 2.5 -> 2, (15-9)/2 = 3
                        {14, 9, -1, 3},    // taller than the resized image: a fill row each side
                        {12, 15, 0, 0},
                        {1, 16, 6, 0}};    // 16 > 15: pad (16-15)//2 = 0 on the left
  for (const Case& c : cases) {
    const auto crop = make_op("center_crop", {{"size", list({double(c.h), double(c.w)})}});
    SampleFold f(23, 17);
    fold_drawn(*resize, f);
    fold_drawn(*crop, f);
    const Image out = execute(f, src);
    const Image expected = crop_image(resized, c.top, c.left, c.h, c.w, 0);
    EXPECT_LE(max_abs_diff(out, expected), 1) << c.h << "x" << c.w;
    // Fill rows and columns are exact.
    for (int y = 0; y < c.h; ++y)
      for (int x = 0; x < c.w; ++x)
        if (y + c.top < 0 || y + c.top >= 12 || x + c.left < 0 || x + c.left >= 15) {
          for (int ch = 0; ch < 3; ++ch) ASSERT_EQ(out.row(y)[x * 3 + ch], 0) << x << "," << y;
        }
  }
}

TEST(Resize, FlipBeforeOrAfterAgree) {
  const Image src = make_image(23, 17);
  const auto resize = make_op("resize", {{"size", list({9, 11})}});
  const auto hflip = make_op("horizontal_flip", {});
  const auto vflip = make_op("vertical_flip", {});
  Drawn on;
  SampleFold before(23, 17), after(23, 17);
  hflip->fold(on, before);
  vflip->fold(on, before);
  fold_drawn(*resize, before);
  fold_drawn(*resize, after);
  hflip->fold(on, after);
  vflip->fold(on, after);
  const Image a = execute(before, src), b = execute(after, src);
  EXPECT_LE(max_abs_diff(a, b), 1);
  EXPECT_LE(max_abs_diff(a, ref_resize(flip_image(src, true, true), 9, 11)), 1);
  EXPECT_LE(max_abs_diff(b, flip_image(ref_resize(src, 9, 11), true, true)), 1);
}

// rotate(angle) is counter-clockwise about the image centre ((W-1)/2, (H-1)/2 in pixel
// indices). For a quarter turn the source of output (x, y) is the centre plus the offset
// (x - cx, y - cy) turned: 90 -> (-dy, dx), 180 -> (-dx, -dy), 270 -> (dy, -dx) (np.rot90's
// map for square images). Odd-odd and even-even sizes keep every source on a pixel centre.
struct Turn {
  int w, h, angle;
};

class QuarterTurns : public ::testing::TestWithParam<Turn> {};

TEST_P(QuarterTurns, NearestIsAnExactIndexMap) {
  const Turn& t = GetParam();
  const Image src = make_coordinate_image(t.w, t.h);
  const auto op = make_op("rotate", {{"degrees", num(0)}, {"fill", num(77)}});
  SampleFold f(t.w, t.h);
  Drawn d;
  d.set("angle", t.angle);
  op->fold(d, f);
  const Image out = execute(f, src);
  ASSERT_EQ(out.width, t.w);
  ASSERT_EQ(out.height, t.h);
  const int cx2 = t.w - 1, cy2 = t.h - 1;  // twice the centre
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x) {
      const int dx2 = 2 * x - cx2, dy2 = 2 * y - cy2;  // twice the offset
      int sx2, sy2;
      switch (t.angle) {
        case 90: sx2 = -dy2, sy2 = dx2; break;
        case 180: sx2 = -dx2, sy2 = -dy2; break;
        default: sx2 = dy2, sy2 = -dx2; break;
      }
      const int sx = (sx2 + cx2) / 2, sy = (sy2 + cy2) / 2;
      const bool inside = sx >= 0 && sx < t.w && sy >= 0 && sy < t.h;
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(out.row(y)[x * 3 + c], inside ? src.row(sy)[sx * 3 + c] : 77)
            << t.angle << " deg at " << x << "," << y;
    }
}

INSTANTIATE_TEST_SUITE_P(Sizes, QuarterTurns,
                         ::testing::Values(Turn{7, 7, 90}, Turn{7, 7, 180}, Turn{7, 7, 270},
                                           Turn{6, 6, 90}, Turn{6, 6, 180}, Turn{6, 6, 270},
                                           Turn{9, 5, 90}, Turn{9, 5, 270}, Turn{8, 6, 90},
                                           Turn{8, 6, 180}, Turn{17, 19, 180}, Turn{1, 1, 90}),
                         [](const auto& info) {
                           return std::to_string(info.param.w) + "x" + std::to_string(info.param.h) + "_" +
                                  std::to_string(info.param.angle);
                         });

// With expand a quarter turn of W x H is H x W and equals np.rot90(image, k) exactly when W and H
// have the same parity (k = 1: out[i][j] = img[j][W-1-i]). With mixed parities torchvision's
// expand formula (like PIL's) grows each side by one: see ExpandedSizeMatchesTorchvisionFormula.
TEST(Rotate, ExpandedQuarterTurnsAreRot90) {
  for (const auto& [w, h] : {std::pair{9, 5}, std::pair{8, 6}, std::pair{17, 19}, std::pair{1, 3}}) {
    const Image src = make_coordinate_image(w, h);
    const auto op = make_op("rotate", {{"degrees", num(0)}, {"expand", ParamValue::of(true)}});
    for (int angle : {90, 180, 270}) {
      SampleFold f(w, h);
      Drawn d;
      d.set("angle", angle);
      op->fold(d, f);
      const Image out = execute(f, src);
      const bool quarter = angle != 180;
      ASSERT_EQ(out.width, quarter ? h : w) << angle;
      ASSERT_EQ(out.height, quarter ? w : h) << angle;
      for (int i = 0; i < out.height; ++i)
        for (int j = 0; j < out.width; ++j) {
          int r, c;  // source row, column
          if (angle == 90) r = j, c = w - 1 - i;
          else if (angle == 180) r = h - 1 - i, c = w - 1 - j;
          else r = h - 1 - j, c = i;
          for (int ch = 0; ch < 3; ++ch)
            ASSERT_EQ(out.row(i)[j * 3 + ch], src.row(r)[c * 3 + ch]) << w << "x" << h << " " << angle << " at " << i << "," << j;
        }
    }
  }
}

TEST(Rotate, ZeroDegreesBilinearIsTheIdentity) {
  const Image src = make_image(17, 19);
  const auto op = make_op("rotate", {{"degrees", num(0)}, {"interpolation", str("bilinear")}});
  SampleFold f(17, 19);
  Drawn d;
  d.set("angle", 0.0);
  op->fold(d, f);
  EXPECT_EQ(execute(f, src).pixels, src.pixels);
}

// torchvision _compute_affine_output_size, step by step in float32 as its tensors are.
std::pair<int, int> torchvision_expand(double angle_deg, int w, int h) {
  const double r = -angle_deg * std::numbers::pi / 180.0;  // rotate passes -angle to the inverse matrix
  const float m[6] = {float(std::cos(r)), float(std::sin(r)), 0.0f, float(-std::sin(r)), float(std::cos(r)), 0.0f};
  const float pts[4][2] = {{-0.5f * w, -0.5f * h}, {-0.5f * w, 0.5f * h}, {0.5f * w, 0.5f * h}, {0.5f * w, -0.5f * h}};
  float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
  for (const auto& p : pts)
    for (int k = 0; k < 2; ++k) {
      const float v = m[3 * k] * p[0] + m[3 * k + 1] * p[1] + m[3 * k + 2];
      lo[k] = std::min(lo[k], v), hi[k] = std::max(hi[k], v);
    }
  const float halfs[2] = {w * 0.5f, h * 0.5f};
  int size[2];
  for (int k = 0; k < 2; ++k) {
    const float cmax = std::ceil(std::trunc((hi[k] + halfs[k]) * 1e4f) * 1e-4f);
    const float cmin = std::floor(std::trunc((lo[k] + halfs[k]) * 1e4f) * 1e-4f);
    size[k] = int(cmax - cmin);
  }
  return {size[0], size[1]};
}

TEST(Rotate, ExpandedSizeMatchesTorchvisionFormula) {
  // Hand-checked: quarter turns swap, 45 degrees of 10 x 10 spans 2 * 7.07 -> [-3, 13) = 16.
  EXPECT_EQ(torchvision_expand(90, 17, 19), (std::pair{19, 17}));
  EXPECT_EQ(torchvision_expand(45, 10, 10), (std::pair{16, 16}));
  // Mixed parity: x spans [-2.5, 2.5] + 4 = [1.5, 6.5] -> [1, 7); y [-4, 4] + 2.5 -> [-2, 7).
  EXPECT_EQ(torchvision_expand(90, 8, 5), (std::pair{6, 9}));
  for (const auto& [w, h] : {std::pair{17, 19}, std::pair{32, 24}, std::pair{8, 5}, std::pair{1, 1}, std::pair{640, 480}})
    for (double angle : {0.0, 30.0, 45.0, 90.0, 180.0, 270.0, 17.3, -63.0, 359.0}) {
      const auto op = make_op("rotate", {{"degrees", num(0)}, {"expand", ParamValue::of(true)}});
      SampleFold f(w, h);
      Drawn d;
      d.set("angle", angle);
      op->fold(d, f);
      const auto expected = torchvision_expand(angle, w, h);
      EXPECT_EQ(f.width(), expected.first) << w << "x" << h << " at " << angle;
      EXPECT_EQ(f.height(), expected.second) << w << "x" << h << " at " << angle;
    }
  EXPECT_EQ(expanded_size({1, 0, 0, 0, 1, 0}, 17, 19), (std::pair{17, 19}));
  EXPECT_EQ(expanded_size({0, 1, 0, -1, 0, 0}, 17, 19), (std::pair{19, 17}));
}

}  // namespace
}  // namespace gpuaug::ops

// The fallback crop of a ratio range far from the image's keeps at least a pixel a side: its
// rounding gave 0 (torchvision's crop then fails; here the sample came out black).
TEST(RandomResizedCropBox, FallbackKeepsAPixelASide) {
  gpuaug::RandomStream rng(gpuaug::RandomKey{1, 2}, 0, 0, 0);
  const gpuaug::ops::CropBox tall = gpuaug::ops::draw_resized_crop_box(rng, 611, 397, {0.08, 1.0}, {1e6, 1e6});
  EXPECT_EQ(tall.height, 1);
  EXPECT_EQ(tall.width, 611);
  const gpuaug::ops::CropBox wide = gpuaug::ops::draw_resized_crop_box(rng, 611, 397, {0.08, 1.0}, {1e-6, 1e-6});
  EXPECT_EQ(wide.width, 1);
  EXPECT_EQ(wide.height, 397);
  // A ratio the image allows is torchvision's fallback as before: the whole image.
  const gpuaug::ops::CropBox whole = gpuaug::ops::draw_resized_crop_box(rng, 40, 30, {2.0, 2.0}, {1.0, 1.4});
  EXPECT_EQ(whole.width, 40);
  EXPECT_EQ(whole.height, 30);
}
