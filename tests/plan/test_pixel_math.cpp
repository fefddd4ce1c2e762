// Tests for the per-pixel steps (pixel_math.h) and the CPU passes (pixel_passes.h) against
// torchvision's formulas worked by hand or recomputed here in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "plan/pixel_math.h"
#include "plan/pixel_passes.h"

namespace gpuaug::plan {
namespace {

using ops::PixelKind;
using ops::PixelOp;

PixelOp make_op(PixelKind kind, bool uint8_domain, std::initializer_list<float> a = {},
                int channels = 3) {
  PixelOp op;
  op.kind = kind;
  op.uint8_domain = uint8_domain;
  op.channels = static_cast<uint8_t>(channels);
  op.op_index = 3;
  std::copy(a.begin(), a.end(), op.a.begin());
  return op;
}

PixelContext ctx_at(uint32_t x, uint32_t y, uint32_t width = 64, uint64_t index = 12345) {
  return PixelContext{RandomKey::from(7, 2), index, 0, x, y, width};
}

struct Rgb {
  float r, g, b;
};

Rgb apply(const PixelOp& op, Rgb in, const PixelContext& ctx = ctx_at(0, 0)) {
  float v[3] = {in.r, in.g, in.b};
  apply_pixel_op(op, v, ctx);
  return {v[0], v[1], v[2]};
}

void expect_rgb(Rgb got, float r, float g, float b) {
  EXPECT_EQ(got.r, r);
  EXPECT_EQ(got.g, g);
  EXPECT_EQ(got.b, b);
}

// --- brightness, contrast, saturation, grayscale -------------------------------------------

TEST(PixelMath, BrightnessTruncatesAndClampsInUint8) {
  // trunc(clamp(x * f)): 3 * 0.5 = 1.5 -> 1; 101 * 0.5 = 50.5 -> 50; 200 * 1.5 = 300 -> 255.
  expect_rgb(apply(make_op(PixelKind::kBrightness, true, {0.5f}), {3, 101, 0}), 1, 50, 0);
  expect_rgb(apply(make_op(PixelKind::kBrightness, true, {1.5f}), {200, 100, 1}), 255, 150, 1);
}

TEST(PixelMath, BrightnessClampsToOneInFloat) {
  const Rgb out = apply(make_op(PixelKind::kBrightness, false, {1.5f}), {0.8f, 0.2f, 0.0f});
  expect_rgb(out, 1.0f, 0.2f * 1.5f, 0.0f);
}

TEST(PixelMath, GrayscaleOfWhiteIs254InUint8) {
  // 255 * (0.2989 + 0.587 + 0.114) = 254.97, truncated: torchvision's known trap.
  EXPECT_EQ(gray_of(255, 255, 255, true), 254.0f);
  expect_rgb(apply(make_op(PixelKind::kGrayscale, true), {255, 255, 255}), 254, 254, 254);
  // floor(200 * 0.2989 + 100 * 0.587 + 50 * 0.114) = floor(124.18) = 124.
  expect_rgb(apply(make_op(PixelKind::kGrayscale, true), {200, 100, 50}), 124, 124, 124);
  // Float domain: unfloored.
  EXPECT_NEAR(gray_of(1, 1, 1, false), 0.9999f, 1e-6f);
}

// Values torchvision 0.26 / torch 2.11 returned on the CPU (checked on the GPU machine): its
// add_(other, alpha) is a fused multiply-add, and rounding each product instead gives the
// second number.
TEST(PixelMath, GraySumsAndBlendsAreFusedLikeTorchvision) {
  EXPECT_EQ(gray_of(20, 152, 7, true), 96.0f);      // unfused: 95
  EXPECT_EQ(gray_of(240, 222, 175, true), 222.0f);  // unfused: 221
  EXPECT_EQ(gray_of(250, 55, 35, true), 111.0f);    // unfused: 110
  // adjust_saturation((0, 27, 130), float32(1.77)) = (0, 24, 206); unfused blue: 207.
  expect_rgb(apply(make_op(PixelKind::kSaturation, true, {1.77f}), {0, 27, 130}), 0, 24, 206);
}

TEST(PixelMath, GrayscaleLeavesAOneChannelImageAlone) {
  // torchvision clones a 1-channel image (no weights: 255 stays 255).
  expect_rgb(apply(make_op(PixelKind::kGrayscale, true, {}, 1), {255, 255, 255}), 255, 255, 255);
}

TEST(PixelMath, ContrastBlendsWithTheGivenMean) {
  // x * f + mean * (1 - f): 100 * 0.5 + 50.5 * 0.5 = 75.25 -> 75; 0 -> 25.25 -> 25;
  // 255 -> 152.75 -> 152.
  expect_rgb(apply(make_op(PixelKind::kContrast, true, {0.5f, 50.5f}), {100, 0, 255}), 75, 25, 152);
  // Factor 2 pushes past both ends: 2 * 200 - 50.5 = 349.5 -> 255; 2 * 10 - 50.5 < 0 -> 0.
  expect_rgb(apply(make_op(PixelKind::kContrast, true, {2.0f, 50.5f}), {200, 10, 30}), 255, 0, 9);
}

TEST(PixelMath, SaturationBlendsWithTheFlooredGray) {
  // gray(200, 100, 50) = 124 (floored). f = 0 -> gray; f = 2 -> 2x - 124 clamped.
  expect_rgb(apply(make_op(PixelKind::kSaturation, true, {0.0f}), {200, 100, 50}), 124, 124, 124);
  expect_rgb(apply(make_op(PixelKind::kSaturation, true, {2.0f}), {200, 100, 50}), 255, 76, 0);
  // 0.5: 100 + 62 = 162; 50 + 62 = 112; 25 + 62 = 87.
  expect_rgb(apply(make_op(PixelKind::kSaturation, true, {0.5f}), {200, 100, 50}), 162, 112, 87);
  // 1 channel: no-op, as torchvision (matching PIL).
  expect_rgb(apply(make_op(PixelKind::kSaturation, true, {0.0f}, 1), {90, 90, 90}), 90, 90, 90);
}

// --- hue ------------------------------------------------------------------------------------

// Hue shift in double, written from the HSV definition (colorsys), as an independent oracle.
Rgb hue_reference(Rgb in, double factor) {
  const double r = in.r / 255.0, g = in.g / 255.0, b = in.b / 255.0;
  const double maxc = std::max({r, g, b}), minc = std::min({r, g, b});
  double h = 0.0;
  const double s = maxc == minc ? 0.0 : (maxc - minc) / maxc;
  if (maxc != minc) {
    const double rc = (maxc - r) / (maxc - minc), gc = (maxc - g) / (maxc - minc),
                 bc = (maxc - b) / (maxc - minc);
    h = r == maxc ? bc - gc : g == maxc ? 2.0 + rc - bc : 4.0 + gc - rc;
    h = std::fmod(h / 6.0 + 1.0, 1.0);
  }
  h = h + factor;
  h -= std::floor(h);
  const double v = maxc;
  const int i = static_cast<int>(std::floor(h * 6.0)) % 6;
  const double f = h * 6.0 - std::floor(h * 6.0);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const double table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  return {float(table[i][0] * 255.999), float(table[i][1] * 255.999), float(table[i][2] * 255.999)};
}

TEST(PixelMath, HueFactorZeroRoundTripsWithinOne) {
  for (int r = 0; r < 256; r += 5)
    for (int g = 0; g < 256; g += 7)
      for (int b = 0; b < 256; b += 11) {
        const Rgb out =
            apply(make_op(PixelKind::kHue, true, {0.0f}), {float(r), float(g), float(b)});
        ASSERT_NEAR(out.r, r, 1.0f) << r << "," << g << "," << b;
        ASSERT_NEAR(out.g, g, 1.0f) << r << "," << g << "," << b;
        ASSERT_NEAR(out.b, b, 1.0f) << r << "," << g << "," << b;
      }
}

TEST(PixelMath, HueKnownShifts) {
  // Red shifted by a third of the circle is green.
  expect_rgb(apply(make_op(PixelKind::kHue, true, {1.0f / 3.0f}), {255, 0, 0}), 0, 255, 0);
  // Orange (255, 128, 0): h = 0.08366; + 0.5 -> 0.58366, i = 3, f = 0.50196 -> (p, q, v) =
  // (0, 0.49804, 1) -> (0, trunc(127.4975), 255) = (0, 127, 255).
  expect_rgb(apply(make_op(PixelKind::kHue, true, {0.5f}), {255, 128, 0}), 0, 127, 255);
  // Negative factor wraps: red - 1/3 is blue.
  expect_rgb(apply(make_op(PixelKind::kHue, true, {-1.0f / 3.0f}), {255, 0, 0}), 0, 0, 255);
  // Grays have no hue; 1-channel images are left alone.
  expect_rgb(apply(make_op(PixelKind::kHue, true, {0.25f}), {77, 77, 77}), 77, 77, 77);
  expect_rgb(apply(make_op(PixelKind::kHue, true, {0.25f}, 1), {10, 10, 10}), 10, 10, 10);
}

TEST(PixelMath, HueMatchesADoubleReferenceWithinOne) {
  uint32_t state = 1;
  const auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  for (int n = 0; n < 20000; ++n) {
    const Rgb in{float(next() % 256), float(next() % 256), float(next() % 256)};
    const float factor = float(next() % 1001) / 1000.0f - 0.5f;
    const Rgb out = apply(make_op(PixelKind::kHue, true, {factor}), in);
    const Rgb ref = hue_reference(in, factor);
    // The reference truncates below too; float vs double can move a value across an integer.
    ASSERT_NEAR(out.r, std::trunc(ref.r), 1.0f) << n;
    ASSERT_NEAR(out.g, std::trunc(ref.g), 1.0f) << n;
    ASSERT_NEAR(out.b, std::trunc(ref.b), 1.0f) << n;
  }
}

TEST(PixelMath, HueInTheFloatDomainStaysInUnitRange) {
  const Rgb out = apply(make_op(PixelKind::kHue, false, {1.0f / 3.0f}), {1.0f, 0.0f, 0.0f});
  EXPECT_NEAR(out.r, 0.0f, 1e-6f);
  EXPECT_NEAR(out.g, 1.0f, 1e-6f);
  EXPECT_NEAR(out.b, 0.0f, 1e-6f);
}

// --- casts and normalize ---------------------------------------------------------------------

TEST(PixelMath, ToFloatMultipliesByFloatOneOver255) {
  const float inv = static_cast<float>(1.0 / 255.0);
  bool differs_from_division = false;
  for (int k = 0; k < 256; ++k) {
    const Rgb out = apply(make_op(PixelKind::kToFloat, true), {float(k), 0, 255});
    ASSERT_EQ(out.r, float(k) * inv);
    differs_from_division |= out.r != float(k) / 255.0f;
  }
  EXPECT_TRUE(differs_from_division) << "trap 7: x * (1/255) and x / 255 differ for some x";
  EXPECT_EQ(apply(make_op(PixelKind::kToFloat, true), {255, 0, 0}).r, 1.0f);
}

TEST(PixelMath, ToUInt8TruncatesTimes255_999AndClamps) {
  // trunc(1.0 * 255.999) = 255, trunc(0.5 * 255.999) = 127, 0.99 * 255.999 = 253.44 -> 253.
  expect_rgb(apply(make_op(PixelKind::kToUInt8, false), {1.0f, 0.5f, 0.99f}), 255, 127, 253);
  // Out of range: clamped (torchvision wraps).
  expect_rgb(apply(make_op(PixelKind::kToUInt8, false), {1.5f, -0.2f, 0.0f}), 255, 0, 0);
  // uint8 -> float -> uint8 is the identity.
  for (int k = 0; k < 256; ++k) {
    float v[3] = {float(k), float(k), float(k)};
    apply_pixel_op(make_op(PixelKind::kToFloat, true), v, ctx_at(0, 0));
    apply_pixel_op(make_op(PixelKind::kToUInt8, false), v, ctx_at(0, 0));
    ASSERT_EQ(v[0], float(k));
  }
}

TEST(PixelMath, NormalizeIsTrueDivision) {
  const PixelOp op =
      make_op(PixelKind::kNormalize, false, {0.485f, 0.456f, 0.406f, 0.229f, 0.224f, 0.225f});
  const Rgb out = apply(op, {0.5f, 0.0f, 1.0f});
  EXPECT_NEAR(out.r, (0.5 - 0.485) / 0.229, 1e-6);
  EXPECT_NEAR(out.g, (0.0 - 0.456) / 0.224, 1e-6);
  EXPECT_NEAR(out.b, (1.0 - 0.406) / 0.225, 1e-6);
  EXPECT_EQ(out.r, (0.5f - 0.485f) / 0.229f);  // a division, not a multiply by 1/std
  // A 1-channel image uses the first mean and std for its gray.
  PixelOp gray = op;
  gray.channels = 1;
  const Rgb g = apply(gray, {0.5f, 0.5f, 0.5f});
  EXPECT_EQ(g.r, g.b);
  EXPECT_EQ(g.r, (0.5f - 0.485f) / 0.229f);
}

// --- the portable log and sin/cos behind the noise ------------------------------------------

TEST(PixelMath, PortableLogAndSinCosAreAccurate) {
  for (uint32_t k : {1u, 2u, 3u, 1000u, 65535u, 1u << 20, 11184810u, 16777215u, 16777216u}) {
    const double exact = std::log(double(k) / 16777216.0);
    EXPECT_NEAR(log_of_24bit(k), exact, 2e-6 * std::max(1.0, std::fabs(exact))) << k;
  }
  EXPECT_EQ(log_of_24bit(16777216u), 0.0f);
  for (uint32_t i = 0; i < 4096; ++i) {
    const float u = uniform_float(i * 4096u * 256u + i * 977u);
    float s, c;
    sincos_turns(u, s, c);
    ASSERT_NEAR(s, std::sin(2 * std::numbers::pi * double(u)), 1e-6) << u;
    ASSERT_NEAR(c, std::cos(2 * std::numbers::pi * double(u)), 1e-6) << u;
  }
}

// --- noise ----------------------------------------------------------------------------------

TEST(PixelMath, NoiseHasTheRequestedMeanAndStd) {
  // 256 x 256 pixels x 3 channels = 196608 normals: the standard error of the mean is 0.0023
  // and of the std 0.0016; the tolerances are about 5 standard errors.
  const PixelOp op = make_op(PixelKind::kNoise, false, {0.0f, 0.1f, 0.0f});
  double sum = 0, sum_sq = 0, cross = 0;
  int64_t count = 0;
  for (uint32_t y = 0; y < 256; ++y)
    for (uint32_t x = 0; x < 256; ++x) {
      const Rgb out = apply(op, {0.5f, 0.5f, 0.5f}, ctx_at(x, y, 256));
      const double n[3] = {(out.r - 0.5) / 0.1, (out.g - 0.5) / 0.1, (out.b - 0.5) / 0.1};
      for (double z : n) {
        sum += z;
        sum_sq += z * z;
        ++count;
      }
      cross += n[0] * n[1];
    }
  const double mean = sum / count;
  const double stddev = std::sqrt(sum_sq / count - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.012);
  EXPECT_NEAR(stddev, 1.0, 0.01);
  EXPECT_NEAR(cross / (256.0 * 256.0), 0.0, 0.02);  // the two normals of one pair: uncorrelated
}

TEST(PixelMath, NoiseIsDeterministicPerCounter) {
  const PixelOp op = make_op(PixelKind::kNoise, false, {0.0f, 0.1f, 0.0f});
  const Rgb a = apply(op, {0.5f, 0.5f, 0.5f}, ctx_at(5, 9));
  const Rgb b = apply(op, {0.5f, 0.5f, 0.5f}, ctx_at(5, 9));
  expect_rgb(b, a.r, a.g, a.b);
  // Another pixel, sample, op index or seed gives other noise.
  EXPECT_NE(apply(op, {0.5f, 0.5f, 0.5f}, ctx_at(6, 9)).r, a.r);
  EXPECT_NE(apply(op, {0.5f, 0.5f, 0.5f}, ctx_at(5, 9, 64, 12346)).r, a.r);
  PixelOp other = op;
  other.op_index = 4;
  EXPECT_NE(apply(other, {0.5f, 0.5f, 0.5f}, ctx_at(5, 9)).r, a.r);
  PixelContext reseeded = ctx_at(5, 9);
  reseeded.key = RandomKey::from(8, 2);
  EXPECT_NE(apply(op, {0.5f, 0.5f, 0.5f}, reseeded).r, a.r);
}

TEST(PixelMath, NoiseClipsAndSharesOneNormalOnGrayImages) {
  const PixelOp op = make_op(PixelKind::kNoise, false, {0.0f, 10.0f, 1.0f});
  for (uint32_t x = 0; x < 64; ++x) {
    const Rgb out = apply(op, {0.5f, 0.5f, 0.5f}, ctx_at(x, 0));
    for (float v : {out.r, out.g, out.b}) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
  }
  const PixelOp gray = make_op(PixelKind::kNoise, false, {0.0f, 0.1f, 0.0f}, 1);
  const Rgb g = apply(gray, {0.5f, 0.5f, 0.5f}, ctx_at(3, 3));
  EXPECT_EQ(g.r, g.g);
  EXPECT_EQ(g.r, g.b);
  EXPECT_NE(g.r, 0.5f);
  // mean shifts: x + (mean + n * sigma) with sigma 0 is x + mean.
  EXPECT_EQ(apply(make_op(PixelKind::kNoise, false, {0.25f, 0.0f, 0.0f}), {0.5f, 0, 0}).r, 0.75f);
}

// --- erase ----------------------------------------------------------------------------------

TEST(PixelMath, EraseSetsTheValueInsideTheRectangleOnly) {
  PixelOp op = make_op(PixelKind::kErase, true, {10, 20, 30, 0});
  op.rect = {2, 3, 4, 5};  // rows 2..5, columns 3..7
  for (uint32_t y = 0; y < 9; ++y)
    for (uint32_t x = 0; x < 11; ++x) {
      const Rgb out = apply(op, {100, 100, 100}, ctx_at(x, y, 11));
      const bool inside = y >= 2 && y < 6 && x >= 3 && x < 8;
      if (inside)
        expect_rgb(out, 10, 20, 30);
      else
        expect_rgb(out, 100, 100, 100);
    }
}

TEST(PixelMath, EraseRandomWritesNormalsScaledAndClampedInUint8) {
  PixelOp op = make_op(PixelKind::kErase, true, {0, 0, 0, 1});
  op.rect = {0, 0, 16, 16};
  int zeros = 0, mid = 0;
  for (uint32_t y = 0; y < 16; ++y)
    for (uint32_t x = 0; x < 16; ++x) {
      const Rgb out = apply(op, {100, 100, 100}, ctx_at(x, y, 16));
      for (float v : {out.r, out.g, out.b}) {
        ASSERT_EQ(v, std::trunc(v));
        ASSERT_TRUE(v >= 0 && v <= 255);
        zeros += v == 0;
        mid += v > 0 && v < 255;
      }
      const Rgb again = apply(op, {7, 7, 7}, ctx_at(x, y, 16));
      expect_rgb(again, out.r, out.g, out.b);  // depends on the pixel, not on its old value
    }
  // About half the normals are negative (-> 0), about 34% land in (0, 1) (-> 1..254).
  EXPECT_GT(zeros, 300);
  EXPECT_GT(mid, 200);
  // Float domain: the raw normals, and different from the noise step's normals.
  PixelOp f = op;
  f.uint8_domain = false;
  const Rgb raw = apply(f, {0.5f, 0.5f, 0.5f}, ctx_at(1, 1, 16));
  PixelOp noise = make_op(PixelKind::kNoise, false, {0.0f, 1.0f, 0.0f});
  const Rgb n = apply(noise, {0.0f, 0.0f, 0.0f}, ctx_at(1, 1, 16));
  EXPECT_NE(raw.r, n.r);
  EXPECT_LT(std::fabs(raw.r), 6.0f);
}

// --- image mean and blur ----------------------------------------------------------------------

TEST(PixelPasses, ImageGrayMeanFloorsInUint8) {
  // White and black: grays 254 and 0 -> 127. Float domain: 0.9999 and 0 -> 0.49995.
  const std::vector<float> u8 = {255, 255, 255, 0, 0, 0};
  EXPECT_EQ(image_gray_mean(u8.data(), 2, 1, make_op(PixelKind::kContrast, true)), 127.0f);
  const std::vector<float> f = {1, 1, 1, 0, 0, 0};
  EXPECT_NEAR(image_gray_mean(f.data(), 1, 2, make_op(PixelKind::kContrast, false)), 0.49995f,
              1e-6f);
  // (200, 100, 50) -> 124 and (10, 20, 30) -> floor(2.989 + 11.74 + 3.42) = 18: mean 71.
  const std::vector<float> two = {200, 100, 50, 10, 20, 30};
  EXPECT_EQ(image_gray_mean(two.data(), 2, 1, make_op(PixelKind::kContrast, true)), 71.0f);
  // 1 channel: the channel itself (255 stays 255, no weights).
  const std::vector<float> gray = {255, 255, 255, 0, 0, 0, 100, 100, 100};
  EXPECT_EQ(image_gray_mean(gray.data(), 3, 1, make_op(PixelKind::kContrast, true, {}, 1)),
            float(355.0 / 3.0));
}

TEST(PixelPasses, GaussianKernelIsNormalizedAndSymmetric) {
  const std::vector<float> k = gaussian_kernel1d(7, 1.5f);
  ASSERT_EQ(k.size(), 7u);
  double sum = 0;
  for (float w : k) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-6);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(k[size_t(i)], k[size_t(6 - i)]);
  EXPECT_NEAR(k[2] / k[3], std::exp(-0.5 / (1.5 * 1.5)), 1e-6);
  EXPECT_EQ(gaussian_kernel1d(1, 0.3f), std::vector<float>{1.0f});
}

TEST(PixelPasses, Reflect101DoesNotRepeatTheEdge) {
  EXPECT_EQ(reflect_101(-1, 5), 1);
  EXPECT_EQ(reflect_101(-2, 5), 2);
  EXPECT_EQ(reflect_101(5, 5), 3);
  EXPECT_EQ(reflect_101(6, 5), 2);
  EXPECT_EQ(reflect_101(3, 5), 3);
  EXPECT_EQ(reflect_101(-9, 5), 1);  // beyond one width: keeps reflecting
  EXPECT_EQ(reflect_101(4, 1), 0);
}

// Independent reflect for the oracle: mirror until inside.
int mirror(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

// Direct 2-D convolution in double with the exact outer-product kernel.
std::vector<double> blur_reference(const std::vector<float>& rgb, int w, int h, int kx, int ky,
                                   double sx, double sy) {
  const auto kernel = [](int k, double s) {
    std::vector<double> out(static_cast<size_t>(k));
    double total = 0;
    for (int i = 0; i < k; ++i) {
      out[size_t(i)] = std::exp(-0.5 * std::pow((i - (k - 1) / 2.0) / s, 2));
      total += out[size_t(i)];
    }
    for (double& v : out) v /= total;
    return out;
  };
  const std::vector<double> wx = kernel(kx, sx), wy = kernel(ky, sy);
  std::vector<double> out(rgb.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (int j = 0; j < ky; ++j)
          for (int i = 0; i < kx; ++i)
            sum += wy[size_t(j)] * wx[size_t(i)] *
                   rgb[(size_t(mirror(y + j - ky / 2, h)) * w + mirror(x + i - kx / 2, w)) * 3 + c];
        out[(size_t(y) * w + x) * 3 + c] = sum;
      }
  return out;
}

std::vector<float> test_image(int w, int h, bool uint8_domain) {
  std::vector<float> rgb(size_t(w) * h * 3);
  uint32_t state = 99;
  for (float& v : rgb) {
    state = state * 1664525u + 1013904223u;
    const float k = float((state >> 8) % 256);
    v = uint8_domain ? k : k / 255.0f;
  }
  return rgb;
}

struct BlurCase {
  int w, h, kx, ky;
  float sx, sy;
};

class GaussianBlurVsDirect : public ::testing::TestWithParam<BlurCase> {};

// Tolerance (pixel_passes.h): float domain |diff| <= 1e-5 on the [0, 1] scale; uint8 domain
// equal to rne(exact) except where exact is within 1e-3 of k + 0.5.
TEST_P(GaussianBlurVsDirect, MatchesADirect2DConvolution) {
  const BlurCase tc = GetParam();
  for (bool u8 : {true, false}) {
    std::vector<float> rgb = test_image(tc.w, tc.h, u8);
    const std::vector<double> ref = blur_reference(rgb, tc.w, tc.h, tc.kx, tc.ky, tc.sx, tc.sy);
    PixelOp op = make_op(PixelKind::kBlur, u8, {tc.sx, tc.sy});
    op.rect = {tc.kx, tc.ky, 0, 0};
    gaussian_blur(rgb.data(), tc.w, tc.h, op);
    int near_half = 0;
    for (size_t i = 0; i < rgb.size(); ++i) {
      if (!u8) {
        ASSERT_NEAR(rgb[i], ref[i], 1e-5) << i;
        continue;
      }
      const double frac = ref[i] - std::floor(ref[i]);
      if (std::fabs(frac - 0.5) < 1e-3) {
        ++near_half;
        ASSERT_NEAR(rgb[i], ref[i], 0.5 + 1e-3) << i;
      } else {
        ASSERT_EQ(rgb[i], std::nearbyint(ref[i])) << i << " exact " << ref[i];
      }
    }
    EXPECT_LT(near_half, 1 + int(rgb.size() / 100));
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, GaussianBlurVsDirect,
                         ::testing::Values(BlurCase{17, 19, 5, 7, 1.3f, 1.3f},
                                           BlurCase{23, 9, 3, 3, 0.1f, 0.1f},
                                           BlurCase{31, 30, 9, 1, 2.0f, 0.7f},
                                           BlurCase{1, 1, 5, 5, 1.0f, 1.0f},
                                           BlurCase{3, 2, 7, 5, 1.7f, 1.1f},  // kernel > image
                                           BlurCase{13, 13, 23, 23, 4.0f, 4.0f}));

TEST(PixelPasses, GaussianBlurOfAGrayImageKeepsChannelsEqual) {
  std::vector<float> rgb = test_image(8, 6, true);
  for (size_t p = 0; p < rgb.size(); p += 3) rgb[p + 1] = rgb[p + 2] = rgb[p];
  PixelOp op = make_op(PixelKind::kBlur, true, {1.0f, 1.0f}, 1);
  op.rect = {3, 3, 0, 0};
  std::vector<float> as_rgb = rgb;
  gaussian_blur(rgb.data(), 8, 6, op);
  op.channels = 3;
  gaussian_blur(as_rgb.data(), 8, 6, op);
  EXPECT_EQ(rgb, as_rgb);
}

}  // namespace
}  // namespace gpuaug::plan
