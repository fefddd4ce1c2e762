// Tests for jpeg_idct_islow and JpegPlaneReader::read_coefficients: the coefficients' IDCT against
// libjpeg-turbo's own planes (JpegPlaneReader::read), for encoder output and for written-in
// extreme coefficients; the buffer's layout; block smoothing; errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <sstream>

#include "codec/jpeg_decoder.h"
#include "codec/jpeg_idct.h"
#include "codec_fixtures.h"
#include "coefficient_fixtures.h"

using namespace gpuaug::codec;
using namespace codec_test;

namespace {

// Both decodes start from buffers filled with this, so padding that libjpeg never writes must
// stay untouched by the IDCT path too, and the whole buffers compare.
constexpr uint8_t kSentinel = 0xA5;

// The oracle: libjpeg-turbo's planes (jpeg_read_raw_data, its SIMD IDCT on this x86-64 machine).
std::vector<uint8_t> planes_by_libjpeg(const std::vector<uint8_t>& bytes) {
  JpegPlaneReader reader(bytes, kDefaultMaxPixels);
  std::vector<uint8_t> planes(reader.layout().bytes, kSentinel);
  reader.read(planes.data());
  return planes;
}

struct IdctDecode {
  JpegCoefficients layout;
  std::vector<uint8_t> coefficients, planes;
  bool exact = false;  // read_coefficients' answer
};

IdctDecode planes_by_idct(const std::vector<uint8_t>& bytes) {
  JpegPlaneReader reader(bytes, kDefaultMaxPixels);
  IdctDecode d;
  d.layout = reader.coefficient_layout();
  d.coefficients.assign(d.layout.bytes, 0x5A);
  d.exact = reader.read_coefficients(d.coefficients.data());
  d.planes.assign(d.layout.planes.bytes, kSentinel);
  idct_planes(d.layout, d.coefficients.data(), d.planes.data());
  return d;
}

// "" when equal, else where the first difference lies (component, x, y) and the two values.
std::string first_difference(const JpegPlanes& p, const std::vector<uint8_t>& got,
                             const std::vector<uint8_t>& want) {
  if (got.size() != want.size())
    return "sizes " + std::to_string(got.size()) + " and " + std::to_string(want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    int c = p.components - 1;
    while (i < p.offset[c]) --c;
    const size_t at = i - p.offset[c];
    std::ostringstream s;
    s << "component " << c << " at (" << at % size_t(p.pitch[c]) << ", " << at / size_t(p.pitch[c])
      << "): idct " << int(got[i]) << ", libjpeg " << int(want[i]);
    return s.str();
  }
  return "";
}

// Decodes `bytes` both ways; "" when read_coefficients says exact and the planes are equal.
std::string idct_vs_libjpeg(const std::vector<uint8_t>& bytes) {
  const IdctDecode d = planes_by_idct(bytes);
  if (!d.exact) return "read_coefficients says not exact";
  return first_difference(d.layout.planes, d.planes, planes_by_libjpeg(bytes));
}

}  // namespace

// Oracle: libjpeg-turbo's planes of the same file (JpegPlaneReader::read). Tolerance: exact, over
// whole buffers (the padding libjpeg never writes must be left alone too), for 4:2:0, 4:2:2,
// 4:4:4 and gray; quality 100 (quantizers 1, the largest coefficients an encoder gives), 90, 50
// and 5 (quantizers up to 255); sizes 1x1 to 500x375, odd and not multiples of the MCU;
// baseline, progressive, restart markers, arithmetic coding, and non-interleaved scans.
TEST(JpegIdct, PlanesEqualLibjpegsForEncodedImages) {
  const int sizes[][2] = {{1, 1},  {17, 19}, {8, 8},   {500, 375},
                          {33, 1}, {1, 33},  {16, 16}, {23, 9}};
  struct Sampling {
    int channels, luma_h, luma_v;
  };
  const Sampling samplings[] = {{3, 2, 2}, {3, 2, 1}, {3, 1, 1}, {1, 1, 1}};
  uint32_t seed = 1;
  for (const auto& size : sizes)
    for (const Sampling& sampling : samplings)
      for (int quality : {100, 90, 50, 5})
        for (int coding = 0; coding < 4; ++coding) {  // baseline, progressive, restarts, arithmetic
          JpegSpec spec;
          spec.in_space = sampling.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
          spec.luma_h = sampling.luma_h, spec.luma_v = sampling.luma_v;
          spec.quality = quality;
          spec.progressive = coding == 1;
          spec.restart_rows = coding == 2;
          spec.arithmetic = coding == 3;
          const auto bytes =
              write_jpeg(textured_image(size[0], size[1], sampling.channels, ++seed), spec);
          ASSERT_EQ(idct_vs_libjpeg(bytes), "")
              << size[0] << "x" << size[1] << " channels " << sampling.channels << " luma "
              << sampling.luma_h << "x" << sampling.luma_v << " quality " << quality << " coding "
              << coding;
        }
  // One scan per component (sequential but not interleaved: libjpeg buffers the whole image and
  // IDCTs it from its virtual arrays, as for progressive files).
  JpegSpec spec;
  spec.scans = {{1, {0}, 0, 63, 0, 0}, {1, {1}, 0, 63, 0, 0}, {1, {2}, 0, 63, 0, 0}};
  EXPECT_EQ(idct_vs_libjpeg(write_jpeg(textured_image(41, 27, 3, 99), spec)), "");
}

// The layout comes from the header (before reading) and holds libjpeg's block counts: 17x19 at
// 4:2:0 is 3x3 luma blocks (34/16 rounded up; the iMCU padding to 4x4 is not IDCT'd) and 2x2 of
// each chroma; tables first, 128-byte aligned; the planes are layout()'s.
TEST(JpegIdct, LayoutIsLibjpegsBlocksKnownFromTheHeader) {
  const auto bytes = write_jpeg(textured_image(17, 19, 3, 5));
  JpegPlaneReader reader(bytes, kDefaultMaxPixels);
  const JpegCoefficients& k = reader.coefficient_layout();
  const JpegPlanes& p = reader.layout();
  EXPECT_EQ(k.planes.bytes, p.bytes);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(k.planes.pitch[c], p.pitch[c]);
    EXPECT_EQ(k.planes.offset[c], p.offset[c]);
    EXPECT_EQ(k.quant_offset[c], size_t(128 * c));
  }
  EXPECT_EQ(k.blocks_wide[0], 3);
  EXPECT_EQ(k.blocks_high[0], 3);
  for (int c : {1, 2}) {
    EXPECT_EQ(k.blocks_wide[c], 2);
    EXPECT_EQ(k.blocks_high[c], 2);
  }
  EXPECT_EQ(k.block_offset[0], size_t(384));
  EXPECT_EQ(k.block_offset[1], size_t(384 + 9 * 128));
  EXPECT_EQ(k.block_offset[2], size_t(384 + 13 * 128));
  EXPECT_EQ(k.bytes, size_t(384 + 17 * 128));
  // The planes' pitch has room for the 4x4 iMCU blocks, of which libjpeg writes 3x3.
  EXPECT_EQ(p.pitch[0], 32);
  JpegSpec gray;
  gray.in_space = JCS_GRAYSCALE;
  JpegPlaneReader gray_reader(write_jpeg(textured_image(33, 1, 1, 6), gray), kDefaultMaxPixels);
  EXPECT_EQ(gray_reader.coefficient_layout().blocks_wide[0], 5);
  EXPECT_EQ(gray_reader.coefficient_layout().blocks_high[0], 1);
  EXPECT_EQ(gray_reader.coefficient_layout().block_offset[0], size_t(128));
  EXPECT_EQ(gray_reader.coefficient_layout().bytes, size_t(128 + 5 * 128));
}

// The buffer holds the very coefficients and tables written (jpeg_write_coefficients), in
// natural order, block rows of blocks_wide, 16-bit tables included.
TEST(JpegIdct, BufferHoldsTheWrittenCoefficients) {
  CoefficientSpec spec;
  spec.width = 37, spec.height = 21, spec.components = 3, spec.luma_h = 2, spec.luma_v = 1;
  Random random{3};
  spec.quant = {random_quant(random, 255), random_quant(random, 65535), random_quant(random, 1000)};
  const BlockFill fill = random_blocks(11, -1023, 1023, 1023);
  const IdctDecode d = planes_by_idct(write_coefficients(spec, fill));
  EXPECT_TRUE(d.exact);
  const JpegCoefficients& k = d.layout;
  for (int c = 0; c < 3; ++c) {
    const auto* quant =
        reinterpret_cast<const uint16_t*>(d.coefficients.data() + k.quant_offset[c]);
    EXPECT_TRUE(std::equal(quant, quant + 64, spec.quant[size_t(c)].begin())) << c;
    EXPECT_EQ(k.blocks_wide[c], c == 0 ? 5 : 3);
    EXPECT_EQ(k.blocks_high[c], 3);
    for (int y = 0; y < k.blocks_high[c]; ++y)
      for (int x = 0; x < k.blocks_wide[c]; ++x) {
        int16_t want[64];
        fill(c, x, y, want);
        const auto* got =
            reinterpret_cast<const int16_t*>(d.coefficients.data() + k.block_offset[c]) +
            (size_t(y) * size_t(k.blocks_wide[c]) + size_t(x)) * 64;
        ASSERT_TRUE(std::equal(got, got + 64, want))
            << "component " << c << " block " << x << "," << y;
      }
  }
}

// Where the SIMD code's 16-bit semantics show (wrapping dequantization and sums, saturating packs):
// random blocks of every kind at the limits each entropy coder takes, with 8-bit and 16-bit
// quantization tables, gray and 4:2:0, sequential and progressive. Exact, like ordinary data.
TEST(JpegIdct, ExtremeCoefficientsEqualLibjpegs) {
  struct Case {
    const char* name;
    bool arithmetic;
    int ac_min, ac_max, dc_max, quant_max;
  };
  const Case cases[] = {
      {"huffman, 8-bit quant", false, -1023, 1023, 1023, 255},
      {"huffman, 16-bit quant", false, -1023, 1023, 1023, 65535},
      {"arithmetic, 8-bit quant", true, -32768, 32767, 16383, 255},
      {"arithmetic, 16-bit quant", true, -32768, 32767, 16383, 65535},
      {"arithmetic, small quant", true, -32768, 32767, 16383, 3},
  };
  uint64_t seed = 1;
  for (const Case& c : cases)
    for (int components : {1, 3})
      for (bool progressive : {false, true}) {
        CoefficientSpec spec;
        spec.width = 331, spec.height = 197, spec.components = components;
        spec.luma_h = 2, spec.luma_v = 2;
        spec.arithmetic = c.arithmetic, spec.progressive = progressive;
        Random random{++seed};
        for (auto& q : spec.quant) q = random_quant(random, c.quant_max);
        ASSERT_EQ(idct_vs_libjpeg(
                      write_coefficients(spec, random_blocks(seed, c.ac_min, c.ac_max, c.dc_max))),
                  "")
            << c.name << ", components " << components << (progressive ? ", progressive" : "");
      }
}

// Hand-made worst cases, one per block of a gray image, under quantizers from 1 (coefficients
// reach the IDCT unchanged) to 65535: every coefficient alone at +-32767 and -32768; DC only, whose
// shortcut shifts in 16 bits (wrapping) where the full pass would saturate; row 0 only (still the
// shortcut); in0 + in4 and in3 + in7 overflowing 16 bits; all at the maximum, all at the minimum,
// and in checkerboards of both.
TEST(JpegIdct, WorstCaseBlocksEqualLibjpegs) {
  std::vector<std::array<int16_t, 64>> blocks;
  auto add = [&](auto&& set) {
    std::array<int16_t, 64> b{};
    set(b);
    blocks.push_back(b);
  };
  // DC stays within [-16384, 16383]: arithmetic coding takes steps between blocks up to 32767.
  for (int k = 0; k < 64; ++k)
    for (int v : {32767, -32768, 1023, -1023, 8191, -8192})
      add([&](auto& b) { b[size_t(k)] = int16_t(k == 0 ? std::clamp(v, -16384, 16383) : v); });
  for (int dc : {16383, -16384, 8192, -8193, 4096, 2048, -2049, 1, -1})
    add([&](auto& b) { b[0] = int16_t(dc); });
  for (int v : {32767, -32768, 20000})
    add([&](auto& b) {
      b[0] = int16_t(v / 2);
      for (int k = 1; k < 8; ++k) b[size_t(k)] = int16_t(k % 2 ? v : -v);
    });
  // Column 0 DC only, but another column not: no shortcut (jidctint.c would take one for column 0).
  add([&](auto& b) { b[0] = 16383, b[1] = 9000, b[9] = 1; });
  add([&](auto& b) { b[0] = 16383, b[32] = 32767; });   // in0 + in4 wraps
  add([&](auto& b) { b[0] = -16384, b[32] = 32767; });  // in0 - in4 wraps
  add([&](auto& b) { b[24] = 32767, b[56] = 32767, b[8] = 32767, b[40] = 32767; });  // z3, z4 wrap
  add([&](auto& b) { b[3] = -32768, b[7] = -32768, b[1] = -32768, b[5] = -32768; });
  add([&](auto& b) { b.fill(32767), b[0] = 16383; });
  add([&](auto& b) { b.fill(-32768), b[0] = -16384; });
  add([&](auto& b) {
    for (int k = 0; k < 64; ++k) b[size_t(k)] = (k / 8 + k % 8) % 2 ? 32767 : -32768;
    b[0] = 0;
  });
  add([&](auto& b) {
    for (int k = 0; k < 64; ++k) b[size_t(k)] = (k / 8 + k % 8) % 2 ? -32768 : 32767;
    b[0] = 0;
  });
  const int per_row = 32, rows = int(blocks.size() + per_row - 1) / per_row;
  for (int quant : {1, 2, 3, 7, 255, 256, 4097, 32767, 32768, 65535}) {
    CoefficientSpec spec;
    spec.width = per_row * 8, spec.height = rows * 8;
    spec.arithmetic = true;
    spec.quant[0] = constant_quant(quant);
    const auto bytes = write_coefficients(spec, [&](int, int x, int y, int16_t* block) {
      const size_t i = size_t(y * per_row + x);
      if (i < blocks.size()) {
        std::copy(blocks[i].begin(), blocks[i].end(), block);
      } else {
        std::fill(block, block + 64, int16_t(0));
      }
    });
    ASSERT_EQ(idct_vs_libjpeg(bytes), "") << "quant " << quant;
  }
}

// A progressive file whose scans never refine the low AC coefficients is decoded by libjpeg with
// those estimated from neighbouring DC values (block smoothing), which no IDCT of the coefficients
// alone gives: read_coefficients says so, and the planes do differ. Complete scripts of any order
// stay exact, and so do those that leave only coefficients 6..9 short (libjpeg-turbo 2.1 smooths
// those only for a component with no AC data at all).
TEST(JpegIdct, UnrefinedProgressiveScansAreNotExact) {
  const Image image = textured_image(64, 48, 1, 7);
  JpegSpec spec;
  spec.in_space = JCS_GRAYSCALE;
  spec.quality = 75;
  spec.progressive = true;
  spec.scans = {{1, {0}, 0, 0, 0, 0}, {1, {0}, 1, 63, 0, 2}};  // AC to 2 bits short, never refined
  const auto unrefined = write_jpeg(image, spec);
  const IdctDecode d = planes_by_idct(unrefined);
  EXPECT_FALSE(d.exact);
  EXPECT_NE(first_difference(d.layout.planes, d.planes, planes_by_libjpeg(unrefined)), "");

  spec.scans = {{1, {0}, 0, 0, 0, 1},
                {1, {0}, 1, 9, 0, 0},
                {1, {0}, 10, 63, 0, 1},
                {1, {0}, 0, 0, 1, 0},
                {1, {0}, 10, 63, 1, 0}};
  EXPECT_EQ(idct_vs_libjpeg(write_jpeg(image, spec)), "");
  spec.scans = {
      {1, {0}, 0, 0, 0, 0}, {1, {0}, 1, 5, 0, 0}, {1, {0}, 6, 9, 0, 2}, {1, {0}, 10, 63, 0, 0}};
  EXPECT_EQ(idct_vs_libjpeg(write_jpeg(image, spec)), "");
  // Colour: only one chroma component's coefficient 3 short, still smoothed. Flat tiles of random
  // colours: their AC is zero, so libjpeg estimates coefficient 3 from the DC values' curvature.
  Image colour(64, 48, 3);
  Random random{8};
  std::vector<uint8_t> tiles(4 * 3 * 3);
  for (auto& v : tiles) v = uint8_t(random.in(0, 255));
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c)
        colour.row(y)[3 * x + c] = tiles[size_t(((y / 16) * 4 + x / 16) * 3 + c)];
  JpegSpec colour_spec;
  colour_spec.progressive = true;
  colour_spec.scans = {{3, {0, 1, 2}, 0, 0, 0, 0}, {1, {0}, 1, 63, 0, 0}, {1, {1}, 1, 63, 0, 0},
                       {1, {2}, 1, 2, 0, 0},       {1, {2}, 3, 3, 0, 1},  {1, {2}, 4, 63, 0, 0}};
  const auto chroma_short = write_jpeg(colour, colour_spec);
  const IdctDecode colour_decode = planes_by_idct(chroma_short);
  EXPECT_FALSE(colour_decode.exact);
  EXPECT_NE(first_difference(colour_decode.layout.planes, colour_decode.planes,
                             planes_by_libjpeg(chroma_short)),
            "");
}

// Damage throws as read()'s does (stage "decode", libjpeg's words); a file the planes cannot hold
// is refused, as read() refuses it.
TEST(JpegIdct, TruncatedAndUnfinishableAreErrors) {
  const auto bytes = write_jpeg(textured_image(64, 48, 3, 5));
  for (size_t n : {size_t(0), size_t(20), bytes.size() / 2, bytes.size() - 2}) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
    const gpuaug::Error e = expect_error([&] {
      JpegPlaneReader reader(cut, kDefaultMaxPixels);
      std::vector<uint8_t> buffer(reader.coefficient_layout().bytes);
      (void)reader.read_coefficients(buffer.data());
    });
    EXPECT_EQ(e.stage(), "decode") << n;
    if (n > 300) {
      EXPECT_EQ(e.cause(), "Premature end of JPEG file") << n;
    }
  }
  JpegSpec rgb_coded;
  rgb_coded.jpeg_space = JCS_RGB;
  JpegPlaneReader reader(write_jpeg(textured_image(16, 16, 3, 3), rgb_coded), kDefaultMaxPixels);
  ASSERT_FALSE(reader.finishable());
  std::vector<uint8_t> buffer(1024);
  EXPECT_NE(expect_error([&] { (void)reader.read_coefficients(buffer.data()); })
                .cause()
                .find("cannot finish"),
            std::string::npos);
}

// The probe stats uses to choose where the IDCT runs: this process's libjpeg-turbo runs its SIMD
// IDCT, which the port follows.
TEST(JpegIdct, ProbeSaysLibjpegRunsThePortedIdct) {
  EXPECT_TRUE(libjpeg_idct_is_ported());
  JpegPlaneReader reader(idct_probe_jpeg(), kDefaultMaxPixels);
  EXPECT_EQ(reader.layout().width, 16);
  EXPECT_EQ(reader.layout().height, 8);
}

// ... and its blocks are ones on which libjpeg's C IDCT differs: without SIMD (JSIMD_FORCENONE=1,
// read at libjpeg-turbo's first decode in a process: hence a threadsafe death test, whose child is
// a fresh process that decodes nothing before the statement) the probe says no.
TEST(JpegIdctDeathTest, ProbeSaysNoForLibjpegsCIdct) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("JSIMD_FORCENONE", "1", 1);
        std::exit(libjpeg_idct_is_ported() ? 1 : 3);
      },
      testing::ExitedWithCode(3), "");
}
