// decode_png: libpng decode of a whole PNG to 8-bit RGB; PngRowReader: the same rows a few at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/tensor.h"

namespace gpuaug::codec {

// 8-bit RGB as Pillow's Image.open(...).convert("RGB") gives for 8-bit and RGB(A) 16-bit
// files: 16-bit samples keep their high byte (png_set_strip_16; for 16-bit gray Pillow
// instead clips I;16 at 255, which we do not copy), palettes expand, 1/2/4-bit gray scales to
// 0..255, gray is replicated, alpha is dropped without compositing, tRNS is ignored, Adam7
// interlacing is undone. No gamma, sBIT or colour-profile transform: every ancillary chunk but
// tRNS is skipped unread (its CRC still checked; a bad one only warns), so a chunk's claimed
// length never sizes an allocation. Reads through IEND.
// Throws gpuaug::Error with an empty file, stage "decode" and libpng's message as the cause
// (bad CRC in a critical chunk, truncated data, zlib errors), or the max_pixels cause of
// check_image_size before any pixel buffer is allocated.
Image decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels);

// decode_png's rows of a non-interlaced PNG handed over a few at a time (the same libpng
// transforms, so the same rows), for a caller that keeps only a band of them (jobs/tile). An
// interlaced file is an Error: its passes need the whole image. `bytes` must outlive the reader.
class PngRowReader {
 public:
  PngRowReader(std::span<const uint8_t> bytes, uint64_t max_pixels);
  ~PngRowReader();
  PngRowReader(const PngRowReader&) = delete;
  PngRowReader& operator=(const PngRowReader&) = delete;

  int width() const;
  int rows() const;
  int rows_read() const;
  // The next `count` rows (fewer at the end) into dst[0 .. count), each width() * 3 bytes.
  void read(uint8_t* const* dst, int count);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpuaug::codec
