// Tests for decode_image (orientation, regions, scales, format dispatch, errors) and read_file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "codec/decoder.h"
#include "codec/jpeg_decoder.h"
#include "codec/nvjpeg_decoder.h"
#include "codec/orientation.h"
#include "codec/png_decoder.h"
#include "codec_fixtures.h"

using namespace gpuaug::codec;
using namespace codec_test;

namespace {

std::vector<uint8_t> oriented_jpeg(int orientation, bool subsample_444 = true) {
  JpegSpec spec;
  spec.subsample_444 = subsample_444;
  spec.app1 = {make_exif(orientation % 2 == 0, uint32_t(orientation))};
  return write_jpeg(make_pattern(100, 75, 3), spec);
}

}  // namespace

TEST(DecodeImage, WholeJpegIsTurnedUpright) {
  for (int o = 1; o <= 8; ++o) {
    const auto bytes = oriented_jpeg(o);
    for (int s : {1, 2, 4, 8}) {
      DecodeRequest request;
      request.scale_denom = s;
      const DecodedImage d = decode_image(bytes, request);
      const Image raw = decode_jpeg(bytes, s, {}, kDefaultMaxPixels).image;
      EXPECT_EQ(d.image.pixels, apply_orientation(raw, o).pixels) << o << " 1/" << s;
      EXPECT_EQ(d.scale_denom, s);
      EXPECT_EQ(d.origin_x, 0);
      EXPECT_EQ(d.origin_y, 0);
      EXPECT_EQ(d.full_width, o >= 5 ? raw.height : raw.width);
      EXPECT_EQ(d.full_height, o >= 5 ? raw.width : raw.height);
      EXPECT_EQ(d.image.width, d.full_width);
      EXPECT_EQ(d.image.height, d.full_height);
    }
  }
}

TEST(DecodeImage, UprightRegionMatchesTheFullUprightDecode) {
  // 4:4:4, so the whole returned image is exact (see test_jpeg_decoder for 4:2:0); regions
  // are in upright coordinates, which differ from the stored ones for every orientation but 1.
  const Rect regions[] = {{0, 0, 1, 1}, {10, 20, 30, 15}, {3, 5, 40, 60}, {60, 40, 200, 200}};
  for (int o = 1; o <= 8; ++o) {
    const auto bytes = oriented_jpeg(o);
    for (int s : {1, 2, 4, 8}) {
      DecodeRequest whole;
      whole.scale_denom = s;
      const DecodedImage full = decode_image(bytes, whole);
      for (const Rect& r : regions) {
        DecodeRequest request;
        request.region = r;
        request.scale_denom = s;
        const DecodedImage d = decode_image(bytes, request);
        SCOPED_TRACE("orientation " + std::to_string(o) + " 1/" + std::to_string(s) + " region " +
                     std::to_string(r.x) + "," + std::to_string(r.y));
        EXPECT_EQ(d.full_width, full.full_width);
        EXPECT_EQ(d.full_height, full.full_height);
        // The grid offset: the padding of the last scaled column/row, seen from the side
        // where an axis is mirrored.
        const bool mirror_x = o == 2 || o == 3 || o == 6 || o == 7;
        const bool mirror_y = o == 3 || o == 4 || o == 7 || o == 8;
        const int upright_w = o >= 5 ? 75 : 100, upright_h = o >= 5 ? 100 : 75;
        const int gx = mirror_x ? full.full_width * s - upright_w : 0;
        const int gy = mirror_y ? full.full_height * s - upright_h : 0;
        EXPECT_EQ(d.grid_offset_x, gx);
        EXPECT_EQ(d.grid_offset_y, gy);
        EXPECT_EQ(full.grid_offset_x, gx);
        EXPECT_EQ(full.grid_offset_y, gy);
        // Covers the scaled pixels holding the region (clipped to the image)...
        const int x1 = std::min((r.x + r.width + gx + s - 1) / s, full.full_width);
        const int y1 = std::min((r.y + r.height + gy + s - 1) / s, full.full_height);
        EXPECT_LE(d.origin_x, (r.x + gx) / s);
        EXPECT_LE(d.origin_y, (r.y + gy) / s);
        EXPECT_GE(d.origin_x + d.image.width, x1);
        EXPECT_GE(d.origin_y + d.image.height, y1);
        // ...and is exactly that part of the full upright image (4:4:4: all of it).
        ASSERT_LE(d.origin_x + d.image.width, full.full_width);
        ASSERT_LE(d.origin_y + d.image.height, full.full_height);
        EXPECT_EQ(d.image.pixels,
                  crop(full.image, {d.origin_x, d.origin_y, d.image.width, d.image.height}).pixels);
        if (o == 1) {
          EXPECT_EQ(d.image.pixels, crop(decode_jpeg(bytes, s, {}, kDefaultMaxPixels).image,
                                         {d.origin_x, d.origin_y, d.image.width, d.image.height})
                                        .pixels);
        }
      }
    }
  }
}

TEST(DecodeImage, PngIsWholeAtScaleOne) {
  const PngSpec spec{17, 19, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  const auto samples = make_samples(17 * 19 * 3, 8);
  DecodeRequest request;
  request.region = {3, 4, 5, 6};
  request.scale_denom = 4;
  const DecodedImage d = decode_image(write_png(spec, samples), request);
  EXPECT_EQ(d.scale_denom, 1);
  EXPECT_EQ(d.origin_x, 0);
  EXPECT_EQ(d.origin_y, 0);
  EXPECT_EQ(d.full_width, 17);
  EXPECT_EQ(d.full_height, 19);
  EXPECT_EQ(d.image.pixels, Image::Pixels(samples.begin(), samples.end()));
  request.region = {17, 0, 1, 1};
  EXPECT_EQ(expect_error([&] { decode_image(write_png(spec, samples), request); }).cause(),
            "region 17,0 1x1 does not overlap the 17x19 image");
}

TEST(DecodeImage, PngIsTurnedUprightByItsExifChunk) {
  // Oracle: apply_orientation (Pillow's exif_transpose, tested on its own) of the plain decode.
  const Image raw = decode_png(oriented_png(17, 12, 1), kDefaultMaxPixels);
  for (int o = 1; o <= 8; ++o) {
    DecodeRequest request;
    request.region = {1, 2, 3, 4};  // upright coordinates; PNG still decodes whole
    const DecodedImage d = decode_image(oriented_png(17, 12, o), request);
    EXPECT_EQ(d.full_width, o >= 5 ? 12 : 17) << o;
    EXPECT_EQ(d.full_height, o >= 5 ? 17 : 12) << o;
    EXPECT_EQ(d.image.width, d.full_width);
    EXPECT_EQ(d.origin_x, 0);
    EXPECT_EQ(d.grid_offset_x, 0);
    EXPECT_EQ(d.image.pixels, apply_orientation(raw, o).pixels) << o;
  }
}

TEST(DecodeImageErrors, MessagesNameStageAndCause) {
  auto what = [](const std::vector<uint8_t>& bytes, DecodeRequest request = {}) {
    return std::string(
        expect_error([&] { decode_image(bytes, request); }).with_file("x/a.jpg").what());
  };
  EXPECT_EQ(what({}), "x/a.jpg: header: empty file");
  const auto random = make_samples(64, 8, 3);
  EXPECT_EQ(what(std::vector<uint8_t>(random.begin(), random.end()))
                .rfind("x/a.jpg: header: not a JPEG or PNG (starts with 0x", 0),
            0u);
  const auto jpeg = oriented_jpeg(6);
  EXPECT_EQ(what(std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + long(jpeg.size() / 2))),
            "x/a.jpg: decode: Premature end of JPEG file");
  DecodeRequest outside;
  outside.region = {80, 0, 10, 10};  // upright image is 75 wide
  EXPECT_EQ(what(jpeg, outside),
            "x/a.jpg: decode: region 80,0 10x10 does not overlap the 75x100 image");
  DecodeRequest small;
  small.max_pixels = 100;
  EXPECT_EQ(what(jpeg, small),
            "x/a.jpg: header: image is 100x75 = 7500 pixels, above max_pixels 100");
  DecodeRequest bad_scale;
  bad_scale.scale_denom = 16;
  EXPECT_EQ(what(jpeg, bad_scale), "x/a.jpg: decode: scale_denom must be 1, 2, 4 or 8 (got 16)");
  const PngSpec spec{16, 16, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  auto png = write_png(spec, make_samples(16 * 16 * 3, 8));
  const size_t idat = find_chunk(png, "IDAT");
  png[idat + 8 + (size_t(png[idat + 2]) << 8 | png[idat + 3])] ^= 1;  // its CRC
  EXPECT_EQ(what(png), "x/a.jpg: decode: IDAT: CRC error");
}

class ReadFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gpuaug_codec_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(ReadFile, ReadsAllBytes) {
  std::vector<uint8_t> bytes(200000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 31 + (i >> 9));
  std::ofstream(path("a.bin"), std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  EXPECT_EQ(read_file(path("a.bin")), bytes);
  std::ofstream(path("one.bin"), std::ios::binary) << 'x';
  EXPECT_EQ(read_file(path("one.bin")), std::vector<uint8_t>{'x'});
  // /proc files say size 0 and are read to their end all the same.
  const std::vector<uint8_t> status = read_file("/proc/self/status");
  EXPECT_EQ(std::string(status.begin(), status.begin() + 5), "Name:");
}

TEST_F(ReadFile, ErrorsNameThePathAndStage) {
  auto what = [](const std::string& p) {
    const gpuaug::Error e = expect_error([&] { read_file(p); });
    EXPECT_EQ(e.file(), p);
    EXPECT_EQ(e.stage(), "read");
    return std::string(e.what());
  };
  EXPECT_EQ(what(path("missing.jpg")), path("missing.jpg") + ": read: No such file or directory");
  EXPECT_EQ(what(dir_.string()), dir_.string() + ": read: Is a directory");
  std::filesystem::create_symlink(path("nowhere.jpg"), path("dangling.jpg"));
  EXPECT_EQ(what(path("dangling.jpg")), path("dangling.jpg") + ": read: No such file or directory");
  std::ofstream(path("empty.jpg")).close();
  EXPECT_EQ(what(path("empty.jpg")), path("empty.jpg") + ": read: empty file");
  // Found with the bad-input corpus: a link named like an image to a FIFO nobody writes hung
  // in open(), and one to /dev/zero read until memory ran out.
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  std::filesystem::create_symlink(path("fifo"), path("fifo.jpg"));
  EXPECT_EQ(what(path("fifo.jpg")), path("fifo.jpg") + ": read: empty file");
  std::filesystem::create_symlink("/dev/zero", path("zero.jpg"));
  EXPECT_EQ(what(path("zero.jpg")), path("zero.jpg") + ": read: not a regular file (a character device)");
  if (::geteuid() != 0) {  // root reads anything
    std::ofstream(path("secret.jpg")) << "x";
    std::filesystem::permissions(path("secret.jpg"), std::filesystem::perms::none);
    EXPECT_EQ(what(path("secret.jpg")), path("secret.jpg") + ": read: Permission denied");
  }
}

// RowReader hands out decode_image's rows (a JPEG's region at its scale, with its origin; a
// non-interlaced PNG whole), whatever the count asked each time; it refuses what it does not
// take; errors in the data surface at the read that meets them.
TEST(RowReader, GivesDecodeImagesRowsInAnyChunks) {
  const std::vector<uint8_t> jpeg = write_jpeg(make_pattern(97, 61, 3), {});
  PngSpec png_spec;
  png_spec.width = 33, png_spec.height = 29;
  const std::vector<uint8_t> png = write_png(png_spec, make_samples(33 * 29 * 3, 8));
  struct Case {
    const std::vector<uint8_t>* bytes;
    DecodeRequest request;
  };
  DecodeRequest region;
  region.region = {13, 9, 40, 30};
  DecodeRequest scaled = region;
  scaled.scale_denom = 2;
  for (const Case& c : {Case{&jpeg, {}}, Case{&jpeg, region}, Case{&jpeg, scaled}, Case{&png, {}}, Case{&png, region}}) {
    const DecodedImage whole = decode_image(*c.bytes, c.request);
    for (const int chunk : {1, 7, 1000}) {
      RowReader reader(*c.bytes, c.request);
      ASSERT_EQ(reader.width(), whole.image.width);
      ASSERT_EQ(reader.rows(), whole.image.height);
      EXPECT_EQ(reader.origin_x(), whole.origin_x);
      EXPECT_EQ(reader.origin_y(), whole.origin_y);
      EXPECT_EQ(reader.scale_denom(), whole.scale_denom);
      std::vector<uint8_t> rows(size_t(reader.width()) * 3 * size_t(reader.rows()));
      while (reader.rows_read() < reader.rows()) {
        std::vector<uint8_t*> dst;
        for (int y = reader.rows_read(); y < std::min(reader.rows(), reader.rows_read() + chunk); ++y)
          dst.push_back(rows.data() + size_t(y) * reader.width() * 3);
        reader.read(dst.data(), int(dst.size()));
      }
      EXPECT_TRUE(std::equal(rows.begin(), rows.end(), whole.image.pixels.begin())) << "chunk " << chunk;
    }
  }
  EXPECT_FALSE(RowReader::takes(peek_image(oriented_jpeg(6))));
  png_spec.interlaced = true;
  const std::vector<uint8_t> interlaced = write_png(png_spec, make_samples(33 * 29 * 3, 8));
  EXPECT_FALSE(RowReader::takes(peek_image(interlaced)));
  EXPECT_NE(expect_error([&] { RowReader r(interlaced, {}); }).cause().find("RowReader"), std::string::npos);
  // Cut inside the scan: the header reads, a later row fails with libjpeg's message.
  std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + long(jpeg.size() * 2 / 3));
  RowReader reader(cut, {});
  std::vector<uint8_t> row(size_t(reader.width()) * 3);
  const gpuaug::Error e = expect_error([&] {
    for (uint8_t* p = row.data(); reader.rows_read() < reader.rows();) reader.read(&p, 1);
  });
  EXPECT_EQ(e.stage(), "decode");
}

namespace {

// The segments of marker `marker` dropped (the walk of tests/data/make_bad_inputs.py).
std::vector<uint8_t> without_segments(const std::vector<uint8_t>& jpeg, uint8_t marker) {
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  size_t at = 2;
  while (at + 4 <= jpeg.size() && jpeg[at] == 0xFF && jpeg[at + 1] != 0xDA) {
    const size_t length = size_t(jpeg[at + 2]) << 8 | jpeg[at + 3];
    if (jpeg[at + 1] != marker) out.insert(out.end(), jpeg.begin() + long(at), jpeg.begin() + long(at + 2 + length));
    at += 2 + length;
  }
  out.insert(out.end(), jpeg.begin() + long(at), jpeg.end());
  return out;
}

// The SOF's height and width set to these, the data left as it is.
std::vector<uint8_t> with_frame_size(std::vector<uint8_t> jpeg, int width, int height) {
  for (size_t at = 2; at + 9 < jpeg.size();) {
    const size_t length = size_t(jpeg[at + 2]) << 8 | jpeg[at + 3];
    if (jpeg[at + 1] == 0xC0) {
      jpeg[at + 5] = uint8_t(height >> 8), jpeg[at + 6] = uint8_t(height);
      jpeg[at + 7] = uint8_t(width >> 8), jpeg[at + 8] = uint8_t(width);
      return jpeg;
    }
    at += 2 + length;
  }
  ADD_FAILURE() << "no SOF0";
  return jpeg;
}

}  // namespace

// What nvJPEG is given: whole baseline files whose frame's tables are defined and whose scans
// hold at least 2 bits a block. nvJPEG decodes the others without a word on the H100 (run 25's
// whole-corpus test: no_dqt.jpg, big_header_small_data.jpg), where libjpeg names the fault, so
// they stay with the CPU decoder. Checked on the header alone: no GPU needed.
TEST(NvjpegTakes, OnlyFilesWhoseTablesAndDataAreThere) {
  const Image pattern = make_pattern(37, 29, 3);
  const auto takes = [](const std::vector<uint8_t>& bytes) { return NvjpegDecoder::takes(bytes, peek_image(bytes)); };
  JpegSpec spec;
  const auto jpeg = write_jpeg(pattern, spec);
  EXPECT_TRUE(takes(jpeg));
  // What peek_image's walk found: 4:2:0, luma 5x4 blocks and each chroma 3x2; both tables.
  const ImageInfo info = peek_image(jpeg);
  EXPECT_EQ(info.jpeg_blocks, 20u + 6u + 6u);
  EXPECT_TRUE(info.jpeg_tables_defined);
  EXPECT_GT(info.jpeg_scan_offset, 0u);
  EXPECT_FALSE(peek_image(without_segments(jpeg, 0xDB)).jpeg_tables_defined);
  spec.subsample_444 = true;
  EXPECT_TRUE(takes(write_jpeg(pattern, spec)));
  spec.restart_rows = true;
  EXPECT_TRUE(takes(write_jpeg(pattern, spec)));
  JpegSpec gray;
  gray.in_space = JCS_GRAYSCALE;
  EXPECT_TRUE(takes(write_jpeg(make_pattern(37, 29, 1), gray)));
  // The least data a valid file has: one colour, Huffman tables optimized for it.
  Image flat(64, 64, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t(90));
  JpegSpec least;
  least.optimize = true;
  least.quality = 10;
  EXPECT_TRUE(takes(write_jpeg(flat, least)));

  EXPECT_FALSE(takes(without_segments(jpeg, 0xDB)));          // no DQT
  // A DQT whose table number is past 3 defines no table (libjpeg: "bogus DQT index"), and a
  // component that names such a table has none.
  std::vector<uint8_t> bogus_dqt = jpeg, bogus_selector = jpeg;
  for (size_t k = 2; k + 4 < jpeg.size(); ++k)
    if (jpeg[k] == 0xFF && jpeg[k + 1] == 0xDB) {
      bogus_dqt[k + 4] = uint8_t((jpeg[k + 4] & 0xF0) | 4);  // table 0 renumbered 4 (not 0: 4 & 3)
      break;
    }
  for (size_t k = 2; k + 12 < jpeg.size(); ++k)
    if (jpeg[k] == 0xFF && jpeg[k + 1] == 0xC0) {
      bogus_selector[k + 12] = 4;  // the first component's table: after length, P, Y, X, Nf, id, HV
      break;
    }
  EXPECT_FALSE(takes(bogus_dqt));
  EXPECT_FALSE(takes(bogus_selector));
  EXPECT_FALSE(takes(with_frame_size(jpeg, 6000, 5000)));     // SOF over 37x29 worth of data
  EXPECT_FALSE(takes(std::vector<uint8_t>(jpeg.begin(), jpeg.end() - 2)));  // no EOI
  EXPECT_TRUE(takes(with_frame_size(jpeg, 37, 29)));
  for (const auto& bytes : {without_segments(jpeg, 0xDB), with_frame_size(jpeg, 6000, 5000), bogus_dqt, bogus_selector})
    EXPECT_THROW(decode_image(bytes, {}), gpuaug::Error);  // libjpeg does name them
}
