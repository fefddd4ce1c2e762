// Tests for the chunked Huffman decoder (codec/jpeg_huffman.h) and JpegPlaneReader::read_entropy:
// its blocks against libjpeg's own (read_coefficients) for encoded images and written-in
// coefficients, what it declines, and damaged files, where it must decline whatever libjpeg
// rejects and otherwise give libjpeg's blocks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/jpeg_decoder.h"
#include "codec/jpeg_huffman.h"
#include "codec_fixtures.h"
#include "coefficient_fixtures.h"
#include "core/error.h"

using namespace gpuaug::codec;
using namespace codec_test;

namespace {

// libjpeg's blocks (and quantization tables) of the file, in JpegCoefficients' layout.
std::vector<uint8_t> blocks_by_libjpeg(const std::vector<uint8_t>& bytes) {
  JpegPlaneReader reader(bytes, kDefaultMaxPixels);
  std::vector<uint8_t> out(reader.coefficient_layout().bytes, 0);
  EXPECT_TRUE(reader.read_coefficients(out.data()));
  return out;
}

struct ChunkedDecode {
  bool taken = false;     // read_entropy laid it out
  bool accepted = false;  // decode_scan_chunked did not decline it
  uint32_t resolved = 0;  // chunks the sync passes left out of step
  uint32_t chunks = 0;
  std::vector<uint8_t> blocks;
};

ChunkedDecode blocks_by_chunks(const std::vector<uint8_t>& bytes) {
  JpegPlaneReader reader(bytes, kDefaultMaxPixels);
  ChunkedDecode d;
  std::vector<uint8_t> buffer(reader.entropy_bytes_bound(), 0xA5);
  const std::optional<JpegScan> scan = reader.read_entropy(buffer.data());
  if (!scan) return d;
  d.taken = true;
  EXPECT_LE(scan->bytes, buffer.size());
  EXPECT_EQ(scan->layout.bytes, reader.coefficient_layout().bytes);
  d.chunks = scan->chunks();
  d.blocks.assign(scan->layout.bytes, 0);
  d.accepted = decode_scan_chunked(*scan, buffer.data(), d.blocks.data(), &d.resolved);
  return d;
}

// "" where the chunked decoder takes the file and gives libjpeg's blocks.
std::string chunks_vs_libjpeg(const std::vector<uint8_t>& bytes) {
  const ChunkedDecode d = blocks_by_chunks(bytes);
  if (!d.taken) return "read_entropy declined";
  if (!d.accepted) return "decode_scan_chunked declined";
  const std::vector<uint8_t> want = blocks_by_libjpeg(bytes);
  if (d.blocks.size() != want.size()) return "sizes differ";
  for (size_t i = 0; i < want.size(); ++i)
    if (d.blocks[i] != want[i]) return "first difference at byte " + std::to_string(i) + " of " + std::to_string(want.size());
  return "";
}

}  // namespace

// Oracle: libjpeg-turbo's blocks of the same file (jpeg_read_coefficients). Tolerance: exact,
// over the whole buffer, for gray, 4:4:4, 4:2:2 and 4:2:0; qualities 5 to 100; sizes from 1x1
// (one chunk, mostly padding blocks) to 1600x1200 (hundreds of chunks); standard and optimized
// Huffman tables.
TEST(JpegHuffman, BlocksEqualLibjpegsForEncodedImages) {
  struct Case {
    int width, height, channels, luma_h, luma_v;
  };
  const Case cases[] = {{1, 1, 3, 2, 2},     {8, 8, 1, 0, 0},     {17, 19, 3, 2, 2},  {33, 7, 3, 2, 1},
                        {500, 375, 3, 2, 2}, {500, 375, 3, 1, 1}, {375, 500, 3, 2, 1}, {640, 480, 1, 0, 0},
                        {1600, 1200, 3, 2, 2}};
  for (const Case& c : cases)
    for (int quality : {5, 50, 90, 100})
      for (bool optimize : {false, true}) {
        JpegSpec spec;
        spec.quality = quality, spec.optimize = optimize;
        if (c.channels == 1) spec.in_space = JCS_GRAYSCALE;
        if (c.channels == 3) spec.luma_h = c.luma_h, spec.luma_v = c.luma_v;
        const auto bytes = write_jpeg(textured_image(c.width, c.height, c.channels, uint32_t(quality)), spec);
        EXPECT_EQ(chunks_vs_libjpeg(bytes), "")
            << c.width << "x" << c.height << "x" << c.channels << " " << c.luma_h << "x" << c.luma_v << " q" << quality
            << (optimize ? " optimized" : "");
      }
}

// Pass 3 is sequential: the sync passes must leave it little. Where the guesses fall into step
// depends on the data: at most 1% of the chunks of these gradient-and-texture images (the
// benchmark's photos: 2 of 31,386 chunks, measured); noise at quality 100, where blocks rarely end
// early, leaves most chunks to pass 3 (still libjpeg's blocks, above, only slower).
TEST(JpegHuffman, SyncPassesLeaveLittleToResolve) {
  uint32_t resolved = 0, chunks = 0;
  for (const auto& [width, height] : {std::pair{500, 375}, {1600, 1200}})
    for (int quality : {75, 90})
      for (bool optimize : {false, true}) {
        JpegSpec spec;
        spec.quality = quality, spec.optimize = optimize;
        const ChunkedDecode d = blocks_by_chunks(write_jpeg(make_pattern(width, height, 3, uint32_t(quality)), spec));
        ASSERT_TRUE(d.accepted);
        resolved += d.resolved, chunks += d.chunks;
      }
  EXPECT_GT(chunks, 200u);
  EXPECT_LE(resolved * 100, chunks) << resolved << " of " << chunks << " chunks left to pass 3";
}

// Coefficients no encoder's DCT gives (ACs at Huffman's limit of 1023, DC steps up to 2046),
// through jpeg_write_coefficients' optimized tables, and an image large enough for many chunks.
TEST(JpegHuffman, ExtremeCoefficientsEqualLibjpegs) {
  for (const auto& [components, luma_h, luma_v] : {std::tuple{1, 1, 1}, {3, 2, 2}, {3, 2, 1}, {3, 1, 1}})
    for (uint64_t seed : {1u, 2u, 3u}) {
      CoefficientSpec spec;
      spec.width = 203, spec.height = 157, spec.components = components, spec.luma_h = luma_h, spec.luma_v = luma_v;
      for (auto& q : spec.quant) q = constant_quant(1);
      const auto bytes = write_coefficients(spec, random_blocks(seed, -1023, 1023, 1023));
      EXPECT_EQ(chunks_vs_libjpeg(bytes), "") << components << " components " << luma_h << "x" << luma_v;
    }
  EXPECT_EQ(chunks_vs_libjpeg(std::vector<uint8_t>(idct_probe_jpeg().begin(), idct_probe_jpeg().end())), "");
}

// Over 300 chunks of noise, some of them left out of step until the sequential pass.
TEST(JpegHuffman, LargeImageOfManyChunksEqualsLibjpegs) {
  const auto bytes = write_jpeg(textured_image(1600, 1200, 3, 7), {});
  const ChunkedDecode d = blocks_by_chunks(bytes);
  ASSERT_TRUE(d.accepted);
  EXPECT_GT(d.chunks, 300u);
  EXPECT_EQ(chunks_vs_libjpeg(bytes), "");
}

// What the chunked decoder leaves to libjpeg: read_entropy says nullopt.
TEST(JpegHuffman, DeclinesWhatItDoesNotDecode) {
  const Image image = textured_image(64, 48, 3, 1);
  JpegSpec progressive, arithmetic, restarts;
  progressive.progressive = true, arithmetic.arithmetic = true, restarts.restart_rows = true;
  for (const JpegSpec& spec : {progressive, arithmetic, restarts}) EXPECT_FALSE(blocks_by_chunks(write_jpeg(image, spec)).taken);
  // A scan not ended by EOI: truncated.
  auto truncated = write_jpeg(image, {});
  truncated.resize(truncated.size() - 40);
  EXPECT_FALSE(blocks_by_chunks(truncated).taken);
  EXPECT_TRUE(blocks_by_chunks(write_jpeg(image, {})).taken);
  // Table numbers past libjpeg's 4, which it reads without a word and rejects when it uses them
  // (found by fuzz_jpeg): the first component's quantization table (SOF0) and DC table (SOS).
  const auto good = write_jpeg(image, {});
  auto marker = [&](uint8_t code) {
    for (size_t i = 0; i + 1 < good.size(); ++i)
      if (good[i] == 0xFF && good[i + 1] == code) return i;
    return size_t(0);
  };
  auto bad_quant = good, bad_dc = good;
  bad_quant[marker(0xC0) + 12] = 5;
  bad_dc[marker(0xDA) + 6] = 0x50;
  // Fill bytes before a stuffed zero (found by a review): libjpeg-turbo's fast path, which runs
  // while 512 bytes an MCU block remain, takes 0xFF 0xFF for a marker and decodes the MCU twice,
  // silently, into other blocks than its slow path's.
  const auto gray = [&] {
    JpegSpec spec;
    spec.in_space = JCS_GRAYSCALE;
    return write_jpeg(textured_image(128, 128, 1, 5), spec);
  }();
  const size_t scan = [&] {
    for (size_t i = gray.size() - 3; i > 0; --i)
      if (gray[i] == 0xFF && gray[i + 1] == 0xDA) return i;
    return size_t(0);
  }();
  size_t stuffed = scan + 4;
  while (stuffed + 1 < gray.size() && !(gray[stuffed] == 0xFF && gray[stuffed + 1] == 0x00)) ++stuffed;
  ASSERT_LT(stuffed + 600, gray.size()) << "no stuffed byte early in the scan";
  auto filled = gray;
  filled.insert(filled.begin() + ptrdiff_t(stuffed), uint8_t(0xFF));
  EXPECT_FALSE(blocks_by_chunks(filled).taken);
  // A header announcing more blocks than its data could hold (2 bits each at least): 64x48 claimed
  // as 65280x48 (73,440 blocks).
  auto wide = good;
  const size_t sof = marker(0xC0);
  wide[sof + 7] = 0xFF, wide[sof + 8] = 0x00;
  EXPECT_FALSE(blocks_by_chunks(wide).taken);
  for (const auto& bytes : {bad_quant, bad_dc}) {
    EXPECT_FALSE(blocks_by_chunks(bytes).taken);
    JpegPlaneReader reader(bytes, kDefaultMaxPixels);
    std::vector<uint8_t> blocks(reader.coefficient_layout().bytes);
    EXPECT_THROW((void)reader.read_coefficients(blocks.data()), gpuaug::Error);
  }
}

// Fill bytes (0xFF) before EOI are not data (jdhuff.c skips them before a marker), nor are the
// bytes after EOI; libjpeg decodes both files without a word.
TEST(JpegHuffman, FillBytesAndTrailingBytesAreNotData) {
  const auto good = write_jpeg(textured_image(64, 48, 3, 2), {});
  auto filled = good;
  filled.insert(filled.end() - 2, {0xFF, 0xFF, 0xFF});
  EXPECT_EQ(chunks_vs_libjpeg(filled), "");
  auto trailing = good;
  trailing.insert(trailing.end(), {0x12, 0x34, 0xFF, 0x00});
  EXPECT_EQ(chunks_vs_libjpeg(trailing), "");
}

// libjpeg's checks of a DHT (jpeg_make_d_derived_tbl).
TEST(JpegHuffman, DeriveRejectsWhatLibjpegRejects) {
  uint8_t bits[17] = {}, values[256] = {};
  JpegHuffmanTable t;
  bits[1] = 2;  // codes 0 and 1: 1 is all ones
  EXPECT_FALSE(derive_huffman_table(bits, values, false, t));
  bits[1] = 1, bits[2] = 1;  // 0, 10
  EXPECT_TRUE(derive_huffman_table(bits, values, false, t));
  uint8_t many[17] = {};
  many[16] = 255, many[15] = 2;  // 257 codes
  EXPECT_FALSE(derive_huffman_table(many, values, false, t));
  values[1] = 16;
  EXPECT_FALSE(derive_huffman_table(bits, values, true, t));  // a DC size above 15
  EXPECT_TRUE(derive_huffman_table(bits, values, false, t));
  // The lookup and the slow path decode alike: code "10" is value 16 at length 2.
  int length = 0, value = 0;
  huffman_detail::decode_symbol(t, 0x80000000u, length, value);
  EXPECT_EQ(length, 2);
  EXPECT_EQ(value, 16);
  huffman_detail::decode_symbol(t, 0xC0000000u, length, value);  // "11": no code
  EXPECT_EQ(length, 0);
}

// Damaged data: bits flipped and bytes cut inside the scan (EOI kept). Whatever libjpeg rejects
// (a bad code, data missing or left over, all warnings for it) the chunked decoder declines;
// what it accepts is libjpeg's, bit for bit.
TEST(JpegHuffman, DamagedScansAreDeclinedOrEqualLibjpegs) {
  const auto good = write_jpeg(textured_image(160, 120, 3, 3), {});
  int accepted = 0, libjpeg_ok = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const std::vector<uint8_t> bytes = damaged_scan(good, uint64_t(trial), trial);
    std::vector<uint8_t> want;
    bool ok = true;
    try {
      JpegPlaneReader reader(bytes, kDefaultMaxPixels);
      want.assign(reader.coefficient_layout().bytes, 0);
      (void)reader.read_coefficients(want.data());
    } catch (const gpuaug::Error&) {
      ok = false;
    }
    libjpeg_ok += ok;
    const ChunkedDecode d = blocks_by_chunks(bytes);
    if (!d.taken || !d.accepted) continue;
    ++accepted;
    EXPECT_TRUE(ok) << "trial " << trial << ": accepted what libjpeg rejects";
    EXPECT_TRUE(d.blocks == want) << "trial " << trial << ": blocks differ from libjpeg's";
  }
  // Most damage shows; some flips give other valid codes, which both decode alike.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(libjpeg_ok, 400);
  EXPECT_EQ(accepted, libjpeg_ok) << "declined files libjpeg decodes";
}
