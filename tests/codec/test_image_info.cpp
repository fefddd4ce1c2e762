// Tests for peek_image: JPEG and PNG header fields, format detection, header errors.
#include <gtest/gtest.h>

#include "codec/image_info.h"
#include "codec_fixtures.h"

using namespace gpuaug::codec;
using namespace codec_test;

TEST(PeekJpeg, BaselineRgb) {
  const auto bytes = write_jpeg(make_pattern(17, 19, 3));
  const ImageInfo info = peek_image(bytes);
  EXPECT_EQ(info.format, ImageFormat::kJpeg);
  EXPECT_EQ(info.width, 17);
  EXPECT_EQ(info.height, 19);
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(info.orientation, 1);
  EXPECT_FALSE(info.progressive);
  EXPECT_EQ(info.bit_depth, 8);
  EXPECT_EQ(info.oriented_width(), 17);
  EXPECT_EQ(info.oriented_height(), 19);
}

TEST(PeekJpeg, Progressive) {
  JpegSpec spec;
  spec.progressive = true;
  const ImageInfo info = peek_image(write_jpeg(make_pattern(40, 30, 3), spec));
  EXPECT_TRUE(info.progressive);
  EXPECT_EQ(info.width, 40);
  EXPECT_EQ(info.height, 30);
}

TEST(PeekJpeg, ArithmeticCountsAsNonBaseline) {
  JpegSpec spec;
  spec.arithmetic = true;
  const ImageInfo info = peek_image(write_jpeg(make_pattern(16, 16, 3), spec));
  EXPECT_TRUE(info.progressive);
}

TEST(PeekJpeg, Gray) {
  JpegSpec spec;
  spec.in_space = JCS_GRAYSCALE;
  const ImageInfo info = peek_image(write_jpeg(make_pattern(1, 1, 1), spec));
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.width, 1);
  EXPECT_EQ(info.height, 1);
}

TEST(PeekJpeg, Cmyk) {
  JpegSpec spec;
  spec.in_space = JCS_CMYK;
  const ImageInfo info = peek_image(write_jpeg(make_pattern(9, 5, 4), spec));
  EXPECT_EQ(info.channels, 4);
  EXPECT_EQ(info.width, 9);
  EXPECT_EQ(info.height, 5);
}

TEST(PeekJpeg, OrientationFromExifBothByteOrders) {
  for (bool big_endian : {false, true}) {
    for (int o = 1; o <= 8; ++o) {
      JpegSpec spec;
      spec.app1 = {make_exif(big_endian, uint32_t(o))};
      const ImageInfo info = peek_image(write_jpeg(make_pattern(12, 7, 3), spec));
      EXPECT_EQ(info.orientation, o) << "big_endian " << big_endian;
      EXPECT_EQ(info.oriented_width(), o >= 5 ? 7 : 12);
      EXPECT_EQ(info.oriented_height(), o >= 5 ? 12 : 7);
    }
  }
}

TEST(PeekJpeg, XmpBeforeExifIsSkippedAndFirstExifWins) {
  JpegSpec spec;
  spec.app1 = {make_xmp(), make_exif(false, 6), make_exif(false, 3)};
  EXPECT_EQ(peek_image(write_jpeg(make_pattern(8, 8, 3), spec)).orientation, 6);
  spec.app1 = {make_xmp()};
  EXPECT_EQ(peek_image(write_jpeg(make_pattern(8, 8, 3), spec)).orientation, 1);
}

TEST(PeekPng, ColourTypesDepthsInterlace) {
  struct Case {
    int color_type, bit_depth;
    bool interlaced;
    int channels;
  };
  const Case cases[] = {
      {PNG_COLOR_TYPE_RGB, 8, false, 3},       {PNG_COLOR_TYPE_RGB, 16, false, 3},
      {PNG_COLOR_TYPE_GRAY, 8, false, 1},      {PNG_COLOR_TYPE_GRAY, 16, false, 1},
      {PNG_COLOR_TYPE_GRAY, 1, false, 1},      {PNG_COLOR_TYPE_GRAY_ALPHA, 8, false, 2},
      {PNG_COLOR_TYPE_PALETTE, 8, false, 3},   {PNG_COLOR_TYPE_PALETTE, 4, false, 3},
      {PNG_COLOR_TYPE_RGB_ALPHA, 8, false, 4}, {PNG_COLOR_TYPE_RGB_ALPHA, 16, true, 4},
      {PNG_COLOR_TYPE_RGB, 8, true, 3},
  };
  for (const Case& c : cases) {
    PngSpec spec{17, 19, c.bit_depth, c.color_type, c.interlaced, {}, {}};
    if (c.color_type == PNG_COLOR_TYPE_PALETTE) spec.palette.assign(16, png_color{1, 2, 3});
    const int file_channels = c.color_type == PNG_COLOR_TYPE_PALETTE ? 1 : c.channels;
    const int sample_depth = c.color_type == PNG_COLOR_TYPE_PALETTE ? 4 : c.bit_depth;
    const auto bytes = write_png(spec, make_samples(17 * 19 * file_channels, sample_depth));
    const ImageInfo info = peek_image(bytes);
    SCOPED_TRACE("colour type " + std::to_string(c.color_type) + ", depth " +
                 std::to_string(c.bit_depth));
    EXPECT_EQ(info.format, ImageFormat::kPng);
    EXPECT_EQ(info.width, 17);
    EXPECT_EQ(info.height, 19);
    EXPECT_EQ(info.channels, c.channels);
    EXPECT_EQ(info.bit_depth, c.bit_depth);
    EXPECT_EQ(info.progressive, c.interlaced);
    EXPECT_EQ(info.orientation, 1);
  }
}

TEST(PeekPng, OrientationFromAnExifChunkBeforeIdat) {
  for (bool big_endian : {false, true}) {
    for (int o = 1; o <= 8; ++o) {
      const ImageInfo info = peek_image(oriented_png(12, 7, o, big_endian));
      EXPECT_EQ(info.orientation, o) << "big_endian " << big_endian;
      EXPECT_EQ(info.oriented_width(), o >= 5 ? 7 : 12);
      EXPECT_EQ(info.oriented_height(), o >= 5 ? 12 : 7);
    }
  }
}

TEST(PeekPng, ExifChunksThatDoNotCount) {
  const PngSpec spec{12, 7, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  const auto plain = write_png(spec, make_samples(12 * 7 * 3, 8));
  const auto tiff = make_tiff_exif(false, 6);
  // After IDAT: libpng (torchvision's decode_png) has stopped reading chunks by then.
  EXPECT_EQ(peek_image(insert_chunk(plain, find_chunk(plain, "IEND"), "eXIf", tiff)).orientation, 1);
  // Behind another ancillary chunk it still counts; the first of two wins.
  const auto text = insert_chunk(plain, 33, "tEXt", {'a', 0, 'b'});
  EXPECT_EQ(peek_image(insert_chunk(text, find_chunk(text, "IDAT"), "eXIf", tiff)).orientation, 6);
  const auto twice = insert_chunk(oriented_png(12, 7, 3), 33, "eXIf", tiff);
  EXPECT_EQ(peek_image(twice).orientation, 6);
  // A bad CRC drops the chunk, as libpng drops a damaged ancillary chunk.
  auto bad_crc = oriented_png(12, 7, 6);
  bad_crc[33 + 8 + tiff.size()] ^= 1;
  EXPECT_EQ(peek_image(bad_crc).orientation, 1);
  // APP1's "Exif\0\0" prefix is not TIFF (libpng rejects such a chunk too).
  EXPECT_EQ(peek_image(insert_chunk(plain, 33, "eXIf", make_exif(false, 6))).orientation, 1);
}

TEST(PeekPng, ExifChunkLengthsSizeNothing) {
  // A claimed length beyond the file, or above PNG's 2^31 - 1, ends the walk: orientation 1,
  // and the decoder reports the file. Every truncation of a good file is read in bounds (each
  // prefix its own exact-size buffer, for ASan).
  for (uint32_t claimed : {0x40000000u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu}) {
    auto png = oriented_png(12, 7, 6);
    for (int i = 0; i < 4; ++i) png[33 + i] = uint8_t(claimed >> (24 - 8 * i));
    EXPECT_EQ(peek_image(png).orientation, 1) << claimed;
  }
  const auto full = oriented_png(12, 7, 6);
  const size_t exif_end = 33 + 12 + make_tiff_exif(false, 6).size();
  for (size_t n = 8 + 8 + 13; n < full.size(); ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + long(n));
    EXPECT_EQ(peek_image(cut).orientation, n >= exif_end ? 6 : 1) << n;
  }
}

TEST(PeekErrors, EmptyRandomAndForeignFormats) {
  auto peek_cause = [](std::vector<uint8_t> bytes) {
    const gpuaug::Error e = expect_error([&] { peek_image(bytes); });
    EXPECT_EQ(e.stage(), "header");
    EXPECT_EQ(e.file(), "");
    return std::string(e.what());
  };
  EXPECT_EQ(peek_cause({}), "header: empty file");
  EXPECT_EQ(peek_cause({'G', 'I', 'F', '8', '9', 'a', 1, 0}),
            "header: not a JPEG or PNG (starts with 0x47 0x49 0x46 0x38)");
  EXPECT_EQ(peek_cause({0x13, 0x37}), "header: not a JPEG or PNG (starts with 0x13 0x37)");
  const auto random = make_samples(1000, 8, 99);
  EXPECT_NE(peek_cause(std::vector<uint8_t>(random.begin(), random.end()))
                .find("not a JPEG or PNG (starts with 0x"),
            std::string::npos);
  EXPECT_EQ(peek_cause({0xFF, 0xD8}), "header: truncated header");
  EXPECT_EQ(peek_cause({0x89, 'P', 'N', 'G'}), "header: truncated header");
}

TEST(PeekErrors, TruncatedHeaders) {
  JpegSpec spec;
  spec.app1 = {make_exif(true, 6)};
  const auto jpeg = write_jpeg(make_pattern(20, 10, 3), spec);
  // Every cut before the SOF segment ends is a truncated header; never a read past the end.
  size_t sof = 2;
  while (!(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  for (size_t n = 1; n < sof + 2 + 17; ++n) {
    const std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + long(n));
    const gpuaug::Error e = expect_error([&] { peek_image(cut); });
    EXPECT_EQ(e.cause(), "truncated header") << "cut at " << n;
  }
  const auto png = write_png({5, 5, 8, PNG_COLOR_TYPE_RGB, false, {}, {}}, make_samples(75, 8));
  for (size_t n = 1; n < 29; ++n) {
    const std::vector<uint8_t> cut(png.begin(), png.begin() + long(n));
    EXPECT_EQ(expect_error([&] { peek_image(cut); }).cause(), "truncated header") << n;
  }
  EXPECT_EQ(peek_image(std::vector<uint8_t>(png.begin(), png.begin() + 29)).width, 5);
}

TEST(PeekErrors, MalformedJpegSegments) {
  // SOI then garbage where a marker belongs.
  EXPECT_EQ(expect_error([] {
              peek_image(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0x12, 0x34});
            }).cause(),
            "malformed JPEG header (expected a marker)");
  // A segment length below 2.
  EXPECT_EQ(expect_error([] {
              peek_image(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xE0, 0, 1});
            }).cause(),
            "malformed JPEG header (segment length below 2)");
  // SOS before any SOF.
  EXPECT_EQ(expect_error([] {
              peek_image(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xDA, 0, 2});
            }).cause(),
            "malformed JPEG header (no SOF marker before the scan data)");
}

TEST(PeekErrors, HugeDimensionsAboveMaxPixels) {
  auto jpeg = write_jpeg(make_pattern(8, 8, 3));
  size_t sof = 2;
  while (!(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  for (int i = 0; i < 4; ++i) jpeg[sof + 5 + i] = 0xFF;  // height, width = 65535
  const gpuaug::Error e = expect_error([&] { peek_image(jpeg); });
  EXPECT_STREQ(e.what(),
               "header: image is 65535x65535 = 4294836225 pixels, above max_pixels 178956970");
  EXPECT_EQ(peek_image(jpeg, 65535ull * 65535).width, 65535);

  auto png = write_png({4, 4, 8, PNG_COLOR_TYPE_RGB, false, {}, {}}, make_samples(48, 8));
  for (int i = 0; i < 8; ++i) png[16 + i] = i % 4 < 2 ? 0 : 0xFF;  // IHDR width, height
  EXPECT_STREQ(expect_error([&] { peek_image(png); }).what(),
               "header: image is 65535x65535 = 4294836225 pixels, above max_pixels 178956970");
  EXPECT_NE(expect_error([&] { peek_image(png, 1000); }).cause().find("above max_pixels 1000"),
            std::string::npos);
}

TEST(PeekErrors, ZeroHeightJpeg) {
  auto jpeg = write_jpeg(make_pattern(8, 8, 3));
  size_t sof = 2;
  while (!(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  jpeg[sof + 5] = jpeg[sof + 6] = 0;
  EXPECT_EQ(expect_error([&] { peek_image(jpeg); }).cause(), "image size 8x0 is empty");
}

TEST(ClipRegion, ClipsAndRejects) {
  auto eq = [](Rect a, Rect b) {
    return a.x == b.x && a.y == b.y && a.width == b.width && a.height == b.height;
  };
  EXPECT_TRUE(eq(clip_region({}, 17, 19), {0, 0, 17, 19}));
  EXPECT_TRUE(eq(clip_region({3, 4, 5, 6}, 17, 19), {3, 4, 5, 6}));
  EXPECT_TRUE(eq(clip_region({-3, 15, 10, 10}, 17, 19), {0, 15, 7, 4}));
  EXPECT_TRUE(eq(clip_region({16, 18, 2147483647, 2147483647}, 17, 19), {16, 18, 1, 1}));
  EXPECT_STREQ(expect_error([] {
                 clip_region({17, 0, 1, 1}, 17, 19);
               }).what(),
               "decode: region 17,0 1x1 does not overlap the 17x19 image");
  EXPECT_EQ(expect_error([] { clip_region({-2, 0, 2, 1}, 17, 19); }).stage(), "decode");
  EXPECT_EQ(expect_error([] { clip_region({0, 0, 5, 0}, 17, 19); }).stage(), "decode");
  EXPECT_EQ(expect_error([] { clip_region({0, 0, -5, 3}, 17, 19); }).stage(), "decode");
}
