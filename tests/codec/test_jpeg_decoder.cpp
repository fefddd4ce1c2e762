// Tests for decode_jpeg: scaled sizes, regions against full decodes, colour spaces, errors.
#include <gtest/gtest.h>

#include "codec/jpeg_decoder.h"
#include "codec_fixtures.h"

using namespace gpuaug::codec;
using namespace codec_test;

namespace {

JpegDecodeResult decode_full(const std::vector<uint8_t>& bytes, int scale = 1) {
  return decode_jpeg(bytes, scale, {}, kDefaultMaxPixels);
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Decodes `region` at `scale` and checks the result against the same pixels of a full decode:
// it must cover the scaled region; returns the largest difference inside the requested region
// and, through worst_outside, the largest in the rest of the returned image.
int region_vs_full(const std::vector<uint8_t>& bytes, int scale, Rect region,
                   int* worst_outside = nullptr) {
  const JpegDecodeResult full = decode_full(bytes, scale);
  const JpegDecodeResult part = decode_jpeg(bytes, scale, region, kDefaultMaxPixels);
  EXPECT_EQ(part.scaled_width, full.image.width);
  EXPECT_EQ(part.scaled_height, full.image.height);
  const int sx0 = region.x / scale, sy0 = region.y / scale;
  const int sx1 = std::min(ceil_div(region.x + region.width, scale), full.image.width);
  const int sy1 = std::min(ceil_div(region.y + region.height, scale), full.image.height);
  EXPECT_LE(part.origin_x, sx0);
  EXPECT_LE(part.origin_y, sy0);
  EXPECT_GE(part.origin_x + part.image.width, sx1);
  EXPECT_GE(part.origin_y + part.image.height, sy1);
  EXPECT_LE(part.origin_x + part.image.width, full.image.width);
  EXPECT_LE(part.origin_y + part.image.height, full.image.height);
  int inside = 0, outside = 0;
  for (int y = 0; y < part.image.height; ++y) {
    for (int x = 0; x < part.image.width; ++x) {
      const int fx = part.origin_x + x, fy = part.origin_y + y;
      const bool in = fx >= sx0 && fx < sx1 && fy >= sy0 && fy < sy1;
      for (int c = 0; c < 3; ++c) {
        const int d =
            std::abs(int(part.image.row(y)[3 * x + c]) - int(full.image.row(fy)[3 * fx + c]));
        (in ? inside : outside) = std::max(in ? inside : outside, d);
      }
    }
  }
  if (worst_outside) *worst_outside = outside;
  return inside;
}

const Rect kRegions[] = {
    {0, 0, 1, 1},     {37, 21, 50, 40}, {5, 3, 17, 19},   {64, 48, 16, 16},
    {99, 0, 1, 75},   {0, 74, 100, 1},  {13, 9, 86, 66},  {90, 60, 50, 50},  // clipped
    {17, 33, 31, 29}, {48, 0, 33, 75},  {32, 16, 32, 16}, {31, 15, 2, 2},
};

}  // namespace

TEST(DecodeJpeg, ScaledSizesAreLibjpegs) {
  for (auto [w, h] : {std::pair{1, 1}, {17, 19}, {100, 75}, {33, 8}, {9, 1}}) {
    const auto bytes = write_jpeg(make_pattern(w, h, 3));
    for (int s : {1, 2, 4, 8}) {
      const JpegDecodeResult r = decode_full(bytes, s);
      EXPECT_EQ(r.image.width, ceil_div(w, s)) << w << "x" << h << " at 1/" << s;
      EXPECT_EQ(r.image.height, ceil_div(h, s)) << w << "x" << h << " at 1/" << s;
      EXPECT_EQ(r.image.channels, 3);
      EXPECT_EQ(r.scaled_width, r.image.width);
      EXPECT_EQ(r.scaled_height, r.image.height);
      EXPECT_EQ(r.origin_x, 0);
      EXPECT_EQ(r.origin_y, 0);
    }
  }
}

TEST(DecodeJpeg, FullDecodeIsCloseToTheSource) {
  // Quality 100 4:4:4 RGB: only DCT quantisation and YCbCr rounding remain.
  const Image src = make_pattern(17, 19, 3);
  JpegSpec spec;
  spec.quality = 100;
  spec.subsample_444 = true;
  EXPECT_LE(max_abs_diff(decode_full(write_jpeg(src, spec)).image, src), 4);
}

TEST(DecodeJpeg, GrayIsReplicated) {
  const Image src = make_pattern(17, 19, 1);
  JpegSpec spec;
  spec.in_space = JCS_GRAYSCALE;
  spec.quality = 100;
  const Image out = decode_full(write_jpeg(src, spec)).image;
  EXPECT_LE(max_abs_diff(out, gray_to_rgb(src)), 2);
  for (size_t i = 0; i < out.pixels.size(); i += 3) {
    ASSERT_EQ(out.pixels[i], out.pixels[i + 1]);
    ASSERT_EQ(out.pixels[i], out.pixels[i + 2]);
  }
}

TEST(DecodeJpeg, CmykAndYcckUsePillowsConversion) {
  // Flat 8x8 blocks survive quality 100 nearly exactly. Values are stored Adobe-style
  // (255 - ink), which libjpeg's writer does not change; the reference is Pillow's
  // cmyk2rgb on the ink values: R = (255 - K) * (255 - C) / 255.
  const uint8_t ink[4][4] = {{0, 0, 0, 0}, {255, 0, 0, 0}, {100, 50, 200, 30}, {200, 100, 50, 128}};
  Image src(32, 8, 4);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 4; ++c) src.row(y)[4 * x + c] = uint8_t(255 - ink[x / 8][c]);
  for (J_COLOR_SPACE space : {JCS_CMYK, JCS_YCCK}) {
    JpegSpec spec;
    spec.in_space = JCS_CMYK;
    spec.jpeg_space = space;
    spec.quality = 100;
    const Image out = decode_full(write_jpeg(src, spec)).image;
    for (int block = 0; block < 4; ++block) {
      for (int c = 0; c < 3; ++c) {
        const double want = (255.0 - ink[block][3]) * (255.0 - ink[block][c]) / 255.0;
        EXPECT_NEAR(out.row(4)[3 * (8 * block + 4) + c], want, 2.0)
            << "space " << space << " block " << block << " channel " << c;
      }
    }
  }
}

TEST(DecodeJpeg, ArithmeticCodingDecodesLikeHuffman) {
  // Entropy coding is lossless: the same quantized coefficients coded arithmetically (SOF9,
  // SOF10) give the same pixels as Huffman-coded; cut short, the file fails like any other.
  const Image src = make_pattern(37, 29, 3);
  for (bool progressive : {false, true}) {
    JpegSpec spec;
    spec.progressive = progressive;
    const Image huffman = decode_full(write_jpeg(src, spec)).image;
    spec.arithmetic = true;
    const std::vector<uint8_t> bytes = write_jpeg(src, spec);
    EXPECT_EQ(decode_full(bytes).image.pixels, huffman.pixels) << "progressive " << progressive;
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(bytes.size() * 2 / 3));
    EXPECT_EQ(expect_error([&] { decode_full(cut); }).cause(), "Premature end of JPEG file");
  }
}

TEST(DecodeJpeg, Region444IsExactAtEveryScale) {
  for (bool progressive : {false, true}) {
    JpegSpec spec;
    spec.subsample_444 = true;
    spec.progressive = progressive;
    spec.restart_rows = !progressive;
    const auto bytes = write_jpeg(make_pattern(100, 75, 3), spec);
    for (int s : {1, 2, 4, 8}) {
      for (const Rect& r : kRegions) {
        int outside = 0;
        EXPECT_EQ(region_vs_full(bytes, s, r, &outside), 0)
            << "1/" << s << " region " << r.x << "," << r.y << " " << r.width << "x" << r.height;
        EXPECT_EQ(outside, 0);
      }
    }
  }
}

// With 4:2:0 and fancy upsampling libjpeg upsamples a cropped row's chroma without the cut-off
// neighbour column, so the outermost columns of a crop differ from a full decode; decode_jpeg
// widens the crop by a column on each side, so the requested region itself is exact at every
// scale. The extra edge columns differed by at most 3 on this pattern with libjpeg-turbo
// 2.1.5 (at scale 1 only; scaled decodes need no chroma upsampling); the bound allows 6.
// Rows are exact: jpeg_skip_scanlines keeps the upsampler's context rows.
TEST(DecodeJpeg, Region420IsExactInsideTheRequestedRegion) {
  for (bool progressive : {false, true}) {
    JpegSpec spec;
    spec.progressive = progressive;
    const auto bytes = write_jpeg(make_pattern(100, 75, 3), spec);
    for (int s : {1, 2, 4, 8}) {
      for (const Rect& r : kRegions) {
        int outside = 0;
        EXPECT_EQ(region_vs_full(bytes, s, r, &outside), 0)
            << "1/" << s << " region " << r.x << "," << r.y << " " << r.width << "x" << r.height;
        EXPECT_LE(outside, 6);
      }
    }
  }
}

TEST(DecodeJpeg, RegionValidation) {
  const auto bytes = write_jpeg(make_pattern(20, 10, 3));
  EXPECT_STREQ(expect_error([&] {
                 decode_jpeg(bytes, 1, {20, 0, 5, 5}, kDefaultMaxPixels);
               }).what(),
               "decode: region 20,0 5x5 does not overlap the 20x10 image");
  EXPECT_EQ(expect_error([&] {
              decode_jpeg(bytes, 1, {0, 0, 5, 0}, kDefaultMaxPixels);
            }).stage(),
            "decode");
  EXPECT_EQ(expect_error([&] { decode_jpeg(bytes, 3, {}, kDefaultMaxPixels); }).cause(),
            "scale_denom must be 1, 2, 4 or 8 (got 3)");
  const JpegDecodeResult r = decode_jpeg(bytes, 1, {-5, -5, 10, 10}, kDefaultMaxPixels);
  EXPECT_EQ(r.origin_x, 0);
  EXPECT_EQ(r.origin_y, 0);
  EXPECT_GE(r.image.width, 5);
  EXPECT_EQ(r.image.height, 5);
}

TEST(DecodeJpegErrors, TruncatedAtSeveralOffsets) {
  for (bool progressive : {false, true}) {
    JpegSpec spec;
    spec.progressive = progressive;
    const auto bytes = write_jpeg(make_pattern(64, 48, 3), spec);
    for (size_t n : {size_t(0), size_t(1), size_t(3), size_t(20), size_t(200), bytes.size() / 2,
                     bytes.size() - 100, bytes.size() - 2}) {
      const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
      const gpuaug::Error e = expect_error([&] { decode_full(cut); });
      EXPECT_EQ(e.stage(), "decode") << n;
      EXPECT_FALSE(e.cause().empty()) << n;
      if (n > 300) {
        EXPECT_EQ(e.cause(), "Premature end of JPEG file") << "cut at " << n;
      }
    }
  }
}

TEST(DecodeJpegErrors, RegionAboveTruncationStillDecodes) {
  // Rows below a region are never read, so their loss does not fail the request...
  const auto bytes = write_jpeg(make_pattern(64, 64, 3));
  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(bytes.size() * 3 / 4));
  EXPECT_EQ(decode_jpeg(cut, 1, {0, 0, 64, 8}, kDefaultMaxPixels).image.height, 8);
  // ...but a region reaching them does.
  EXPECT_EQ(expect_error([&] {
              decode_jpeg(cut, 1, {0, 40, 64, 8}, kDefaultMaxPixels);
            }).cause(),
            "Premature end of JPEG file");
}

TEST(DecodeJpegErrors, CorruptHuffmanData) {
  auto bytes = write_jpeg(make_pattern(64, 48, 3));
  // Overwrite the start of the entropy-coded data with stuffed 0xFF bytes: a run of one bits,
  // which is no valid Huffman code. libjpeg only warns and decodes garbage; we must fail.
  size_t sos = 2;
  while (!(bytes[sos] == 0xFF && bytes[sos + 1] == 0xDA)) ++sos;
  const size_t data = sos + 2 + (size_t(bytes[sos + 2]) << 8 | bytes[sos + 3]);
  for (size_t i = data; i < data + 64; i += 2) bytes[i] = 0xFF, bytes[i + 1] = 0x00;
  const gpuaug::Error e = expect_error([&] { decode_full(bytes); });
  EXPECT_EQ(e.stage(), "decode");
  EXPECT_NE(e.cause().find("Corrupt JPEG data"), std::string::npos) << e.cause();
}

TEST(DecodeJpegErrors, TooManyProgressiveScans) {
  // Gray, DC first, then each AC coefficient alone at Al = 8 refined down to 0: 1 + 63 * 9 =
  // 568 valid scans.
  JpegSpec spec;
  spec.in_space = JCS_GRAYSCALE;
  spec.scans.push_back({1, {0, 0, 0, 0}, 0, 0, 0, 0});
  for (int k = 1; k <= 63; ++k) {
    spec.scans.push_back({1, {0, 0, 0, 0}, k, k, 0, 8});
    for (int al = 7; al >= 0; --al) spec.scans.push_back({1, {0, 0, 0, 0}, k, k, al + 1, al});
  }
  const auto bytes = write_jpeg(make_pattern(8, 8, 1), spec);
  EXPECT_TRUE(peek_image(bytes).progressive);
  EXPECT_EQ(expect_error([&] { decode_full(bytes); }).cause(),
            "progressive JPEG has more than 500 scans");
}

TEST(DecodeJpegErrors, MaxPixelsBeforeAllocating) {
  auto bytes = write_jpeg(make_pattern(8, 8, 3));
  size_t sof = 2;
  while (!(bytes[sof] == 0xFF && bytes[sof + 1] == 0xC0)) ++sof;
  // 60000x60000: within libjpeg's 65500 limit, so the pixel cap is what stops it.
  for (int i = 0; i < 4; i += 2) bytes[sof + 5 + i] = 0xEA, bytes[sof + 6 + i] = 0x60;
  EXPECT_STREQ(expect_error([&] { decode_full(bytes); }).what(),
               "decode: image is 60000x60000 = 3600000000 pixels, above max_pixels 178956970");
  const auto small = write_jpeg(make_pattern(20, 10, 3));
  EXPECT_EQ(expect_error([&] { decode_jpeg(small, 1, {}, 199); }).cause(),
            "image is 20x10 = 200 pixels, above max_pixels 199");
}

TEST(DecodeJpegErrors, NotAJpeg) {
  const auto png = write_png({2, 2, 8, PNG_COLOR_TYPE_RGB, false, {}, {}}, make_samples(12, 8));
  const gpuaug::Error e = expect_error([&] { decode_full(png); });
  EXPECT_EQ(e.stage(), "decode");
  EXPECT_NE(e.cause().find("Not a JPEG file"), std::string::npos) << e.cause();
  EXPECT_EQ(expect_error([] { decode_full({}); }).cause(), "empty file");
}

// A crop of a sixteenth of the image or more gets room for the whole image at its scale, so
// that the pool block a thread keeps fits a later epoch's larger crop (core/block_pool.h); a
// smaller crop only its own size.
TEST(DecodeJpeg, CropsReserveTheWholeImageAtTheirScale) {
  const auto bytes = write_jpeg(make_pattern(640, 480, 3));
  const JpegDecodeResult small = decode_jpeg(bytes, 1, {0, 0, 100, 60}, kDefaultMaxPixels);
  EXPECT_EQ(small.image.pixels.capacity(), small.image.pixels.size());
  const JpegDecodeResult crop = decode_jpeg(bytes, 1, {0, 0, 200, 150}, kDefaultMaxPixels);
  EXPECT_EQ(crop.image.pixels.capacity(), size_t(640 * 480 * 3));
  const JpegDecodeResult half = decode_jpeg(bytes, 2, {0, 100, 640, 300}, kDefaultMaxPixels);
  EXPECT_LT(half.image.pixels.size(), size_t(320 * 240 * 3));
  EXPECT_EQ(half.image.pixels.capacity(), size_t(320 * 240 * 3));
}

// --- JpegPlaneReader ---------------------------------------------------------------------

namespace {

// Noise over a gradient, so that every chroma sample differs from its neighbours and each of
// the upsampler's weights and roundings shows.
Image noisy_image(int width, int height, uint32_t seed) {
  Image image(width, height, 3);
  uint32_t state = seed * 2654435761u + 1;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width * 3; ++x) {
      state = state * 1664525u + 1013904223u;
      image.row(y)[x] = uint8_t((x * 5 + y * 3) % 256 / 2 + (state >> 25));
    }
  return image;
}

Image finished_planes(const std::vector<uint8_t>& bytes) {
  JpegPlaneReader reader(bytes, kDefaultMaxPixels);
  EXPECT_TRUE(reader.finishable());
  const JpegPlanes& p = reader.layout();
  std::vector<uint8_t> buffer(p.bytes);
  reader.read(buffer.data());
  Image out(p.width, p.height, 3);
  for (int y = 0; y < p.height; ++y)
    for (int x = 0; x < p.width; ++x) {
      int rgb[3];
      jpeg_planes_rgb(p, buffer.data(), x, y, rgb);
      for (int c = 0; c < 3; ++c) out.row(y)[3 * x + c] = uint8_t(rgb[c]);
    }
  return out;
}

}  // namespace

// Oracle: libjpeg-turbo's own RGB decode (decode_jpeg, as Pillow decodes). Tolerance: exact, at
// 4:4:4, 4:2:2 and 4:2:0, baseline and progressive, sizes odd and even, 1 to 3 chroma samples
// wide (where libjpeg replicates instead of upsampling smoothly), and gray.
TEST(JpegPlaneReader, FinishedPlanesEqualLibjpegsRgbExactly) {
  const int sizes[][2] = {{1, 1}, {2, 2}, {3, 5}, {4, 9}, {5, 3}, {6, 1}, {8, 8}, {9, 17}, {17, 33},
                          {31, 23}, {40, 2}, {2, 40}, {100, 75}, {333, 97}, {501, 377}};
  const int samplings[][2] = {{1, 1}, {2, 1}, {2, 2}};
  uint32_t seed = 1;
  for (const auto& size : sizes)
    for (const auto& sampling : samplings)
      for (bool progressive : {false, true}) {
        JpegSpec spec;
        spec.luma_h = sampling[0], spec.luma_v = sampling[1];
        spec.progressive = progressive;
        spec.quality = 50 + int(seed * 7 % 50);
        const auto bytes = write_jpeg(noisy_image(size[0], size[1], ++seed), spec);
        const Image want = decode_full(bytes).image;
        const Image got = finished_planes(bytes);
        ASSERT_EQ(max_abs_diff(got, want), 0) << size[0] << "x" << size[1] << " luma " << sampling[0] << "x"
                                              << sampling[1] << (progressive ? " progressive" : "");
      }
  Image gray(37, 29, 1);
  for (int y = 0; y < 29; ++y)
    for (int x = 0; x < 37; ++x) gray.row(y)[x] = uint8_t(x * 7 + y * 13);
  JpegSpec gray_spec;
  gray_spec.in_space = JCS_GRAYSCALE;
  const auto gray_bytes = write_jpeg(gray, gray_spec);
  EXPECT_EQ(max_abs_diff(finished_planes(gray_bytes), decode_full(gray_bytes).image), 0);
}

// What jpeg_planes_rgb does not finish is left to decode_jpeg: CMYK, RGB-coded, luma 1x2.
TEST(JpegPlaneReader, OtherColourSpacesAndSamplingsAreNotFinishable) {
  Image cmyk(16, 16, 4);
  JpegSpec cmyk_spec;
  cmyk_spec.in_space = JCS_CMYK;
  EXPECT_FALSE(JpegPlaneReader(write_jpeg(cmyk, cmyk_spec), kDefaultMaxPixels).finishable());
  JpegSpec rgb_spec;
  rgb_spec.jpeg_space = JCS_RGB;
  EXPECT_FALSE(JpegPlaneReader(write_jpeg(noisy_image(16, 16, 3), rgb_spec), kDefaultMaxPixels).finishable());
  JpegSpec tall;
  tall.luma_h = 1, tall.luma_v = 2;
  const JpegPlaneReader reader(write_jpeg(noisy_image(16, 16, 4), tall), kDefaultMaxPixels);
  EXPECT_FALSE(reader.finishable());
}

// Damage is an error naming the stage, with libjpeg's words, as decode_jpeg's: truncated
// (a header cut or the scan), a size past max_pixels before any plane is allocated.
TEST(JpegPlaneReader, TruncatedAndHugeAreErrors) {
  const auto bytes = write_jpeg(noisy_image(64, 48, 5));
  for (size_t n : {size_t(0), size_t(20), bytes.size() / 2, bytes.size() - 2}) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
    const gpuaug::Error e = expect_error([&] {
      JpegPlaneReader reader(cut, kDefaultMaxPixels);
      std::vector<uint8_t> buffer(reader.layout().bytes);
      reader.read(buffer.data());
    });
    EXPECT_EQ(e.stage(), "decode") << n;
    if (n > 300) {
      EXPECT_EQ(e.cause(), "Premature end of JPEG file") << n;
    }
  }
  EXPECT_EQ(expect_error([&] { JpegPlaneReader(bytes, 64 * 47); }).stage(), "decode");
}
