// float32 -> float16 / bfloat16 bits with round-to-nearest-even, identical on host and device.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/host_device.h"

namespace gpuaug {

GPUAUG_HD_INLINE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

GPUAUG_HD_INLINE uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  const uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

// IEEE binary16, round to nearest even; overflow to infinity, subnormals kept.
GPUAUG_HD_INLINE uint16_t float_to_half_bits(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t magnitude = u & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to inf
  if (magnitude < 0x38800000u) {                                              // subnormal half
    if (magnitude < 0x33000000u) return static_cast<uint16_t>(sign);         // below half of min
    const uint32_t exponent = magnitude >> 23;
    const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // 14 + (112 - exponent) + ... keeps 10 bits
    const uint32_t value = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    uint32_t rounded = value + ((remainder > halfway || (remainder == halfway && (value & 1u))) ? 1u : 0u);
    return static_cast<uint16_t>(sign | rounded);
  }
  magnitude -= 0x38000000u;  // rebias exponent 127 -> 15
  const uint32_t rounding = 0xFFFu + ((magnitude >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((magnitude + rounding) >> 13));
}

// Widening back to float32 (exact), for viewing outputs and for tests.
inline float half_bits_to_float(uint16_t h) {
  const int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  float magnitude;
  if (exponent == 0x1F) magnitude = mantissa ? __builtin_nanf("") : __builtin_inff();
  else if (exponent == 0) magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
  else magnitude = static_cast<float>(mantissa | 0x400) * __builtin_ldexpf(1.0f, exponent - 25);
  return (h & 0x8000) ? -magnitude : magnitude;
}

inline float bfloat16_bits_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace gpuaug
