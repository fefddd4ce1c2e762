// float32 -> float16 and bfloat16 bits: known values, round-to-even ties, overflow, subnormals
// and NaN, plus a sweep against a double-arithmetic oracle (and the compiler's _Float16).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "../common/references.h"
#include "core/half.h"

namespace gpuaug {
namespace {

using gpuaug_test::ref_bfloat16_bits;
using gpuaug_test::ref_half_bits;

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

TEST(Half, KnownValues) {
  EXPECT_EQ(float_to_half_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half_bits(0.5f), 0x3800);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7BFF);  // largest finite half
  EXPECT_EQ(float_to_half_bits(65519.0f), 0x7BFF);  // below the tie: stays finite
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7C00);  // the tie rounds to even: infinity
  EXPECT_EQ(float_to_half_bits(-65520.0f), 0xFC00);
  EXPECT_EQ(float_to_half_bits(1e10f), 0x7C00);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half_bits(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(float_to_half_bits(6e-8f), 0x0001);                   // 2^-24 = 5.96e-8, subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1023.0f, -24)), 0x03FF);  // largest subnormal
  EXPECT_EQ(float_to_half_bits(1e-9f), 0x0000);
  EXPECT_EQ(float_to_half_bits(-1e-9f), 0x8000);
  EXPECT_EQ(float_to_half_bits(1.0f / 255.0f), 0x1C04);  // 0.0039215.. = 1.0039 * 2^-8
}

TEST(Half, NaNStaysNaN) {
  for (float nan : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                    from_bits(0x7F800001u)}) {
    const uint16_t h = float_to_half_bits(nan);
    EXPECT_EQ(h & 0x7C00, 0x7C00);
    EXPECT_NE(h & 0x03FF, 0);
  }
}

TEST(Half, TiesRoundToEven) {
  // Normal range: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
  EXPECT_EQ(float_to_half_bits(2049.0f), 0x6800);  // 2048 + 1, spacing 2: to 2048 (even)
  EXPECT_EQ(float_to_half_bits(2051.0f), 0x6802);  // to 2052 (even)
  // Subnormal range: units of 2^-24.
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);       // 0.5 unit -> 0
  EXPECT_EQ(float_to_half_bits(std::ldexp(3.0f, -25)), 0x0002);       // 1.5 units -> 2
  EXPECT_EQ(float_to_half_bits(std::ldexp(5.0f, -25)), 0x0002);       // 2.5 units -> 2
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25) * 1.0001f), 0x0001);
  // 1023.5 units: the tie between the largest subnormal and the smallest normal.
  EXPECT_EQ(float_to_half_bits(std::ldexp(2047.0f, -25)), 0x0400);
}

TEST(BFloat16, KnownValues) {
  EXPECT_EQ(float_to_bfloat16_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_bfloat16_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16_bits(-1.5f), 0xBFC0);
  EXPECT_EQ(float_to_bfloat16_bits(65504.0f), 0x4780);  // 65504 rounds up to 65536
  EXPECT_EQ(float_to_bfloat16_bits(65520.0f), 0x4780);
  EXPECT_EQ(float_to_bfloat16_bits(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(float_to_bfloat16_bits(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(float_to_bfloat16_bits(std::numeric_limits<float>::max()), 0x7F80);  // rounds to inf
  EXPECT_EQ(float_to_bfloat16_bits(6e-8f), 0x3381);
  EXPECT_EQ(float_to_bfloat16_bits(from_bits(0x00000001u)), 0x0000);  // float subnormal, below half
  EXPECT_EQ(float_to_bfloat16_bits(from_bits(0x00008000u)), 0x0000);  // exact tie, to even
  EXPECT_EQ(float_to_bfloat16_bits(from_bits(0x00018000u)), 0x0002);  // tie, to even
}

TEST(BFloat16, NaNStaysQuietNaN) {
  EXPECT_EQ(float_to_bfloat16_bits(std::numeric_limits<float>::quiet_NaN()), 0x7FC0);
  const uint16_t signalling = float_to_bfloat16_bits(from_bits(0x7F800001u));
  EXPECT_EQ(signalling & 0x7F80, 0x7F80);
  EXPECT_NE(signalling & 0x007F, 0);  // would be infinity if truncated without care
  EXPECT_EQ(float_to_bfloat16_bits(from_bits(0xFFC00000u)), 0xFFC0);
}

TEST(BFloat16, TiesRoundToEven) {
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
}

// Every 4099th bit pattern (all exponents, both signs, mantissas with ties and near-ties) plus
// every pattern around the half overflow and subnormal boundaries.
TEST(HalfAndBFloat16, SweepMatchesDoubleOracle) {
  auto check = [](uint32_t u) {
    const float f = from_bits(u);
    const uint16_t h = float_to_half_bits(f);
    if (std::isnan(f)) {
      ASSERT_TRUE((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) << std::hex << u;
      return;
    }
    ASSERT_EQ(h, ref_half_bits(f)) << "half of bits 0x" << std::hex << u;
    ASSERT_EQ(float_to_bfloat16_bits(f), ref_bfloat16_bits(f)) << "bfloat16 of bits 0x" << std::hex << u;
#if defined(__FLT16_MAX__)
    const _Float16 compiler = static_cast<_Float16>(f);
    uint16_t compiler_bits;
    std::memcpy(&compiler_bits, &compiler, sizeof compiler_bits);
    ASSERT_EQ(h, compiler_bits) << "_Float16 of bits 0x" << std::hex << u;
#endif
  };
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 4099) check(uint32_t(u));
  for (uint32_t base : {0x477FE000u, 0x38800000u, 0x33000000u, 0x387FC000u})
    for (uint32_t d = 0; d < 0x4000; ++d) {
      check(base - 0x2000 + d);
      check((base - 0x2000 + d) | 0x80000000u);
    }
}

}  // namespace
}  // namespace gpuaug
