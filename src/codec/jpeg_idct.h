// jpeg_idct_islow, libjpeg-turbo's accurate integer IDCT as its x86-64 SIMD code computes it, and
// JpegCoefficients, a JPEG's quantized DCT blocks in one buffer for it to turn into JpegPlanes (the
// CPU reads the coefficients, a GPU runs the IDCT; idct_planes is the CPU's reference loop).
#pragma once

#include <cstddef>
#include <cstdint>

#include "codec/jpeg_planes.h"
#include "core/host_device.h"

namespace gpuaug::codec {

namespace idct_detail {

// jidctint.c's CONST_BITS 13 and PASS1_BITS 2: pass 1 leaves its output scaled up by 2^2, pass 2
// removes that and the IDCT's factor 8 (the 3 in kPass2Shift).
constexpr int kConstBits = 13, kPass1Bits = 2;
constexpr int kPass1Shift = kConstBits - kPass1Bits;
constexpr int kPass2Shift = kConstBits + kPass1Bits + 3;

// FIX(x) = round(x * 2^13), as jidctint.c and jidctint-sse2.asm / -avx2.asm spell them out.
constexpr int32_t kFix_0_298631336 = 2446, kFix_0_390180644 = 3196, kFix_0_541196100 = 4433,
                  kFix_0_765366865 = 6270, kFix_0_899976223 = 7373, kFix_1_175875602 = 9633,
                  kFix_1_501321110 = 12299, kFix_1_847759065 = 15137, kFix_1_961570560 = 16069,
                  kFix_2_053119869 = 16819, kFix_2_562915447 = 20995, kFix_3_072711026 = 25172;

// paddw / psubw / psllw / pmullw: 16-bit lanes that wrap (C++20 conversion to int16_t is modular).
GPUAUG_HD_INLINE int32_t wrap16(uint32_t v) { return int16_t(uint16_t(v)); }
// pmullw, the SIMD code's dequantization: the low 16 bits of the product (jidctint.c multiplies in
// int; libjpeg keeps quantval as ISLOW_MULT_TYPE, a short, so a 16-bit table's values above 32767
// give the same low bits either way).
GPUAUG_HD_INLINE int32_t dequantize(int16_t coefficient, uint16_t quant) {
  return wrap16(uint32_t(int32_t(coefficient)) * quant);
}
// packssdw: 32 to 16 bits, saturating.
GPUAUG_HD_INLINE int32_t saturate16(int32_t v) {
  return v < -32768 ? -32768 : v > 32767 ? 32767 : v;
}

// One 1-D pass of jsimd_idct_islow_sse2 / _avx2 over 8 int16 inputs in[0], in[step], ...: the
// Loeffler-Ligtenberg-Moschytz butterfly of jidctint.c with the SIMD code's integer semantics,
// which differ from the C code only where 16 bits overflow: in0 + in4, in0 - in4, in3 + in7 and
// in1 + in5 are summed in 16-bit lanes (wrapping), and the descaled outputs are packed to int16
// with saturation. The rest is exact in 32 bits and so independent of the order of the sums:
// with |in| <= 2^15 the largest sum, tmp11 + tmp2 + rounding, is below 2^15 * (2^13 + 15137 +
// 25172 + 16069) + 2^17 = 2,115,960,832 < 2^31, so these int32 expressions never overflow.
GPUAUG_HD_INLINE void islow_pass(const int32_t* in, int step, int shift, int32_t* out,
                                 int out_step) {
  const int32_t in0 = in[0], in1 = in[step], in2 = in[2 * step], in3 = in[3 * step];
  const int32_t in4 = in[4 * step], in5 = in[5 * step], in6 = in[6 * step], in7 = in[7 * step];
  // Even part. pmaddwd forms tmp2 = z2 * 0.541 + z3 * (0.541 - 1.848) and tmp3 = z2 * (0.541 +
  // 0.765) + z3 * 0.541 directly (jidctint.c goes through z1 = (z2 + z3) * 0.541: the same).
  const int32_t tmp3 = in2 * (kFix_0_541196100 + kFix_0_765366865) + in6 * kFix_0_541196100;
  const int32_t tmp2 = in2 * kFix_0_541196100 + in6 * (kFix_0_541196100 - kFix_1_847759065);
  const int32_t tmp0 = wrap16(uint32_t(in0 + in4)) * (1 << kConstBits);
  const int32_t tmp1 = wrap16(uint32_t(in0 - in4)) * (1 << kConstBits);
  const int32_t tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;
  // Odd part, in the SIMD code's rearrangement of jidctint.c's z1..z5 (the same in exact
  // arithmetic): z3 = in7 + in3 and z4 = in5 + in1 in 16 bits.
  const int32_t z3_sum = wrap16(uint32_t(in7 + in3)), z4_sum = wrap16(uint32_t(in5 + in1));
  const int32_t z3 = z3_sum * (kFix_1_175875602 - kFix_1_961570560) + z4_sum * kFix_1_175875602;
  const int32_t z4 = z3_sum * kFix_1_175875602 + z4_sum * (kFix_1_175875602 - kFix_0_390180644);
  const int32_t odd0 = in7 * (kFix_0_298631336 - kFix_0_899976223) - in1 * kFix_0_899976223 + z3;
  const int32_t odd1 = in5 * (kFix_2_053119869 - kFix_2_562915447) - in3 * kFix_2_562915447 + z4;
  const int32_t odd2 = in3 * (kFix_3_072711026 - kFix_2_562915447) - in5 * kFix_2_562915447 + z3;
  const int32_t odd3 = in1 * (kFix_1_501321110 - kFix_0_899976223) - in7 * kFix_0_899976223 + z4;
  // DESCALE: add half, arithmetic shift (C++20 and CUDA shift signed values arithmetically).
  const int32_t half = 1 << (shift - 1);
  out[0] = saturate16((tmp10 + odd3 + half) >> shift);
  out[7 * out_step] = saturate16((tmp10 - odd3 + half) >> shift);
  out[1 * out_step] = saturate16((tmp11 + odd2 + half) >> shift);
  out[6 * out_step] = saturate16((tmp11 - odd2 + half) >> shift);
  out[2 * out_step] = saturate16((tmp12 + odd1 + half) >> shift);
  out[5 * out_step] = saturate16((tmp12 - odd1 + half) >> shift);
  out[3 * out_step] = saturate16((tmp13 + odd0 + half) >> shift);
  out[4 * out_step] = saturate16((tmp13 - odd0 + half) >> shift);
}

}  // namespace idct_detail

// One 8x8 block of samples from its quantized coefficients (natural order, libjpeg's JBLOCK) and
// its component's quantization table (natural order, JQUANT_TBL::quantval), bit for bit as
// x86-64 libjpeg-turbo 2.1 decodes with JDCT_ISLOW: jsimd_idct_islow_avx2, or _sse2 without AVX2
// (the two compute the same). For every coefficient the JPEG format can carry, 16-bit quant tables
// included, not only for ordinary data; where it departs from the C jpeg_idct_islow (jidctint.c,
// which libjpeg-turbo runs only without SIMD) is written down at each step.
GPUAUG_HD_INLINE void jpeg_idct_islow(const int16_t* coefficients, const uint16_t* quant,
                                      uint8_t* out, size_t pitch) {
  using namespace idct_detail;
  // Pass 1, columns, into a workspace of int16 values (held as int32). The SIMD code's shortcut
  // is for the whole block, not per column as jidctint.c's: when every coefficient below row 0 is
  // zero (tested before dequantizing), column c is its row-0 coefficient dequantized and << 2 in
  // 16 bits (psllw, which wraps where the full pass would saturate).
  bool rows_below_zero = true;
  for (int i = 8; i < 64; ++i) rows_below_zero = rows_below_zero && coefficients[i] == 0;
  int32_t workspace[64];
  for (int c = 0; c < 8; ++c) {
    if (rows_below_zero) {
      const int32_t column = wrap16(uint32_t(dequantize(coefficients[c], quant[c])) << kPass1Bits);
      for (int r = 0; r < 8; ++r) workspace[r * 8 + c] = column;
    } else {
      int32_t column[8];
      for (int r = 0; r < 8; ++r) column[r] = dequantize(coefficients[r * 8 + c], quant[r * 8 + c]);
      islow_pass(column, 1, kPass1Shift, workspace + c, 8);
    }
  }
  // Pass 2, rows; no shortcut in the SIMD code. packsswb then adding CENTERJSAMPLE in 8 bits is a
  // clamp to [-128, 127] plus 128: saturation where jidctint.c's range-limit table, indexed by
  // the value & RANGE_MASK (1023), clamps only within [-512, 511] and wraps beyond (mod 1024).
  for (int r = 0; r < 8; ++r) {
    int32_t row[8];
    islow_pass(workspace + r * 8, 1, kPass2Shift, row, 1);
    uint8_t* out_row = out + size_t(r) * pitch;
    for (int c = 0; c < 8; ++c)
      out_row[c] = uint8_t((row[c] < -128 ? -128 : row[c] > 127 ? 127 : row[c]) + 128);
  }
}

// Where a JPEG's quantized coefficients lie in one buffer, and the planes their IDCT gives
// (JpegPlaneReader::coefficient_layout and read_coefficients fill it). In order:
//   quantization tables, one per component: uint16_t[64], natural order, at quant_offset[c];
//   then each component's blocks: int16_t[64] each (natural order, libjpeg's JBLOCK), in rows of
//   blocks_wide[c] blocks, blocks_high[c] rows, from block_offset[c]; every offset is a multiple
//   of 128 bytes.
// The blocks are those libjpeg's decode runs through its IDCT (width_in_blocks x
// height_in_blocks of the component); block (x, y) of component c becomes the 8x8 samples at
// (8x, 8y) of plane c of `planes` (JpegPlaneReader::layout()). What lies beyond them in the
// planes' padded rows libjpeg never writes, and neither does idct_planes.
struct JpegCoefficients {
  JpegPlanes planes;
  int blocks_wide[3] = {}, blocks_high[3] = {};
  size_t quant_offset[3] = {};
  size_t block_offset[3] = {};
  size_t bytes = 0;  // the buffer's size
};

// The IDCT of block (block_x, block_y) of `component` from a JpegCoefficients buffer into its place
// in the planes' buffer: the one step a GPU kernel runs per block.
GPUAUG_HD_INLINE void idct_block(const JpegCoefficients& k, const uint8_t* coefficient_buffer,
                                 uint8_t* plane_buffer, int component, int block_x, int block_y) {
  const auto* quant =
      reinterpret_cast<const uint16_t*>(coefficient_buffer + k.quant_offset[component]);
  const size_t block = size_t(block_y) * size_t(k.blocks_wide[component]) + size_t(block_x);
  const auto* coefficients =
      reinterpret_cast<const int16_t*>(coefficient_buffer + k.block_offset[component]) + block * 64;
  const size_t pitch = size_t(k.planes.pitch[component]);
  uint8_t* out =
      plane_buffer + k.planes.offset[component] + size_t(block_y) * 8 * pitch + size_t(block_x) * 8;
  jpeg_idct_islow(coefficients, quant, out, pitch);
}

// The CPU's reference for the GPU: every block of every component through idct_block, which
// gives the planes JpegPlaneReader::read gives, byte for byte, where read_coefficients says so.
inline void idct_planes(const JpegCoefficients& k, const uint8_t* coefficient_buffer,
                        uint8_t* plane_buffer) {
  for (int c = 0; c < k.planes.components; ++c)
    for (int y = 0; y < k.blocks_high[c]; ++y)
      for (int x = 0; x < k.blocks_wide[c]; ++x)
        idct_block(k, coefficient_buffer, plane_buffer, c, x, y);
}

}  // namespace gpuaug::codec
