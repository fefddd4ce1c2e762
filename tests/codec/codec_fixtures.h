// Test fixtures for the codec tests: synthetic images, and JPEG/PNG/EXIF bytes written here
// with libjpeg and libpng directly (not through gpuaug's encoders).
#pragma once

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "codec/image_info.h"
#include "core/error.h"
#include "core/tensor.h"

namespace codec_test {

using gpuaug::Image;
using gpuaug::codec::Rect;

// Per-channel gradients in different directions (so every flip and transpose shows) plus a
// deterministic 0..15 texture; never wraps, so lossy round trips stay comparable.
inline Image make_pattern(int width, int height, int channels, uint32_t seed = 1) {
  constexpr int kAlongX[4] = {200, 40, 120, 60}, kAlongY[4] = {40, 200, 100, 170};
  Image image(width, height, channels);
  uint32_t state = seed * 2654435761u + 1;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        state = state * 1664525u + 1013904223u;
        const int smooth = x * kAlongX[c % 4] / std::max(width - 1, 1) +
                           y * kAlongY[c % 4] / std::max(height - 1, 1);
        image.row(y)[x * channels + c] = uint8_t(smooth + int(state >> 28));
      }
    }
  }
  return image;
}

inline Image crop(const Image& image, Rect r) {
  Image out(r.width, r.height, image.channels);
  for (int y = 0; y < r.height; ++y) {
    const uint8_t* src = image.row(r.y + y) + size_t(r.x) * image.channels;
    std::copy(src, src + out.stride(), out.row(y));
  }
  return out;
}

// Largest absolute sample difference; images must have equal shapes.
inline int max_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.channels, b.channels);
  if (a.pixels.size() != b.pixels.size()) return 256;
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  }
  return worst;
}

// Replicates a gray image to RGB, as the decoders do.
inline Image gray_to_rgb(const Image& gray) {
  Image out(gray.width, gray.height, 3);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = gray.pixels[i];
  }
  return out;
}

// Runs f and returns the gpuaug::Error it throws; fails the test when it throws nothing.
template <typename F>
gpuaug::Error expect_error(F&& f) {
  try {
    f();
  } catch (const gpuaug::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected gpuaug::Error";
  return gpuaug::Error("", "", "");
}

// --- JPEG --------------------------------------------------------------------------------

struct JpegSpec {
  J_COLOR_SPACE in_space = JCS_RGB;        // of the pixels handed over
  J_COLOR_SPACE jpeg_space = JCS_UNKNOWN;  // JCS_UNKNOWN: jpeg_set_defaults' choice
  int quality = 90;
  bool subsample_444 = false;  // else the defaults (4:2:0 for YCbCr)
  int luma_h = 0, luma_v = 0;  // > 0: luma's sampling factors (chroma's stay 1): 2,1 is 4:2:2
  bool progressive = false;
  bool arithmetic = false;
  bool restart_rows = false;               // a restart marker every MCU row
  bool optimize = false;                   // Huffman tables optimized for the image
  std::vector<std::vector<uint8_t>> app1;  // APP1 payloads, written after APP0
  std::vector<jpeg_scan_info> scans;       // a custom scan script, when not empty
};

// Writes image (its channels must match spec.in_space) with plain libjpeg; libjpeg's
// default error handler exits, which is acceptable for a fixture.
inline std::vector<uint8_t> write_jpeg(const Image& image, const JpegSpec& spec = {}) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = JDIMENSION(image.width);
  cinfo.image_height = JDIMENSION(image.height);
  cinfo.input_components = image.channels;
  cinfo.in_color_space = spec.in_space;
  jpeg_set_defaults(&cinfo);
  if (spec.jpeg_space != JCS_UNKNOWN) jpeg_set_colorspace(&cinfo, spec.jpeg_space);
  jpeg_set_quality(&cinfo, spec.quality, TRUE);
  if (spec.subsample_444) {
    for (int c = 0; c < cinfo.num_components; ++c) {
      cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    }
  }
  if (spec.luma_h > 0) cinfo.comp_info[0].h_samp_factor = spec.luma_h, cinfo.comp_info[0].v_samp_factor = spec.luma_v;
  if (spec.progressive) jpeg_simple_progression(&cinfo);
  if (!spec.scans.empty()) {
    cinfo.scan_info = spec.scans.data();
    cinfo.num_scans = int(spec.scans.size());
  }
  cinfo.arith_code = spec.arithmetic ? TRUE : FALSE;
  if (spec.restart_rows) cinfo.restart_in_rows = 1;
  if (spec.optimize) cinfo.optimize_coding = TRUE;
  jpeg_start_compress(&cinfo, TRUE);
  for (const auto& payload : spec.app1) {
    jpeg_write_marker(&cinfo, JPEG_APP0 + 1, payload.data(), unsigned(payload.size()));
  }
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(image.row(int(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  return bytes;
}

// An Exif APP1 payload: "Exif\0\0", TIFF header, IFD0 with one or two entries (an unrelated
// tag first, so the reader has to walk), orientation stored as `type` (3 SHORT, 4 LONG).
inline std::vector<uint8_t> make_exif(bool big_endian, uint32_t orientation, uint16_t type = 3,
                                      uint32_t count = 1) {
  std::vector<uint8_t> p = {'E', 'x', 'i', 'f', 0, 0};
  auto put = [&](uint32_t value, int n) {
    for (int i = 0; i < n; ++i) {
      const int shift = 8 * (big_endian ? n - 1 - i : i);
      p.push_back(uint8_t(value >> shift));
    }
  };
  p.push_back(big_endian ? 'M' : 'I');
  p.push_back(big_endian ? 'M' : 'I');
  put(42, 2);
  put(8, 4);                                                 // IFD0 right after the header
  put(2, 2);                                                 // entries
  put(0x010F, 2), put(2, 2), put(4, 4), put(0x41424300, 4);  // Make "ABC" inline
  put(0x0112, 2), put(type, 2), put(count, 4);
  if (type == 3) {
    put(orientation, 2), put(0, 2);  // SHORT, left-justified in the value field
  } else {
    put(orientation, 4);
  }
  put(0, 4);  // no IFD1
  return p;
}

inline std::vector<uint8_t> make_xmp() {
  const std::string s = "http://ns.adobe.com/xap/1.0/";
  std::vector<uint8_t> p(s.begin(), s.end());
  p.push_back(0);
  const std::string xml =
      "<x:xmpmeta xmlns:x='adobe:ns:meta/'><tiff:Orientation>6"
      "</tiff:Orientation></x:xmpmeta>";
  p.insert(p.end(), xml.begin(), xml.end());
  return p;
}

// --- PNG ---------------------------------------------------------------------------------

struct PngSpec {
  int width = 0, height = 0;
  int bit_depth = 8;
  int color_type = PNG_COLOR_TYPE_RGB;
  bool interlaced = false;
  std::vector<png_color> palette;  // for PNG_COLOR_TYPE_PALETTE
  std::vector<uint8_t> trns;       // palette alpha, when not empty
};

inline void png_append(png_structp png, png_bytep data, size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

// samples: width * height * channels values, one per sample, row-major; 16-bit values are
// written big-endian, sub-byte ones packed by libpng.
inline std::vector<uint8_t> write_png(const PngSpec& spec, const std::vector<uint16_t>& samples) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, png_append, nullptr);
  png_set_IHDR(png, info, png_uint_32(spec.width), png_uint_32(spec.height), spec.bit_depth,
               spec.color_type, spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!spec.palette.empty()) {
    png_set_PLTE(png, info, spec.palette.data(), int(spec.palette.size()));
  }
  if (!spec.trns.empty()) {
    png_set_tRNS(png, info, spec.trns.data(), int(spec.trns.size()), nullptr);
  }
  png_write_info(png, info);
  if (spec.bit_depth < 8) png_set_packing(png);
  const int channels = png_get_channels(png, info);
  const size_t row_samples = size_t(spec.width) * channels;
  const size_t bytes_per_sample = spec.bit_depth == 16 ? 2 : 1;
  std::vector<uint8_t> image(row_samples * spec.height * bytes_per_sample);
  for (size_t i = 0; i < row_samples * spec.height; ++i) {
    if (bytes_per_sample == 2) {
      image[2 * i] = uint8_t(samples[i] >> 8);
      image[2 * i + 1] = uint8_t(samples[i]);
    } else {
      image[i] = uint8_t(samples[i]);
    }
  }
  std::vector<png_bytep> rows(spec.height);
  for (int y = 0; y < spec.height; ++y) {
    rows[y] = image.data() + size_t(y) * row_samples * bytes_per_sample;
  }
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// Deterministic samples below 2^bit_depth.
inline std::vector<uint16_t> make_samples(size_t count, int bit_depth, uint32_t seed = 7) {
  std::vector<uint16_t> v(count);
  uint32_t state = seed;
  for (auto& s : v) {
    state = state * 1664525u + 1013904223u;
    s = uint16_t((state >> 8) & ((1u << bit_depth) - 1));
  }
  return v;
}

// Offset of the first chunk of the given type in a PNG (its length field), or 0.
inline size_t find_chunk(const std::vector<uint8_t>& png, const char* type) {
  size_t pos = 8;
  while (pos + 8 <= png.size()) {
    const size_t length = size_t(png[pos]) << 24 | size_t(png[pos + 1]) << 16 |
                          size_t(png[pos + 2]) << 8 | png[pos + 3];
    if (std::equal(type, type + 4, png.begin() + pos + 4)) return pos;
    pos += 12 + length;
  }
  return 0;
}

// Recomputes the CRC of the chunk whose length field is at `at` (after a deliberate edit).
inline void fix_chunk_crc(std::vector<uint8_t>& png, size_t at) {
  const size_t length =
      size_t(png[at]) << 24 | size_t(png[at + 1]) << 16 | size_t(png[at + 2]) << 8 | png[at + 3];
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = at + 4; i < at + 8 + length; ++i) {
    crc ^= png[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  crc ^= 0xFFFFFFFFu;
  for (int i = 0; i < 4; ++i) png[at + 8 + length + i] = uint8_t(crc >> (24 - 8 * i));
}

// `png` with a chunk of `type` holding `data` inserted at byte `at` (a chunk boundary; 33 is
// right after IHDR), its CRC computed. Returns the new file.
inline std::vector<uint8_t> insert_chunk(const std::vector<uint8_t>& png, size_t at, const char* type,
                                         const std::vector<uint8_t>& data) {
  std::vector<uint8_t> chunk;
  for (int i = 0; i < 4; ++i) chunk.push_back(uint8_t(data.size() >> (24 - 8 * i)));
  chunk.insert(chunk.end(), type, type + 4);
  chunk.insert(chunk.end(), data.begin(), data.end());
  chunk.resize(chunk.size() + 4);
  fix_chunk_crc(chunk, 0);
  std::vector<uint8_t> out(png.begin(), png.begin() + long(at));
  out.insert(out.end(), chunk.begin(), chunk.end());
  out.insert(out.end(), png.begin() + long(at), png.end());
  return out;
}

// The TIFF part of make_exif's payload: what a PNG eXIf chunk holds.
inline std::vector<uint8_t> make_tiff_exif(bool big_endian, uint32_t orientation) {
  const std::vector<uint8_t> app1 = make_exif(big_endian, orientation);
  return {app1.begin() + 6, app1.end()};
}

// An RGB PNG of make_samples pixels with an eXIf chunk for `orientation` after IHDR.
inline std::vector<uint8_t> oriented_png(int width, int height, int orientation, bool big_endian = false) {
  const PngSpec spec{width, height, 8, PNG_COLOR_TYPE_RGB, false, {}, {}};
  return insert_chunk(write_png(spec, make_samples(size_t(width) * height * 3, 8)), 33, "eXIf",
                      make_tiff_exif(big_endian, uint32_t(orientation)));
}

}  // namespace codec_test
