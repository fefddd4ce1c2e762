// Tests for encode_png and encode_jpeg: round trips through the decoders, determinism, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "codec/encoder.h"
#include "codec/image_info.h"
#include "codec/jpeg_decoder.h"
#include "codec/png_decoder.h"
#include "codec_fixtures.h"

using namespace gpuaug::codec;
using namespace codec_test;

TEST(EncodePng, RoundTripIsExact) {
  for (auto [w, h] : {std::pair{1, 1}, {17, 19}, {64, 3}}) {
    for (int c : {1, 3, 4}) {
      const Image src = make_pattern(w, h, c);
      const auto bytes = encode_png(src);
      const ImageInfo info = peek_image(bytes);
      EXPECT_EQ(info.format, ImageFormat::kPng);
      EXPECT_EQ(info.channels, c);
      EXPECT_EQ(info.width, w);
      EXPECT_EQ(info.height, h);
      // The decoder gives RGB; compare against the source's colour channels.
      Image want = c == 1 ? gray_to_rgb(src) : Image(w, h, 3);
      if (c != 1) {
        for (int i = 0; i < w * h; ++i)
          for (int k = 0; k < 3; ++k) want.pixels[3 * i + k] = src.pixels[size_t(i) * c + k];
      }
      EXPECT_EQ(decode_png(bytes, kDefaultMaxPixels).pixels, want.pixels)
          << w << "x" << h << "x" << c;
      EXPECT_EQ(encode_png(src), bytes);  // deterministic
    }
  }
}

// Quality 95 round trip of the gradient-plus-texture pattern, measured with libjpeg-turbo
// 2.1.5: RGB (4:2:0, the texture's chroma is averaged away) max 16, mean 3.6; gray max 9,
// mean 1.5. The bounds allow half as much again for other builds.
TEST(EncodeJpeg, RoundTripWithinTolerance) {
  for (auto [w, h] : {std::pair{1, 1}, {17, 19}, {64, 48}}) {
    for (int c : {1, 3}) {
      const Image src = make_pattern(w, h, c);
      const auto bytes = encode_jpeg(src, 95);
      const ImageInfo info = peek_image(bytes);
      EXPECT_EQ(info.channels, c);
      EXPECT_FALSE(info.progressive);
      const Image out = decode_jpeg(bytes, 1, {}, kDefaultMaxPixels).image;
      const Image want = c == 1 ? gray_to_rgb(src) : src;
      ASSERT_EQ(out.pixels.size(), want.pixels.size());
      double sum = 0;
      for (size_t i = 0; i < out.pixels.size(); ++i)
        sum += std::abs(out.pixels[i] - want.pixels[i]);
      EXPECT_LE(max_abs_diff(out, want), c == 1 ? 14 : 24) << w << "x" << h << "x" << c;
      EXPECT_LE(sum / double(out.pixels.size()), c == 1 ? 2.25 : 5.4) << w << "x" << h << "x" << c;
      EXPECT_EQ(encode_jpeg(src, 95), bytes);  // deterministic
    }
  }
}

TEST(EncodeJpeg, FlatColourSurvivesAlmostExactly) {
  Image flat(24, 16, 3);
  for (size_t i = 0; i < flat.pixels.size(); i += 3) {
    flat.pixels[i] = 200, flat.pixels[i + 1] = 30, flat.pixels[i + 2] = 90;
  }
  EXPECT_LE(max_abs_diff(decode_jpeg(encode_jpeg(flat, 90), 1, {}, kDefaultMaxPixels).image, flat),
            2);
}

TEST(EncodeJpeg, QualityChangesSize) {
  const Image src = make_pattern(64, 64, 3);
  EXPECT_LT(encode_jpeg(src, 20).size(), encode_jpeg(src, 95).size());
}

TEST(EncodeErrors, UnsupportedInputs) {
  auto cause = [](auto&& f) {
    const gpuaug::Error e = expect_error(f);
    EXPECT_EQ(e.stage(), "encode");
    return e.cause();
  };
  EXPECT_EQ(cause([] { encode_png(make_pattern(4, 4, 2)); }),
            "cannot encode 2 channels (supported: 1, 3, 4)");
  EXPECT_EQ(cause([] { encode_jpeg(make_pattern(4, 4, 4), 90); }),
            "cannot encode 4 channels (supported: 1, 3)");
  EXPECT_EQ(cause([] { encode_png(Image(0, 5, 3)); }), "cannot encode an empty 0x5 image");
  EXPECT_EQ(cause([] { encode_jpeg(make_pattern(4, 4, 3), 0); }), "quality must be 1..100 (got 0)");
  EXPECT_EQ(cause([] { encode_jpeg(make_pattern(4, 4, 3), 101); }),
            "quality must be 1..100 (got 101)");
  Image short_buffer = make_pattern(4, 4, 3);
  short_buffer.pixels.pop_back();
  EXPECT_EQ(cause([&] { encode_png(short_buffer); }),
            "pixel buffer size does not match width x height x channels");
  // A JPEG wider than libjpeg's 65500 limit: libjpeg's own message comes through.
  EXPECT_NE(
      cause([] { encode_jpeg(Image(70000, 1, 1), 90); }).find("Maximum supported image dimension"),
      std::string::npos);
}

// RowEncoder: the rows given a few at a time make the bytes of the whole-image encoders, handed
// out in pieces as they are made (a large image's file is never whole in memory).
TEST(RowEncoder, RowsInChunksMakeTheWholeImagesBytes) {
  const Image src = make_pattern(900, 700, 3);
  for (const auto format : {RowEncoder::Format::kPng, RowEncoder::Format::kJpeg}) {
    const std::vector<uint8_t> whole =
        format == RowEncoder::Format::kPng ? encode_png(src) : encode_jpeg(src, 95);
    for (int chunk : {1, 7, 700}) {
      std::vector<uint8_t> out;
      size_t pieces = 0, largest_piece = 0;
      RowEncoder encoder(format, src.width, src.height, 3, 95, [&](const uint8_t* d, size_t n) {
        out.insert(out.end(), d, d + n);
        ++pieces, largest_piece = std::max(largest_piece, n);
      });
      for (int y = 0; y < src.height; y += chunk) {
        const int count = std::min(chunk, src.height - y);
        std::vector<const uint8_t*> rows;
        for (int i = 0; i < count; ++i) rows.push_back(src.row(y + i));
        encoder.write(rows.data(), count);
      }
      EXPECT_EQ(encoder.rows_written(), src.height);
      encoder.finish();
      EXPECT_EQ(out, whole) << "chunk " << chunk;
      EXPECT_GT(pieces, 2u);
      EXPECT_LE(largest_piece, size_t(64 * 1024));
      EXPECT_LT(largest_piece, whole.size() / 2);
    }
  }
}

// What the sink throws comes out of write or finish as it was (the encoder stops cleanly, no
// exception crosses libpng's or libjpeg's frames); rows beyond the height and a short file are
// refused.
TEST(RowEncoder, SinkFailuresAndMiscountedRowsAreErrors) {
  struct DiskFull : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  const Image src = make_pattern(900, 700, 3);
  std::vector<const uint8_t*> rows;
  for (int y = 0; y < src.height; ++y) rows.push_back(src.row(y));
  for (const auto format : {RowEncoder::Format::kPng, RowEncoder::Format::kJpeg}) {
    // The sink fails once the rows have started (the header is written by the constructor):
    // in write, after which the encoder refuses more; and, with a few rows only, in finish.
    size_t calls = 0, fail_at = 0;
    auto failing = [&](const uint8_t*, size_t) {
      if (++calls == fail_at) throw DiskFull("disk full");
    };
    {
      fail_at = 1000000;
      RowEncoder encoder(format, src.width, src.height, 3, 95, failing);
      fail_at = calls + 1;
      EXPECT_THROW(encoder.write(rows.data(), src.height), DiskFull);
      EXPECT_EQ(expect_error([&] { encoder.write(rows.data(), 1); }).cause(),
                "internal: the encoder has stopped");
      EXPECT_EQ(expect_error([&] { encoder.finish(); }).cause(),
                "internal: the encoder has stopped");
    }
    {
      calls = 0, fail_at = 1000000;
      RowEncoder encoder(format, src.width, 2, 3, 95, failing);
      encoder.write(rows.data(), 2);
      fail_at = calls + 1;
      EXPECT_THROW(encoder.finish(), DiskFull);
      EXPECT_THROW(encoder.finish(), gpuaug::Error);  // not a second, silent success
    }
    RowEncoder encoder(format, 4, 4, 3, 95, [](const uint8_t*, size_t) {});
    const Image small = make_pattern(4, 4, 3);
    std::vector<const uint8_t*> five(5, small.row(0));
    EXPECT_EQ(expect_error([&] { encoder.write(five.data(), 5); }).cause(),
              "internal: 5 rows written of 4");
    encoder.write(five.data(), 3);
    EXPECT_EQ(expect_error([&] { encoder.finish(); }).cause(),
              "internal: the file ended after 3 rows of 4");
  }
}
