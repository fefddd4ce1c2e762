// Tests for decode_png: every colour type and depth to 8-bit RGB, interlacing, errors.
#include <gtest/gtest.h>

#include "codec/png_decoder.h"
#include "codec_fixtures.h"

using namespace gpuaug::codec;
using namespace codec_test;

namespace {

// What Pillow's convert("RGB") gives for a non-palette PNG, written independently of the
// decoder: high byte of 16-bit samples, sub-byte gray scaled to 0..255, gray replicated,
// alpha dropped.
Image expected_rgb(const PngSpec& spec, const std::vector<uint16_t>& samples) {
  const bool gray = !(spec.color_type & PNG_COLOR_MASK_COLOR);
  const int color = gray ? 1 : 3;
  const int channels = color + ((spec.color_type & PNG_COLOR_MASK_ALPHA) ? 1 : 0);
  Image out(spec.width, spec.height, 3);
  for (int i = 0; i < spec.width * spec.height; ++i) {
    for (int c = 0; c < 3; ++c) {
      const int v = samples[size_t(i) * channels + (gray ? 0 : c)];
      out.pixels[3 * size_t(i) + c] =
          uint8_t(spec.bit_depth == 16  ? v >> 8
                  : spec.bit_depth == 8 ? v
                                        : v * 255 / ((1 << spec.bit_depth) - 1));
    }
  }
  return out;
}

}  // namespace

TEST(DecodePng, ColourTypesAndDepths) {
  struct Case {
    int color_type, bit_depth, channels;
  };
  const Case cases[] = {
      {PNG_COLOR_TYPE_RGB, 8, 3},         {PNG_COLOR_TYPE_RGB, 16, 3},
      {PNG_COLOR_TYPE_GRAY, 8, 1},        {PNG_COLOR_TYPE_GRAY, 16, 1},
      {PNG_COLOR_TYPE_GRAY, 1, 1},        {PNG_COLOR_TYPE_GRAY, 2, 1},
      {PNG_COLOR_TYPE_GRAY, 4, 1},        {PNG_COLOR_TYPE_GRAY_ALPHA, 8, 2},
      {PNG_COLOR_TYPE_GRAY_ALPHA, 16, 2}, {PNG_COLOR_TYPE_RGB_ALPHA, 8, 4},
      {PNG_COLOR_TYPE_RGB_ALPHA, 16, 4},
  };
  for (auto [w, h] : {std::pair{1, 1}, {17, 19}, {8, 3}}) {
    for (const Case& c : cases) {
      for (bool interlaced : {false, true}) {
        const PngSpec spec{w, h, c.bit_depth, c.color_type, interlaced, {}, {}};
        const auto samples = make_samples(size_t(w) * h * c.channels, c.bit_depth);
        const Image out = decode_png(write_png(spec, samples), kDefaultMaxPixels);
        EXPECT_EQ(out.channels, 3);
        EXPECT_EQ(out.pixels, expected_rgb(spec, samples).pixels)
            << w << "x" << h << " colour type " << c.color_type << " depth " << c.bit_depth
            << (interlaced ? " interlaced" : "");
      }
    }
  }
}

TEST(DecodePng, PaletteExpandsAndIgnoresTrns) {
  for (int depth : {8, 4, 2, 1}) {
    const int entries = 1 << depth;
    PngSpec spec{17, 19, depth, PNG_COLOR_TYPE_PALETTE, depth == 4, {}, {}};
    for (int i = 0; i < entries; ++i) {
      spec.palette.push_back(png_color{uint8_t(i * 7), uint8_t(255 - i), uint8_t(i * 13 + 5)});
    }
    spec.trns.assign(size_t(entries), 0);  // fully transparent: must not change the colours
    const auto indices = make_samples(17 * 19, depth);
    const Image out = decode_png(write_png(spec, indices), kDefaultMaxPixels);
    ASSERT_EQ(out.pixels.size(), indices.size() * 3);
    for (size_t i = 0; i < indices.size(); ++i) {
      const png_color& p = spec.palette[indices[i]];
      ASSERT_EQ(out.pixels[3 * i], p.red) << depth;
      ASSERT_EQ(out.pixels[3 * i + 1], p.green);
      ASSERT_EQ(out.pixels[3 * i + 2], p.blue);
    }
  }
}

TEST(DecodePngErrors, Truncated) {
  const PngSpec spec{40, 30, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  const auto bytes = write_png(spec, make_samples(40 * 30 * 3, 8));
  for (size_t n :
       {size_t(1), size_t(8), size_t(30), bytes.size() / 2, bytes.size() - 13, bytes.size() - 1}) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
    const gpuaug::Error e = expect_error([&] { decode_png(cut, kDefaultMaxPixels); });
    EXPECT_EQ(e.stage(), "decode");
    EXPECT_EQ(e.cause(), "truncated PNG data") << "cut at " << n;
  }
}

TEST(DecodePngErrors, CorruptedCrc) {
  const PngSpec spec{16, 16, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  const auto good = write_png(spec, make_samples(16 * 16 * 3, 8));
  for (const char* chunk : {"IHDR", "IDAT"}) {
    auto bytes = good;
    const size_t at = find_chunk(bytes, chunk);
    ASSERT_NE(at, 0u);
    const size_t length = size_t(bytes[at + 2]) << 8 | bytes[at + 3];
    bytes[at + 8 + length] ^= 0x01;  // first CRC byte
    const gpuaug::Error e = expect_error([&] { decode_png(bytes, kDefaultMaxPixels); });
    EXPECT_EQ(std::string(e.what()), std::string("decode: ") + chunk + ": CRC error");
  }
}

TEST(DecodePngErrors, CorruptedPixelData) {
  const PngSpec spec{16, 16, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  const auto good = write_png(spec, make_samples(16 * 16 * 3, 8));
  const size_t at = find_chunk(good, "IDAT");
  auto bytes = good;
  fix_chunk_crc(bytes, at);
  ASSERT_EQ(bytes, good);  // the CRC helper agrees with libpng
  // A valid CRC over a broken zlib stream: zlib's complaint reaches the cause.
  bytes[at + 8] ^= 0xFF;  // zlib header byte
  fix_chunk_crc(bytes, at);
  const gpuaug::Error e = expect_error([&] { decode_png(bytes, kDefaultMaxPixels); });
  EXPECT_EQ(e.stage(), "decode");
  EXPECT_EQ(e.cause().rfind("IDAT: ", 0), 0u) << e.cause();  // zlib's text varies by version
}

// Found by tests/fuzz/fuzz_png (regressions/fuzz_png/exif_chunk_claims_1GiB): libpng sized a
// buffer from an ancillary chunk's claimed length before reading it, so 44 bytes asked malloc
// for 1 GiB. Ancillary chunks but tRNS are now skipped unread: such a file is plainly
// truncated, and well-formed ones (with a bad CRC, or garbage zTXt/iCCP/eXIf payloads) decode
// as if they were absent. (The allocation itself is what the replay under libFuzzer's
// -malloc_limit_mb catches; an exception here looks the same either way.)
TEST(DecodePngErrors, AncillaryChunksAreSkippedUnread) {
  const PngSpec spec{7, 5, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  const auto plain = write_png(spec, make_samples(7 * 5 * 3, 8));
  const Image expected = decode_png(plain, kDefaultMaxPixels);
  const size_t idat = find_chunk(plain, "IDAT");
  auto with_chunk = [&](const char* type, std::vector<uint8_t> payload, uint32_t claimed,
                        bool good_crc) {
    std::vector<uint8_t> chunk = {uint8_t(claimed >> 24), uint8_t(claimed >> 16),
                                  uint8_t(claimed >> 8), uint8_t(claimed)};
    chunk.insert(chunk.end(), type, type + 4);
    chunk.insert(chunk.end(), payload.begin(), payload.end());
    chunk.insert(chunk.end(), 4, 0);
    std::vector<uint8_t> png(plain.begin(), plain.begin() + long(idat));
    png.insert(png.end(), chunk.begin(), chunk.end());
    if (good_crc && claimed == payload.size()) fix_chunk_crc(png, idat);
    png.insert(png.end(), plain.begin() + long(idat), plain.end());
    return png;
  };
  const std::vector<uint8_t> junk = {0x78, 0x9C, 0xFF, 0x00, 0x13, 0x37, 0x42};
  for (const char* type : {"eXIf", "zTXt", "iCCP", "tEXt", "iTXt", "sPLT", "gAMA", "prVt"}) {
    SCOPED_TRACE(type);
    for (bool good_crc : {true, false}) {
      const Image got = decode_png(with_chunk(type, junk, uint32_t(junk.size()), good_crc),
                                   kDefaultMaxPixels);
      EXPECT_EQ(got.pixels, expected.pixels);
    }
    const gpuaug::Error e = expect_error(
        [&] { decode_png(with_chunk(type, {}, 0x40000000u, false), kDefaultMaxPixels); });
    EXPECT_EQ(std::string(e.what()), "decode: truncated PNG data");
  }
}

TEST(DecodePngErrors, MaxPixelsAndNotAPng) {
  const PngSpec spec{20, 10, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  const auto bytes = write_png(spec, make_samples(600, 8));
  EXPECT_EQ(expect_error([&] { decode_png(bytes, 199); }).cause(),
            "image is 20x10 = 200 pixels, above max_pixels 199");
  const auto jpeg = write_jpeg(make_pattern(4, 4, 3));
  const gpuaug::Error e = expect_error([&] { decode_png(jpeg, kDefaultMaxPixels); });
  EXPECT_EQ(e.stage(), "decode");
  EXPECT_EQ(e.cause(), "Not a PNG file");
  EXPECT_EQ(expect_error([] { decode_png({}, kDefaultMaxPixels); }).cause(), "empty file");
}
