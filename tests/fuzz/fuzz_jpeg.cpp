// libFuzzer target: JPEG (any file, really) through peek_image and decode_image with a small
// pixel cap, a DCT scale and a region taken from the input's first 5 bytes.
//
// Input: [scale | flags][x][y][w][h] then the file. Checked: only gpuaug::Error escapes; a
// decode returns an RGB image of consistent size, placed inside the scaled full image, and
// covering the requested region as decoder.h promises; the chunked Huffman decoder (the GPU's,
// codec/jpeg_huffman.h) accepts only what libjpeg decodes, and then gives libjpeg's blocks.
#include <algorithm>
#include <optional>
#include <vector>

#include "codec/decoder.h"
#include "codec/image_info.h"
#include "codec/jpeg_decoder.h"
#include "codec/jpeg_huffman.h"
#include "core/error.h"
#include "fuzz_common.h"

namespace gpuaug::fuzz {

constexpr uint64_t kJpegMaxPixels = 1u << 20;  // 1 Mpx: 3 MB of RGB, fast under ASan

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The file's scan through read_entropy and decode_scan_chunked against jpeg_read_coefficients.
inline void check_chunked_huffman(std::span<const uint8_t> file) {
  std::vector<uint8_t> buffer, chunked;
  std::optional<codec::JpegScan> scan;
  {
    codec::JpegPlaneReader reader(file, kJpegMaxPixels);  // a bad header throws: nothing to check
    if (!reader.finishable()) return;
    buffer.resize(reader.entropy_bytes_bound());
    scan = reader.read_entropy(buffer.data());
  }
  if (!scan) return;
  chunked.assign(scan->layout.bytes, 0);
  if (!codec::decode_scan_chunked(*scan, buffer.data(), chunked.data())) return;  // declined
  codec::JpegPlaneReader libjpeg(file, kJpegMaxPixels);
  std::vector<uint8_t> blocks(libjpeg.coefficient_layout().bytes, 0);
  bool decoded = true;
  try {
    (void)libjpeg.read_coefficients(blocks.data());
  } catch (const Error&) {
    decoded = false;
  }
  GPUAUG_FUZZ_CHECK(decoded);  // accepted a scan libjpeg rejects
  GPUAUG_FUZZ_CHECK(blocks == chunked);
}

inline int jpeg_one_input(const uint8_t* data, size_t size) {
  const Split in = split(data, size, 5);
  if (in.params.empty()) return 0;
  const uint8_t* p = in.params.data();
  codec::DecodeRequest request;
  request.scale_denom = 1 << (p[0] & 3);
  request.max_pixels = kJpegMaxPixels;
  try {
    check_chunked_huffman(in.payload);
  } catch (const Error&) {
  }
  try {
    const codec::ImageInfo info = codec::peek_image(in.payload, kJpegMaxPixels);
    const int ow = info.oriented_width(), oh = info.oriented_height();
    if (p[0] & 4) {  // a region in fractions of 1/256 of the upright image, or absolute pixels
      const bool relative = p[0] & 8;
      request.region.x = relative ? int(int64_t(ow) * p[1] / 256) : p[1] - 8;
      request.region.y = relative ? int(int64_t(oh) * p[2] / 256) : p[2] - 8;
      request.region.width = relative ? std::max(1, int(int64_t(ow) * p[3] / 256)) : p[3];
      request.region.height = relative ? std::max(1, int(int64_t(oh) * p[4] / 256)) : p[4] + 1;
    }
    const codec::DecodedImage out = codec::decode_image(in.payload, request);
    const Image& image = out.image;
    GPUAUG_FUZZ_CHECK(image.channels == 3);
    GPUAUG_FUZZ_CHECK(image.width > 0 && image.height > 0);
    GPUAUG_FUZZ_CHECK(image.pixels.size() == size_t(image.width) * image.height * 3);
    GPUAUG_FUZZ_CHECK(out.origin_x >= 0 && out.origin_y >= 0);
    GPUAUG_FUZZ_CHECK(out.origin_x + image.width <= out.full_width);
    GPUAUG_FUZZ_CHECK(out.origin_y + image.height <= out.full_height);
    if (info.format == codec::ImageFormat::kPng) {
      GPUAUG_FUZZ_CHECK(image.width == ow && image.height == oh);
      return 0;
    }
    const int s = out.scale_denom;
    GPUAUG_FUZZ_CHECK(out.full_width == ceil_div(ow, s) && out.full_height == ceil_div(oh, s));
    GPUAUG_FUZZ_CHECK(out.grid_offset_x >= 0 && out.grid_offset_x < s);
    GPUAUG_FUZZ_CHECK(out.grid_offset_y >= 0 && out.grid_offset_y < s);
    // The region (clipped) is covered: decoder.h's promise.
    const codec::Rect r = codec::clip_region(request.region, ow, oh);
    const int64_t x0 = (int64_t(r.x) + out.grid_offset_x) / s;
    const int64_t y0 = (int64_t(r.y) + out.grid_offset_y) / s;
    const int64_t x1 = ceil_div(int64_t(r.x) + r.width + out.grid_offset_x, s);
    const int64_t y1 = ceil_div(int64_t(r.y) + r.height + out.grid_offset_y, s);
    GPUAUG_FUZZ_CHECK(out.origin_x <= x0 && out.origin_y <= y0);
    GPUAUG_FUZZ_CHECK(out.origin_x + image.width >= x1 && out.origin_y + image.height >= y1);
  } catch (const Error&) {
    // The contract: a bad file is an Error (file, stage, cause), nothing else.
  }
  return 0;
}

}  // namespace gpuaug::fuzz

#ifndef GPUAUG_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gpuaug::fuzz::jpeg_one_input(data, size);
}
#endif
