// Independent oracles shared by the layer tests: synthetic images, torchvision's antialiased
// resize written out in double precision, and float -> float16 / bfloat16 rounding by arithmetic
// on doubles (not by bit tricks like src/core/half.h).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/tensor.h"
#include "ops/op.h"

namespace gpuaug_test {

using gpuaug::Image;

// Smooth gradients (different per channel, so flips and transposes show) plus a 0..31 texture
// from an LCG: enough detail that a wrong tap or weight changes the result.
inline Image make_image(int width, int height, int channels = 3, uint32_t seed = 7) {
  Image image(width, height, channels);
  uint32_t state = seed * 2654435761u + 12345u;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        state = state * 1664525u + 1013904223u;
        const int smooth = (x * (60 + 70 * c)) / std::max(width, 1) + (y * (190 - 60 * c)) / std::max(height, 1);
        image.row(y)[x * channels + c] = uint8_t(std::min(255, smooth + int(state >> 27)));
      }
  return image;
}

// Every pixel distinct along x and y: R = x, G = y, B = (x * 7 + y * 13) & 255 (x, y < 256).
inline Image make_coordinate_image(int width, int height) {
  Image image(width, height, 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.row(y) + x * 3;
      p[0] = uint8_t(x), p[1] = uint8_t(y), p[2] = uint8_t((x * 7 + y * 13) & 255);
    }
  return image;
}

// A uint8 HWC tensor as an Image.
// Element i of a tensor (in its layout's order) as a float, whatever its dtype.
inline float tensor_element(const gpuaug::Tensor& t, size_t i) {
  using gpuaug::DType;
  switch (t.dtype) {
    case DType::kUInt8: return reinterpret_cast<const uint8_t*>(t.data.data())[i];
    case DType::kFloat32: return reinterpret_cast<const float*>(t.data.data())[i];
    case DType::kFloat16: return gpuaug::half_bits_to_float(reinterpret_cast<const uint16_t*>(t.data.data())[i]);
    case DType::kBFloat16:
      return gpuaug::bfloat16_bits_to_float(reinterpret_cast<const uint16_t*>(t.data.data())[i]);
  }
  return 0.0f;
}

inline Image tensor_image(const gpuaug::Tensor& t) {
  EXPECT_EQ(t.dtype, gpuaug::DType::kUInt8);
  Image image(t.width, t.height, t.channels);
  const auto* data = reinterpret_cast<const uint8_t*>(t.data.data());
  for (int y = 0; y < t.height; ++y)
    for (int x = 0; x < t.width; ++x)
      for (int c = 0; c < t.channels; ++c) image.row(y)[x * t.channels + c] = data[t.offset(y, x, c)];
  return image;
}

// Rows [top, top + height) and columns [left, left + width), `fill` outside the image.
inline Image crop_image(const Image& src, int top, int left, int height, int width, uint8_t fill = 0) {
  Image out(width, height, src.channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < src.channels; ++c) {
        const int sx = left + x, sy = top + y;
        const bool inside = sx >= 0 && sy >= 0 && sx < src.width && sy < src.height;
        out.row(y)[x * src.channels + c] = inside ? src.row(sy)[sx * src.channels + c] : fill;
      }
  return out;
}

// numpy.pad(src, ((top, bottom), (left, right), (0, 0)), mode) with mode "constant" (value
// `fill`), "edge", "reflect" or "symmetric"; reflections repeat for widths beyond the image, by
// folding an index back one reflection at a time (numpy's behaviour, not a closed formula).
inline Image pad_image(const Image& src, int left, int top, int right, int bottom, const char* mode,
                       uint8_t fill = 0) {
  const std::string m = mode;
  const auto fold = [&](int i, int n) {
    if (m == "edge") return std::clamp(i, 0, n - 1);
    if (n == 1) return 0;
    while (i < 0 || i >= n) {
      if (i < 0) i = m == "reflect" ? -i : -i - 1;
      if (i >= n) i = m == "reflect" ? 2 * (n - 1) - i : 2 * n - 1 - i;
    }
    return i;
  };
  Image out(src.width + left + right, src.height + top + bottom, src.channels);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < src.channels; ++c) {
        const int sx = x - left, sy = y - top;
        const bool inside = sx >= 0 && sy >= 0 && sx < src.width && sy < src.height;
        out.row(y)[x * src.channels + c] =
            inside || m != "constant" ? src.row(fold(sy, src.height))[fold(sx, src.width) * src.channels + c] : fill;
      }
  return out;
}

inline Image flip_image(const Image& src, bool horizontal, bool vertical) {
  Image out(src.width, src.height, src.channels);
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x)
      for (int c = 0; c < src.channels; ++c) {
        const int sx = horizontal ? src.width - 1 - x : x, sy = vertical ? src.height - 1 - y : y;
        out.row(y)[x * src.channels + c] = src.row(sy)[sx * src.channels + c];
      }
  return out;
}

// Largest absolute sample difference (256 when the shapes differ).
inline int max_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.channels, b.channels);
  if (a.width != b.width || a.height != b.height || a.channels != b.channels) return 256;
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return worst;
}

// One output index of torchvision's antialiased resize (aten/src/ATen/native/cpu/
// UpSampleKernel.cpp, _compute_indices_min_size_weights_aa), in double precision.
struct RefTaps {
  int64_t first = 0;
  std::vector<double> weights;  // normalized
};

inline double ref_filter(double x, bool bicubic) {
  x = std::fabs(x);
  if (!bicubic) return x < 1.0 ? 1.0 - x : 0.0;
  constexpr double a = -0.5;  // torchvision's antialiased bicubic
  if (x < 1.0) return (a + 2.0) * x * x * x - (a + 3.0) * x * x + 1.0;
  if (x < 2.0) return a * x * x * x - 5.0 * a * x * x + 8.0 * a * x - 4.0 * a;
  return 0.0;
}

inline std::vector<RefTaps> ref_axis(int in, int out, bool bicubic = false) {
  const double scale = double(in) / out;
  const double interp_size = bicubic ? 4.0 : 2.0;
  const double support = scale >= 1.0 ? interp_size * 0.5 * scale : interp_size * 0.5;
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  std::vector<RefTaps> taps(out);
  for (int i = 0; i < out; ++i) {
    const double center = scale * (i + 0.5);
    const int64_t xmin = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    const int64_t xmax = std::min<int64_t>(int64_t(center + support + 0.5), in);
    double total = 0.0;
    for (int64_t j = xmin; j < xmax; ++j) {
      taps[i].weights.push_back(ref_filter((double(j) - center + 0.5) * invscale, bicubic));
      total += taps[i].weights.back();
    }
    for (double& w : taps[i].weights) w = total != 0.0 ? w / total : 0.0;
    taps[i].first = xmin;
  }
  return taps;
}

// torch's upsample_{bilinear,bicubic}2d (align_corners=False), i.e. torchvision's resize with
// antialias=False, as a dense in x out weight matrix: row i holds each input pixel's weight.
// Bilinear: real = max(s (i + 0.5) - 0.5, 0), i0 = floor(real), i1 = min(i0 + 1, in - 1),
// weights 1 - t, t. Bicubic: real unclamped, taps i0 - 1 .. i0 + 2 with Keys a = -0.75 at
// t + 1, t, 1 - t, 2 - t, each index clamped to [0, in - 1] (UpSampleKernel.cpp).
inline std::vector<std::vector<double>> ref_axis_no_antialias(int in, int out, bool bicubic) {
  const double scale = double(in) / out;
  std::vector<std::vector<double>> w(out, std::vector<double>(in, 0.0));
  const auto cubic1 = [](double x) { return ((-0.75 + 2) * x - (-0.75 + 3)) * x * x + 1; };
  const auto cubic2 = [](double x) { return ((-0.75 * x - 5 * -0.75) * x + 8 * -0.75) * x - 4 * -0.75; };
  for (int i = 0; i < out; ++i) {
    double real = scale * (i + 0.5) - 0.5;
    if (!bicubic) {
      real = std::max(real, 0.0);
      const int64_t i0 = int64_t(real), i1 = std::min<int64_t>(i0 + 1, in - 1);
      const double t = real - double(i0);
      w[i][size_t(std::min<int64_t>(i0, in - 1))] += 1 - t;
      w[i][size_t(i1)] += t;
      continue;
    }
    const double i0 = std::floor(real), t = real - i0;
    const double taps[4] = {cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)};
    for (int k = 0; k < 4; ++k)
      w[i][size_t(std::clamp<int64_t>(int64_t(i0) - 1 + k, 0, in - 1))] += taps[k];
  }
  return w;
}

// torchvision resize(antialias=True) of a uint8 image on the float path: horizontal then
// vertical, double sums, round half to even, clamp to 0..255.
inline Image ref_resize(const Image& src, int out_h, int out_w, bool bicubic = false) {
  const auto xs = ref_axis(src.width, out_w, bicubic), ys = ref_axis(src.height, out_h, bicubic);
  const int C = src.channels;
  std::vector<double> rows(size_t(src.height) * out_w * C);
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < C; ++c) {
        double sum = 0.0;
        for (size_t j = 0; j < xs[x].weights.size(); ++j)
          sum += xs[x].weights[j] * src.row(y)[(xs[x].first + int64_t(j)) * C + c];
        rows[(size_t(y) * out_w + x) * C + c] = sum;
      }
  Image out(out_w, out_h, C);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < C; ++c) {
        double sum = 0.0;
        for (size_t j = 0; j < ys[y].weights.size(); ++j)
          sum += ys[y].weights[j] * rows[((ys[y].first + int64_t(j)) * out_w + x) * C + c];
        out.row(y)[x * C + c] = uint8_t(std::clamp(std::nearbyint(sum), 0.0, 255.0));
      }
  return out;
}

// IEEE binary16 bits of f, round to nearest even, by arithmetic on doubles.
inline uint16_t ref_half_bits(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (std::isnan(f)) return sign | 0x7E00;
  const double a = std::fabs(double(f));
  if (a >= 65520.0) return sign | 0x7C00;  // 65520 is the tie between 65504 and 2^16
  if (a < std::ldexp(1.0, -14)) {        // subnormal half: units of 2^-24 (1024 units is 2^-14)
    return sign | uint16_t(std::nearbyint(a * std::ldexp(1.0, 24)));
  }
  int e;
  const double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  double q = std::nearbyint((m * 2.0 - 1.0) * 1024.0);
  int exponent = e - 1;
  if (q == 1024.0) q = 0.0, ++exponent;
  return sign | uint16_t(((exponent + 15) << 10) | int(q));
}

// bfloat16 bits of f, round to nearest even (NaN quiet, sign kept), by arithmetic on doubles.
inline uint16_t ref_bfloat16_bits(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (std::isnan(f)) return sign | 0x7FC0;
  const double a = std::fabs(double(f));
  if (std::isinf(a)) return sign | 0x7F80;
  if (a == 0.0) return sign;
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e): 8 significant bits -> spacing 2^(e-8)
  const double spacing = std::ldexp(1.0, std::max(e - 8, -133));
  const double r = std::nearbyint(a / spacing) * spacing;
  if (r >= std::ldexp(1.0, 128)) return sign | 0x7F80;
  const float rf = float(r);
  uint32_t bits;
  std::memcpy(&bits, &rf, sizeof bits);
  return sign | uint16_t(bits >> 16);
}

// Runs f and returns the gpuaug::Error it throws; fails the test when it throws nothing else.
template <typename F>
gpuaug::Error expect_error(F&& f) {
  try {
    f();
  } catch (const gpuaug::Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-gpuaug exception: " << e.what();
    return gpuaug::Error("", "", "");
  }
  ADD_FAILURE() << "expected a gpuaug::Error";
  return gpuaug::Error("", "", "");
}

// Two draws hold the same keys and values (in any order) and the same `applied`.
inline bool same_drawn(const gpuaug::ops::Drawn& a, const gpuaug::ops::Drawn& b) {
  if (a.applied != b.applied || a.count != b.count) return false;
  for (uint8_t i = 0; i < a.count; ++i) {
    const gpuaug::ops::Drawn::Entry* e = b.find(a.entries[i].key);
    if (e == nullptr || e->n != a.entries[i].n) return false;
    for (uint8_t k = 0; k < e->n; ++k)
      if (e->v[k] != a.entries[i].v[k]) return false;
  }
  return true;
}

}  // namespace gpuaug_test
