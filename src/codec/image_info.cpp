// peek_image: bounds-checked JPEG marker walk, PNG IHDR read and chunk walk to IDAT.
#include "codec/image_info.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include <zlib.h>

#include "codec/exif.h"
#include "core/error.h"

namespace gpuaug::codec {

namespace {

constexpr std::array<uint8_t, 3> kJpegMagic = {0xFF, 0xD8, 0xFF};
constexpr std::array<uint8_t, 8> kPngMagic = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

[[noreturn]] void fail(const std::string& cause) { throw Error("", "header", cause); }

uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }

bool starts_with(std::span<const uint8_t> bytes, std::span<const uint8_t> magic) {
  return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}

// True when bytes are a proper prefix of magic: a file cut inside its signature.
bool is_prefix_of(std::span<const uint8_t> bytes, std::span<const uint8_t> magic) {
  return bytes.size() < magic.size() && std::equal(bytes.begin(), bytes.end(), magic.begin());
}

// SOFn markers: C0..CF except C4 (DHT), C8 (JPG extension) and CC (DAC).
bool is_sof(uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

ImageInfo peek_jpeg(std::span<const uint8_t> bytes) {
  ImageInfo info;
  info.format = ImageFormat::kJpeg;
  bool have_sof = false, have_exif = false;
  bool defined[4] = {false, false, false, false};  // quantization tables, by DQT
  uint32_t used = 0;                                // bit t: a component quantizes with table t
  const char* stopped = "truncated header";  // why the walk ended, should it end before SOF
  size_t pos = 2;                            // after SOI
  // Walk to SOS rather than stopping at SOF: an Exif APP1 after SOF still counts for Pillow
  // and OpenCV, and the tables in between are small. Once SOF is known, a damaged
  // segment only ends the walk; the decoder reports it.
  while (pos < bytes.size()) {
    if (bytes[pos] != 0xFF) {
      stopped = "malformed JPEG header (expected a marker)";
      break;
    }
    while (pos < bytes.size() && bytes[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= bytes.size()) break;
    const uint8_t marker = bytes[pos++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
    if (marker == 0xDA || marker == 0xD9) {                              // SOS, EOI
      stopped = "malformed JPEG header (no SOF marker before the scan data)";
      if (marker == 0xDA && pos + 2 <= bytes.size()) {
        info.jpeg_scan_offset = pos + be16(&bytes[pos]);
        info.jpeg_tables_defined = true;
        for (int t = 0; t < 5; ++t)
          if ((used >> t & 1) && (t == 4 || !defined[t])) info.jpeg_tables_defined = false;
      }
      break;
    }
    if (pos + 2 > bytes.size()) break;
    const size_t length = be16(&bytes[pos]);
    if (length < 2) {
      stopped = "malformed JPEG header (segment length below 2)";
      break;
    }
    if (pos + length > bytes.size()) break;
    const std::span<const uint8_t> payload = bytes.subspan(pos + 2, length - 2);
    pos += length;
    if (is_sof(marker) && !have_sof) {
      if (payload.size() < 6) fail("malformed JPEG header (SOF segment too short)");
      info.bit_depth = payload[0];
      info.height = int(be16(&payload[1]));
      info.width = int(be16(&payload[3]));
      info.channels = payload[5];
      info.progressive = marker != 0xC0;
      have_sof = true;
      // Each component's blocks: its share of the frame by its sampling factors (H, V), in 8x8s.
      const int components = info.channels;
      if (payload.size() >= size_t(6 + 3 * components)) {
        uint64_t h_max = 1, v_max = 1;
        for (int c = 0; c < components; ++c) {
          h_max = std::max<uint64_t>(h_max, payload[7 + 3 * c] >> 4);
          v_max = std::max<uint64_t>(v_max, payload[7 + 3 * c] & 15);
        }
        for (int c = 0; c < components; ++c) {
          const uint64_t h = std::max(1, payload[7 + 3 * c] >> 4), v = std::max(1, payload[7 + 3 * c] & 15);
          const uint64_t width = (uint64_t(info.width) * h + h_max - 1) / h_max;
          const uint64_t height = (uint64_t(info.height) * v + v_max - 1) / v_max;
          info.jpeg_blocks += ((width + 7) / 8) * ((height + 7) / 8);
          used |= 1u << std::min(payload[8 + 3 * c], uint8_t(4));  // past 3: no table defines it
        }
      }
    } else if (marker == 0xDB) {  // DQT: (precision << 4 | table), then 64 entries of 1 or 2 bytes
      // A table number past 3 is libjpeg's "bogus DQT index": it defines none.
      for (size_t k = 0; k < payload.size(); k += 1 + ((payload[k] >> 4) ? 128 : 64))
        if ((payload[k] & 15) < 4) defined[payload[k] & 15] = true;
    } else if (marker == 0xE1 && !have_exif && payload.size() >= 6 &&
               std::equal(payload.begin(), payload.begin() + 6, "Exif\0\0")) {
      info.orientation = exif_orientation(payload);  // the first Exif APP1 wins, as in Pillow
      have_exif = true;
    }
  }
  if (!have_sof) fail(stopped);
  return info;
}

// Chunks looked at after IHDR for an eXIf: real files have a handful before IDAT, and the bound
// keeps a file of a million empty chunks from costing more than a header read.
constexpr int kMaxPngHeaderChunks = 1024;

// The orientation in the first eXIf chunk before IDAT (torchvision's decode_png reads it through
// libpng, which knows only the chunks before IDAT; Pillow also honours one after). The chunk's
// bytes are read in place: its claimed length only has to fit in the file, and sizes nothing.
// A bad CRC drops the chunk, as libpng drops a damaged ancillary chunk; a damaged chunk
// structure ends the walk (the decoder reports it).
int png_orientation(std::span<const uint8_t> bytes, size_t pos) {
  for (int n = 0; n < kMaxPngHeaderChunks && bytes.size() - pos >= 12; ++n) {
    const uint32_t length = be32(&bytes[pos]);
    const uint8_t* type = &bytes[pos + 4];
    if (length > 0x7FFFFFFF || length > bytes.size() - pos - 12) return 1;
    if (std::equal(type, type + 4, "IDAT") || std::equal(type, type + 4, "IEND")) return 1;
    if (std::equal(type, type + 4, "eXIf")) {
      const uint32_t crc = be32(&bytes[pos + 8 + length]);
      if (uint32_t(crc32(0, type, uInt(length) + 4)) != crc) return 1;
      return tiff_orientation(bytes.subspan(pos + 8, length));
    }
    pos += 12 + size_t(length);
  }
  return 1;
}

ImageInfo peek_png(std::span<const uint8_t> bytes) {
  // Signature (8), IHDR length (4) and type (4), then 13 bytes of IHDR data.
  if (bytes.size() < 8 + 8 + 13) fail("truncated header");
  const uint8_t* ihdr = bytes.data() + 8;
  if (be32(ihdr) != 13 || !std::equal(ihdr + 4, ihdr + 8, "IHDR")) {
    fail("malformed PNG header (first chunk is not a 13-byte IHDR)");
  }
  const uint8_t* data = ihdr + 8;
  ImageInfo info;
  info.format = ImageFormat::kPng;
  const uint32_t width = be32(data), height = be32(data + 4);
  if (width > 0x7FFFFFFF || height > 0x7FFFFFFF) fail("malformed PNG header (size above 2^31-1)");
  info.width = int(width);
  info.height = int(height);
  info.bit_depth = data[8];
  switch (data[9]) {  // colour type
    case 0:
      info.channels = 1;
      break;
    case 2:
      info.channels = 3;
      break;
    case 3:
      info.channels = 3;
      break;
    case 4:
      info.channels = 2;
      break;
    case 6:
      info.channels = 4;
      break;
    default:
      fail("malformed PNG header (colour type " + std::to_string(data[9]) + ")");
  }
  info.progressive = data[12] == 1;
  if (bytes.size() >= 8 + 8 + 13 + 4) info.orientation = png_orientation(bytes, 8 + 8 + 13 + 4);
  return info;
}

std::string hex_prefix(std::span<const uint8_t> bytes) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 4); ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%s0x%02X", i ? " " : "", bytes[i]);
    out += buf;
  }
  return out;
}

}  // namespace

void check_image_size(int64_t width, int64_t height, uint64_t max_pixels, const char* stage) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) throw Error("", stage, "image size " + size + " is empty");
  const uint64_t pixels = uint64_t(width) * uint64_t(height);
  if (pixels > max_pixels) {
    throw Error("", stage,
                "image is " + size + " = " + std::to_string(pixels) + " pixels, above max_pixels " +
                    std::to_string(max_pixels));
  }
}

Rect clip_region(Rect r, int width, int height) {
  if (r.width == 0) return {0, 0, width, height};
  const int64_t x0 = std::max(r.x, 0), y0 = std::max(r.y, 0);
  const int64_t x1 = std::min<int64_t>(int64_t(r.x) + r.width, width);
  const int64_t y1 = std::min<int64_t>(int64_t(r.y) + r.height, height);
  if (r.width < 0 || r.height <= 0 || x0 >= x1 || y0 >= y1) {
    throw Error("", "decode",
                "region " + std::to_string(r.x) + "," + std::to_string(r.y) + " " +
                    std::to_string(r.width) + "x" + std::to_string(r.height) +
                    " does not overlap the " + std::to_string(width) + "x" +
                    std::to_string(height) + " image");
  }
  return {int(x0), int(y0), int(x1 - x0), int(y1 - y0)};
}

ImageInfo peek_image(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  if (bytes.empty()) fail("empty file");
  ImageInfo info;
  if (starts_with(bytes, kJpegMagic)) {
    info = peek_jpeg(bytes);
  } else if (starts_with(bytes, kPngMagic)) {
    info = peek_png(bytes);
  } else if (is_prefix_of(bytes, kJpegMagic) || is_prefix_of(bytes, kPngMagic)) {
    fail("truncated header");
  } else {
    fail("not a JPEG or PNG (starts with " + hex_prefix(bytes) + ")");
  }
  check_image_size(info.width, info.height, max_pixels, "header");
  return info;
}

}  // namespace gpuaug::codec
