// Per-pixel steps of the pixel program (ops::PixelOp), one source for the CPU loop and the
// CUDA kernel: colour (brightness, contrast, saturation, hue, grayscale), dtype casts,
// normalize, Gaussian noise and erase rectangles.
//
// Bit-identical on both sides: only +, -, *, /, sqrt and explicit fmaf (each correctly
// rounded by IEEE 754 on gcc/glibc and nvcc), floor, trunc, fmod, fmin, fmax and integer
// work; no libm transcendental (glibc's and CUDA's logf/cosf differ in the last bit), so log
// and sin/cos below are polynomials. The build must keep implicit FMA contraction off
// (-ffp-contract=off, nvcc --fmad=false) and must not use fast math (--use_fast_math would
// replace the IEEE division and sqrt).
//
// Values are float32. In the uint8 domain (PixelOp::uint8_domain) they are integers 0..255
// and colour steps truncate their clamped result, as torchvision does on uint8 tensors; in
// the float domain they are on the [0, 1] scale. A 1-channel image (PixelOp::channels == 1)
// holds its gray value in all three of v[0..2].
//
// References (torchvision.transforms.v2.functional, tv 0.20-0.26, see shared notes
// torchvision-numerics.md):
//   kBrightness  adjust_brightness: trunc(clamp(x * f, 0, 255)) (float: clamp to [0, 1]).
//   kContrast    adjust_contrast: _blend(x, mean, f) = x*f + mean*(1 - f), clamped, uint8
//                truncated; a[1] is the mean that the executor measured (pixel_passes.h).
//   kSaturation  adjust_saturation: _blend(x, gray, f), gray floored in uint8; 1 channel:
//                no-op (torchvision matches PIL).
//   kHue         adjust_hue: uint8 -> x * float(1/255), RGB -> HSV (Pillow's formulas as
//                torchvision's _rgb_to_hsv writes them), h = (h + f) mod 1, HSV -> RGB,
//                uint8 <- trunc(x * 255.999); 1 channel: no-op.
//   kGrayscale   rgb_to_grayscale: 0.2989 R + 0.587 G + 0.114 B, truncated in uint8 (white
//                -> 254, as torchvision); 1 channel: no-op (torchvision clones / repeats).
//   kToFloat     to_dtype(float32, scale=True): x * float(1/255) (not x / 255: trap 7).
//   kToUInt8     to_dtype(uint8, scale=True): trunc(clamp(x, 0, 1) * 255.999). torchvision
//                does not clamp (values outside [0, 1] wrap); we clamp.
//   kNormalize   normalize: (x - mean) / std, true division. 1 channel: a[0] and a[3].
//   kNoise       gaussian_noise on float images: x + (mean + n * sigma), clamped to [0, 1]
//                when a[2] != 0. n is standard normal from Philox, not torch.randn (see
//                pixel_normals below): parity with torchvision is in distribution only.
//   kErase       erase: inside rect [top, left, height, width] (the image's pixel
//                coordinates at this step) the value a[0..2], or, when a[3] != 0, per-pixel
//                standard normals (value="random"). In the uint8 domain a random value is
//                clamp(trunc(n * 255), 0, 255): torchvision assigns the raw normal into the
//                uint8 tensor (truncating 0.7 to 0 and wrapping negatives); we scale and
//                clamp so that "random" means noise in both domains.
//   kBlur        not pointwise: pixel_passes.h gaussian_blur; apply_pixel_op ignores it.
//
// FMA where torchvision has it: its `add_(other, alpha)` (the grayscale sums and _blend) runs
// as a fused multiply-add on AVX2/AVX-512 CPUs (Vectorized fmadd; on CUDA too, as nvcc
// contracts a + alpha * b by default), so gray_of and blend call fmaf explicitly there (trap 5:
// rounding each product instead made 0.04% of uint8 saturation results differ by 1). Measured
// against torchvision 0.26 / torch 2.11 on the CPU (256x192 random image): brightness, contrast,
// saturation, hue, grayscale, to_dtype and normalize equal bit for bit in both domains. Blend
// factors are drawn as float32 values (color_jitter.h), for which torchvision's 1 - f in double
// rounds to our float32 1 - f.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "core/philox.h"
#include "core/random.h"
#include "ops/fold.h"

namespace gpuaug::plan {

// Where a pixel is: the sample's key and counter words, and its position in the image at this
// step (x, y, row width), for the per-pixel noise and erase counters.
struct PixelContext {
  RandomKey key;
  uint64_t index;
  uint32_t stream;
  uint32_t x, y, width;
};

// Counter word 2 of the per-pixel draws: the op index with a tag that keeps them apart from
// the parameter draws (RandomStream uses op_index alone).
inline constexpr uint32_t kNoiseCounterTag = 0x80000000u;
inline constexpr uint32_t kEraseCounterTag = 0xC0000000u;

// torchvision's constants are Python doubles that torch rounds to float32.
inline constexpr float kGrayR = static_cast<float>(0.2989);
inline constexpr float kGrayG = static_cast<float>(0.587);
inline constexpr float kGrayB = static_cast<float>(0.114);
inline constexpr float kInv255 = static_cast<float>(1.0 / 255.0);
inline constexpr float kToUInt8Scale = static_cast<float>(255.0 + 1.0 - 1e-3);  // 255.999
inline constexpr float kOneSixth = static_cast<float>(1.0 / 6.0);

GPUAUG_HD_INLINE float clamp_to(float x, float hi) { return ::fminf(::fmaxf(x, 0.0f), hi); }

// 0.2989 R + 0.587 G + 0.114 B in float32 as torchvision's r.mul(0.2989).add_(g, alpha=0.587)
// .add_(b, alpha=0.114) evaluates it (each add_ a fused multiply-add), floored in the uint8
// domain as adjust_saturation / adjust_contrast / rgb_to_grayscale do.
GPUAUG_HD_INLINE float gray_of(float r, float g, float b, bool uint8_domain) {
  const float gray = ::fmaf(b, kGrayB, ::fmaf(g, kGrayG, r * kGrayR));
  return uint8_domain ? ::floorf(gray) : gray;
}

// Natural log of u = k * 2^-24 for an integer k in [1, 2^24]: the uniforms of Box-Muller.
// Exponent split by integer arithmetic, ln(m) for m in [1/sqrt2, sqrt2] by the atanh series
// to s^9 (relative error < 3e-9 before float rounding); ln 2 split hi/lo (hi has 16 bits, so
// e * hi is exact).
GPUAUG_HD_INLINE float log_of_24bit(uint32_t k) {
  int e = 24;
  while ((k >> e) == 0u)
    --e;  // floor(log2 k); k >= 1, so at most 24 steps (rare: k is small
          // only for u1 near 0)
  float m = static_cast<float>(k) / static_cast<float>(1u << e);  // [1, 2), exact
  if (m > 1.41421356f) {
    m = m * 0.5f;
    ++e;
  }
  const float s = (m - 1.0f) / (m + 1.0f);
  const float z = s * s;
  const float series =
      s * (2.0f + z * (0.666666667f + z * (0.4f + z * (0.285714286f + z * 0.222222222f))));
  const auto scaled_e = static_cast<float>(e - 24);
  constexpr float kLn2Hi = 0.693145751953125f;
  constexpr float kLn2Lo = 1.42860682030941723212e-6f;
  return scaled_e * kLn2Hi + (scaled_e * kLn2Lo + series);
}

// sin(2*pi*u) and cos(2*pi*u) for u in [0, 1) with 24-bit resolution: the quadrant and the
// folding to [0, pi/4] are exact, then Taylor polynomials (error < 2e-9).
GPUAUG_HD_INLINE void sincos_turns(float u, float& sin_out, float& cos_out) {
  const float t = u * 4.0f;  // exact
  const float quadrant = ::floorf(t);
  const float f = t - quadrant;  // [0, 1), exact
  const bool fold = f > 0.5f;
  const float x = (fold ? 1.0f - f : f) * 1.57079633f;  // [0, pi/4]
  const float x2 = x * x;
  const float sin_x =
      x * (1.0f - x2 * (1.66666667e-1f -
                        x2 * (8.33333333e-3f - x2 * (1.98412698e-4f - x2 * 2.75573192e-6f))));
  const float cos_x =
      1.0f -
      x2 * (0.5f - x2 * (4.16666667e-2f -
                         x2 * (1.38888889e-3f - x2 * (2.48015873e-5f - x2 * 2.75573192e-7f))));
  const float s = fold ? cos_x : sin_x;  // sin of the angle within the quadrant
  const float c = fold ? sin_x : cos_x;
  switch (static_cast<int>(quadrant)) {
    case 0:
      sin_out = s;
      cos_out = c;
      break;
    case 1:
      sin_out = c;
      cos_out = -s;
      break;
    case 2:
      sin_out = -s;
      cos_out = -c;
      break;
    default:
      sin_out = -c;
      cos_out = s;
      break;
  }
}

// Three standard normals for one pixel: one Philox4x32-10 block at counter
// (uint32(index), stream ^ uint32(index >> 32) << 24, tagged op index, y * width + x), key
// ctx.key; Box-Muller on (w0, w1) gives n0, n1 and on (w2, w3) gives n2. Each uniform is
// uniform_float (24 bits); u1 = 1 - uniform is in (0, 1], so |n| <= 5.77.
GPUAUG_HD_INLINE void pixel_normals(const PixelContext& ctx, uint32_t counter_word2, float n[3]) {
  const Philox4 counter{{static_cast<uint32_t>(ctx.index),
                         ctx.stream ^ static_cast<uint32_t>(ctx.index >> 32) << 24, counter_word2,
                         ctx.y * ctx.width + ctx.x}};
  const Philox4 bits = philox4x32_10(counter, ctx.key.k0, ctx.key.k1);
  float s0, c0, s1, c1;
  // 1 - uniform_float(w) = k * 2^-24 with k = 2^24 - (w >> 8) in [1, 2^24].
  const float r0 = ::sqrtf(-2.0f * log_of_24bit(16777216u - (bits.v[0] >> 8)));
  sincos_turns(uniform_float(bits.v[1]), s0, c0);
  const float r1 = ::sqrtf(-2.0f * log_of_24bit(16777216u - (bits.v[2] >> 8)));
  sincos_turns(uniform_float(bits.v[3]), s1, c1);
  n[0] = r0 * c0;
  n[1] = r0 * s0;
  n[2] = r1 * c1;
}

// torchvision's _rgb_to_hsv -> (h + f) mod 1 -> _hsv_to_rgb on [0, 1] values, op for op.
GPUAUG_HD_INLINE void adjust_hue_unit(float rgb[3], float hue_factor) {
  const float r = rgb[0], g = rgb[1], b = rgb[2];
  const float maxc = ::fmaxf(::fmaxf(r, g), b);
  const float minc = ::fminf(::fminf(r, g), b);
  const bool eqc = maxc == minc;
  const float range = maxc - minc;
  const float s = range / (eqc ? 1.0f : maxc);
  const float divisor = eqc ? 1.0f : range;
  const float rc = (maxc - r) / divisor;
  const float gc = (maxc - g) / divisor;
  const float bc = (maxc - b) / divisor;
  const float hr = maxc == r ? bc - gc : 0.0f;
  const float hg = (maxc == g && maxc != r) ? (rc + 2.0f) - bc : 0.0f;
  const float hb = (maxc != g && maxc != r) ? (gc + 4.0f) - rc : 0.0f;
  float h = ::fmodf(((hr + hg) + hb) * kOneSixth + 1.0f, 1.0f);
  // torch.remainder(h + f, 1): fmod, then shifted into [0, 1) when negative.
  h = ::fmodf(h + hue_factor, 1.0f);
  if (h < 0.0f) h = h + 1.0f;

  const float v = maxc;
  const float h6 = h * 6.0f;
  const float i = ::floorf(h6);
  const float f = h6 - i;
  const float sxf = s * f;
  const float one_minus_s = 1.0f - s;
  const float q = clamp_to((1.0f - sxf) * v, 1.0f);
  const float t = clamp_to((sxf + one_minus_s) * v, 1.0f);
  const float p = clamp_to(one_minus_s * v, 1.0f);
  switch (static_cast<int>(i) % 6) {  // i in [0, 6]
    case 0:
      rgb[0] = v;
      rgb[1] = t;
      rgb[2] = p;
      break;
    case 1:
      rgb[0] = q;
      rgb[1] = v;
      rgb[2] = p;
      break;
    case 2:
      rgb[0] = p;
      rgb[1] = v;
      rgb[2] = t;
      break;
    case 3:
      rgb[0] = p;
      rgb[1] = q;
      rgb[2] = v;
      break;
    case 4:
      rgb[0] = t;
      rgb[1] = p;
      rgb[2] = v;
      break;
    default:
      rgb[0] = v;
      rgb[1] = p;
      rgb[2] = q;
      break;
  }
}

// torchvision's _blend(x, other, f): x.mul(f).add_(other, alpha=1 - f), i.e.
// fma(other, 1 - f, x * f), clamped to [0, 255] or [0, 1], truncated in the uint8 domain.
GPUAUG_HD_INLINE float blend(float x, float other, float factor, bool uint8_domain) {
  const float out = ::fmaf(other, 1.0f - factor, x * factor);
  return uint8_domain ? ::truncf(clamp_to(out, 255.0f)) : clamp_to(out, 1.0f);
}

// The steps whose result depends only on the value and its channel, one function each so that
// apply_pixel_op and the CPU executor's whole-row loops share one formula. Those written with
// + - * / alone are templates: the executor runs them on GCC vectors of floats, lane by lane
// the same operations.
GPUAUG_HD_INLINE float brightness_value(float x, float factor, bool uint8_domain) {
  const float out = x * factor;
  return uint8_domain ? ::truncf(clamp_to(out, 255.0f)) : clamp_to(out, 1.0f);
}
template <class T>
GPUAUG_HD_INLINE T to_float_value(T x) { return x * kInv255; }
GPUAUG_HD_INLINE float to_uint8_value(float x) { return ::truncf(clamp_to(x, 1.0f) * kToUInt8Scale); }
template <class T>
GPUAUG_HD_INLINE T normalize_value(T x, float mean, float std) { return (x - mean) / std; }

// Applies one pointwise step to v[0..2] (RGB; for 1-channel images all three hold the gray).
// kContrast blends with op.a[1], the mean the executor measured; kBlur is not pointwise (never
// passed here; ignored if it is).
GPUAUG_HD_INLINE void apply_pixel_op(const ops::PixelOp& op, float v[3], const PixelContext& ctx) {
  using ops::PixelKind;
  const bool u8 = op.uint8_domain;
  const bool gray_image = op.channels == 1;
  switch (op.kind) {
    case PixelKind::kBrightness:
      for (int c = 0; c < 3; ++c) v[c] = brightness_value(v[c], op.a[0], u8);
      break;
    case PixelKind::kContrast:
      for (int c = 0; c < 3; ++c) v[c] = blend(v[c], op.a[1], op.a[0], u8);
      break;
    case PixelKind::kSaturation: {
      if (gray_image) break;
      const float gray = gray_of(v[0], v[1], v[2], u8);
      for (int c = 0; c < 3; ++c) v[c] = blend(v[c], gray, op.a[0], u8);
      break;
    }
    case PixelKind::kHue: {
      if (gray_image) break;
      if (u8) {
        float unit[3] = {to_float_value(v[0]), to_float_value(v[1]), to_float_value(v[2])};
        adjust_hue_unit(unit, op.a[0]);
        for (int c = 0; c < 3; ++c) v[c] = to_uint8_value(unit[c]);
      } else {
        adjust_hue_unit(v, op.a[0]);
      }
      break;
    }
    case PixelKind::kGrayscale: {
      if (gray_image) break;
      const float gray = gray_of(v[0], v[1], v[2], u8);
      v[0] = v[1] = v[2] = gray;
      break;
    }
    case PixelKind::kToFloat:
      for (int c = 0; c < 3; ++c) v[c] = to_float_value(v[c]);
      break;
    case PixelKind::kToUInt8:
      for (int c = 0; c < 3; ++c) v[c] = to_uint8_value(v[c]);
      break;
    case PixelKind::kNormalize:
      for (int c = 0; c < 3; ++c) {
        const int k = gray_image ? 0 : c;
        v[c] = normalize_value(v[c], op.a[k], op.a[3 + k]);
      }
      break;
    case PixelKind::kNoise: {
      float n[3];
      pixel_normals(ctx, static_cast<uint32_t>(op.op_index) | kNoiseCounterTag, n);
      for (int c = 0; c < 3; ++c) {
        const float noise = op.a[0] + n[gray_image ? 0 : c] * op.a[1];
        const float out = v[c] + noise;
        v[c] = op.a[2] != 0.0f ? clamp_to(out, 1.0f) : out;
      }
      break;
    }
    case PixelKind::kErase: {
      const int64_t x = ctx.x, y = ctx.y;
      const int64_t top = op.rect[0], left = op.rect[1];
      if (y < top || y >= top + op.rect[2] || x < left || x >= left + op.rect[3]) break;
      if (op.a[3] != 0.0f) {
        float n[3];
        pixel_normals(ctx, static_cast<uint32_t>(op.op_index) | kEraseCounterTag, n);
        for (int c = 0; c < 3; ++c) {
          const float value = n[gray_image ? 0 : c];
          v[c] = u8 ? ::truncf(clamp_to(value * 255.0f, 255.0f)) : value;
        }
      } else {
        for (int c = 0; c < 3; ++c) v[c] = op.a[gray_image ? 0 : c];
      }
      break;
    }
    case PixelKind::kBlur:
      break;
  }
}

}  // namespace gpuaug::plan
