// StridedImage to RGB: interleaved, planar (CHW), padded rows, negative strides and gray images
// give the pixels an independent index computation gives, 8-bit and float; in-place checks.
#include <gtest/gtest.h>

#include <vector>

#include "plan/image_source.h"

namespace gpuaug::plan {
namespace {

// An H x W x C array with value f(y, x, c), and its planar (C x H x W) copy.
uint8_t value(int y, int x, int c) { return uint8_t(y * 31 + x * 7 + c * 101); }

TEST(ImageSource, InterleavedPlanarAndGrayGiveRgb) {
  for (const auto& [h, w] : {std::pair{1, 1}, std::pair{17, 19}, std::pair{4, 6}}) {
    std::vector<uint8_t> hwc(size_t(h) * w * 3), chw(hwc.size()), gray(size_t(h) * w);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        for (int c = 0; c < 3; ++c) {
          hwc[(size_t(y) * w + x) * 3 + c] = value(y, x, c);
          chw[(size_t(c) * h + y) * w + x] = value(y, x, c);
        }
        gray[size_t(y) * w + x] = value(y, x, 0);
      }
    const StridedImage interleaved{hwc.data(), h, w, 3, int64_t(w) * 3, 3, 1};
    const StridedImage planar{chw.data(), h, w, 3, w, 1, int64_t(h) * w};
    const StridedImage one{gray.data(), h, w, 1, w, 1, 0};
    EXPECT_TRUE(is_packed_rgb(interleaved));
    EXPECT_FALSE(is_interleaved_rgb(planar));
    EXPECT_FALSE(is_interleaved_rgb(one));
    const Image a = to_rgb(interleaved), b = to_rgb(planar), g = to_rgb(one);
    ASSERT_EQ(a.width, w);
    ASSERT_EQ(a.height, h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) {
          EXPECT_EQ(a.row(y)[x * 3 + c], value(y, x, c));
          EXPECT_EQ(b.row(y)[x * 3 + c], value(y, x, c));
          EXPECT_EQ(g.row(y)[x * 3 + c], value(y, x, 0));  // gray into all three, as decoders do
        }
  }
}

TEST(ImageSource, PaddedRowsReadInPlaceNegativeStridesCopied) {
  const int h = 3, w = 5, pitch = 20;  // 5 bytes of sentinel after each row
  std::vector<uint8_t> rows(size_t(h) * pitch, 0xEE);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) rows[size_t(y) * pitch + x * 3 + c] = value(y, x, c);
  const StridedImage padded{rows.data(), h, w, 3, pitch, 3, 1};
  EXPECT_TRUE(is_interleaved_rgb(padded));
  EXPECT_FALSE(is_packed_rgb(padded));  // the GPU reads packed rows only: converted there
  const SourceView view = source_view(padded);
  EXPECT_EQ(view.stride, size_t(pitch));
  EXPECT_EQ(view.at(4, 2)[1], value(2, 4, 1));
  // Rows upside down (numpy's a[::-1]): a negative row stride, copied rather than viewed.
  const StridedImage flipped{rows.data() + size_t(h - 1) * pitch, h, w, 3, -pitch, 3, 1};
  EXPECT_FALSE(is_interleaved_rgb(flipped));
  const Image f = to_rgb(flipped);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(f.row(y)[x * 3 + c], value(h - 1 - y, x, c));
}

// Float images: the CPU executor reads a packed float copy (never in place), the GPU reads a
// packed interleaved float image in place; planar and gray ones give the same RGB floats.
TEST(ImageSource, FloatImagesCopyToRgbFloats) {
  const int h = 4, w = 6;
  std::vector<float> hwc(size_t(h) * w * 3), chw(hwc.size()), gray(size_t(h) * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        hwc[(size_t(y) * w + x) * 3 + c] = float(value(y, x, c)) / 255.0f;
        chw[(size_t(c) * h + y) * w + x] = float(value(y, x, c)) / 255.0f;
      }
      gray[size_t(y) * w + x] = float(value(y, x, 0)) / 255.0f;
    }
  const auto bytes = [](const std::vector<float>& v) { return reinterpret_cast<const uint8_t*>(v.data()); };
  const StridedImage interleaved{bytes(hwc), h, w, 3, int64_t(w) * 3, 3, 1, true};
  const StridedImage planar{bytes(chw), h, w, 3, w, 1, int64_t(h) * w, true};
  const StridedImage one{bytes(gray), h, w, 1, w, 1, 0, true};
  EXPECT_FALSE(is_interleaved_rgb(interleaved));  // the CPU executor reads floats from a copy
  EXPECT_TRUE(is_packed_rgb(interleaved));         // the GPU reads them in place
  EXPECT_FALSE(is_packed_rgb(planar));
  EXPECT_EQ(rgb_value<float>(planar, 5, 3, 2), float(value(3, 5, 2)) / 255.0f);
  EXPECT_EQ(to_rgb_float(interleaved), hwc);
  EXPECT_EQ(to_rgb_float(planar), hwc);
  const std::vector<float> g = to_rgb_float(one);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(g[(size_t(y) * w + x) * 3 + c], gray[size_t(y) * w + x]);
}

}  // namespace
}  // namespace gpuaug::plan
