// Tests for apply_orientation (against Pillow's exif_transpose) and the rectangle mappings.
#include <gtest/gtest.h>

#include "codec/orientation.h"
#include "codec_fixtures.h"

using namespace gpuaug::codec;
using namespace codec_test;

namespace {
Image from_rows(const std::vector<std::vector<uint8_t>>& rows) {
  Image image(int(rows[0].size()), int(rows.size()), 1);
  for (size_t y = 0; y < rows.size(); ++y)
    std::copy(rows[y].begin(), rows[y].end(), image.row(int(y)));
  return image;
}
}  // namespace

// Expected values printed by Pillow 13.0 (ImageOps.exif_transpose on a 3x2 "L" image holding
// [[1, 2, 3], [4, 5, 6]] with EXIF orientation 1..8).
TEST(ApplyOrientation, MatchesPillowExifTranspose) {
  const Image raw = from_rows({{1, 2, 3}, {4, 5, 6}});
  const std::vector<std::vector<std::vector<uint8_t>>> expected = {
      {{1, 2, 3}, {4, 5, 6}},   {{3, 2, 1}, {6, 5, 4}},   {{6, 5, 4}, {3, 2, 1}},
      {{4, 5, 6}, {1, 2, 3}},   {{1, 4}, {2, 5}, {3, 6}}, {{4, 1}, {5, 2}, {6, 3}},
      {{6, 3}, {5, 2}, {4, 1}}, {{3, 6}, {2, 5}, {1, 4}},
  };
  for (int o = 1; o <= 8; ++o) {
    const Image out = apply_orientation(raw, o);
    const Image want = from_rows(expected[o - 1]);
    EXPECT_EQ(out.width, want.width) << o;
    EXPECT_EQ(out.height, want.height) << o;
    EXPECT_EQ(out.pixels, want.pixels) << "orientation " << o;
  }
}

TEST(ApplyOrientation, MultiChannelPixelsMoveWhole) {
  const Image raw = make_pattern(17, 19, 3);
  for (int o = 1; o <= 8; ++o) {
    const Image out = apply_orientation(raw, o);
    // Same pixel through the single-channel path, channel by channel.
    for (int c = 0; c < 3; ++c) {
      Image plane(17, 19, 1);
      for (size_t i = 0; i < plane.pixels.size(); ++i) plane.pixels[i] = raw.pixels[3 * i + c];
      const Image turned = apply_orientation(plane, o);
      for (size_t i = 0; i < turned.pixels.size(); ++i) {
        ASSERT_EQ(out.pixels[3 * i + c], turned.pixels[i]) << o;
      }
    }
  }
}

TEST(ApplyOrientation, InvalidValuesAreIdentity) {
  const Image raw = make_pattern(4, 3, 3);
  EXPECT_EQ(apply_orientation(raw, 0).pixels, raw.pixels);
  EXPECT_EQ(apply_orientation(raw, 9).pixels, raw.pixels);
}

TEST(OrientedToRaw, CropThenOrientEqualsOrientThenCrop) {
  const Image raw = make_pattern(17, 19, 1);
  for (int o = 1; o <= 8; ++o) {
    const Image upright = apply_orientation(raw, o);
    for (const Rect r : {Rect{0, 0, upright.width, upright.height}, Rect{3, 5, 7, 2},
                         Rect{0, 1, 1, 1}, Rect{upright.width - 4, upright.height - 3, 4, 3}}) {
      const Rect in_raw = oriented_to_raw(r, o, raw.width, raw.height);
      ASSERT_GE(in_raw.x, 0);
      ASSERT_GE(in_raw.y, 0);
      ASSERT_LE(in_raw.x + in_raw.width, raw.width);
      ASSERT_LE(in_raw.y + in_raw.height, raw.height);
      EXPECT_EQ(apply_orientation(crop(raw, in_raw), o).pixels, crop(upright, r).pixels)
          << "orientation " << o << " rect " << r.x << "," << r.y;
      const Rect back = raw_to_oriented(in_raw, o, raw.width, raw.height);
      EXPECT_EQ(back.x, r.x);
      EXPECT_EQ(back.y, r.y);
      EXPECT_EQ(back.width, r.width);
      EXPECT_EQ(back.height, r.height);
    }
  }
}
