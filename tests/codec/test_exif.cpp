// Tests for exif_orientation on hand-built APP1 payloads, well-formed and not.
#include <gtest/gtest.h>

#include "codec/exif.h"
#include "codec_fixtures.h"

using gpuaug::codec::exif_orientation;
using gpuaug::codec::tiff_orientation;
using namespace codec_test;

TEST(ExifOrientation, AllValuesBothByteOrders) {
  for (bool big_endian : {false, true}) {
    for (uint32_t o = 1; o <= 8; ++o) {
      EXPECT_EQ(exif_orientation(make_exif(big_endian, o)), int(o)) << big_endian;
      EXPECT_EQ(exif_orientation(make_exif(big_endian, o, 4)), int(o)) << "LONG";
    }
  }
}

TEST(ExifOrientation, TiffPayloadAloneAsInAPngExifChunk) {
  for (bool big_endian : {false, true}) {
    for (uint32_t o = 1; o <= 8; ++o) EXPECT_EQ(tiff_orientation(make_tiff_exif(big_endian, o)), int(o));
    EXPECT_EQ(tiff_orientation(make_tiff_exif(big_endian, 9)), 1);
    EXPECT_EQ(tiff_orientation(make_exif(big_endian, 6)), 1);  // "Exif\0\0" is not a TIFF header
  }
  EXPECT_EQ(tiff_orientation({}), 1);
}

TEST(ExifOrientation, InvalidValuesAndTypesGiveOne) {
  for (bool big_endian : {false, true}) {
    EXPECT_EQ(exif_orientation(make_exif(big_endian, 0)), 1);
    EXPECT_EQ(exif_orientation(make_exif(big_endian, 9)), 1);
    EXPECT_EQ(exif_orientation(make_exif(big_endian, 0xFFFF)), 1);
    EXPECT_EQ(exif_orientation(make_exif(big_endian, 6, 7)), 1);     // UNDEFINED type
    EXPECT_EQ(exif_orientation(make_exif(big_endian, 6, 3, 2)), 1);  // count 2
  }
}

TEST(ExifOrientation, NotExif) {
  EXPECT_EQ(exif_orientation({}), 1);
  EXPECT_EQ(exif_orientation(make_xmp()), 1);
  auto wrong_order = make_exif(false, 6);
  wrong_order[6] = 'X';
  EXPECT_EQ(exif_orientation(wrong_order), 1);
  auto wrong_magic = make_exif(true, 6);
  wrong_magic[9] = 43;  // 42 is TIFF's magic
  EXPECT_EQ(exif_orientation(wrong_magic), 1);
  auto wrong_id = make_exif(false, 6);
  wrong_id[0] = 'e';
  EXPECT_EQ(exif_orientation(wrong_id), 1);
}

TEST(ExifOrientation, EveryTruncationIsSafe) {
  // Each prefix lives in its own exact-size heap buffer so that AddressSanitizer (and
  // valgrind) would flag a read past the end.
  for (bool big_endian : {false, true}) {
    const auto full = make_exif(big_endian, 6);
    const size_t needed = 6 + 8 + 2 + 2 * 12;  // through the orientation entry
    for (size_t n = 0; n < full.size(); ++n) {
      const std::vector<uint8_t> cut(full.begin(), full.begin() + long(n));
      EXPECT_EQ(exif_orientation(cut), n >= needed ? 6 : 1) << n;
    }
  }
}

TEST(ExifOrientation, HostileOffsetsAndCounts) {
  for (bool big_endian : {false, true}) {
    auto p = make_exif(big_endian, 6);
    auto set32 = [&](size_t at, uint32_t v) {
      for (int i = 0; i < 4; ++i) p[at + i] = uint8_t(v >> (8 * (big_endian ? 3 - i : i)));
    };
    auto set16 = [&](size_t at, uint16_t v) {
      p[at] = uint8_t(big_endian ? v >> 8 : v);
      p[at + 1] = uint8_t(big_endian ? v : v >> 8);
    };
    const auto original = p;
    set32(10, 0xFFFFFFFF);  // IFD0 offset far outside
    EXPECT_EQ(exif_orientation(p), 1);
    p = original;
    set32(10, uint32_t(p.size() - 6 - 1));  // IFD0 count field straddles the end
    EXPECT_EQ(exif_orientation(p), 1);
    p = original;
    set16(14, 0xFFFF);  // 65535 entries claimed, 2 present: the orientation one is still found
    EXPECT_EQ(exif_orientation(p), 6);
    p = original;
    set16(14, 0xFFFF);
    set16(14 + 2 + 12, 0x0100);  // no orientation entry, then entries run off the end
    EXPECT_EQ(exif_orientation(p), 1);
  }
}
