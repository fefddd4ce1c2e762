// ImageInfo and peek_image: format, size, channels and EXIF orientation from the header alone.
#pragma once

#include <cstdint>
#include <span>

namespace gpuaug::codec {

enum class ImageFormat { kUnknown, kJpeg, kPng };

// A pixel rectangle; which image's coordinates it is in is said where it is used.
struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
};

struct ImageInfo {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0, height = 0;  // as stored in the file, before EXIF orientation
  // Components in the file: 1 gray, 2 gray+alpha, 3 (RGB, YCbCr, and PNG palettes, whose
  // entries are RGB), 4 (CMYK, YCCK, RGBA).
  int channels = 0;
  // EXIF orientation 1..8 (JPEG: the first Exif APP1; PNG: an eXIf chunk before IDAT); 1 when
  // absent or invalid.
  int orientation = 1;
  // JPEG: anything but baseline SOF0 (extended, progressive, arithmetic, lossless), i.e. what
  // nvJPEG's hardware engine rejects. PNG: Adam7 interlaced.
  bool progressive = false;
  int bit_depth = 8;  // JPEG sample precision, PNG bit depth per sample (1..16)
  // JPEG: the 8x8 blocks the frame codes (every component), whether each quantization table its
  // components use is defined before the first scan, and where that scan's data begins (0: no
  // scan header in the file).
  uint64_t jpeg_blocks = 0;
  bool jpeg_tables_defined = false;
  size_t jpeg_scan_offset = 0;

  int oriented_width() const { return orientation >= 5 ? height : width; }
  int oriented_height() const { return orientation >= 5 ? width : height; }
};

inline constexpr uint64_t kDefaultMaxPixels = 178956970;  // Pillow's MAX_IMAGE_PIXELS

// Reads the header only (JPEG: markers up to SOS, for SOF and the first Exif APP1; PNG: IHDR,
// then the chunks before IDAT for eXIf, at most 1024 of them, read in place).
// The format comes from the magic bytes, never a file name. Throws gpuaug::Error with an empty
// file, stage "header", and a cause such as "not a JPEG or PNG (starts with 0x47 0x49 0x46
// 0x38)", "empty file", "truncated header", or "image is 65535x65535 = 4294836225 pixels,
// above max_pixels 178956970".
ImageInfo peek_image(std::span<const uint8_t> bytes, uint64_t max_pixels = kDefaultMaxPixels);

// Throws gpuaug::Error(stage) with the cause above when width x height exceeds max_pixels,
// or when either is not positive; the one place the pixel cap is worded.
void check_image_size(int64_t width, int64_t height, uint64_t max_pixels, const char* stage);

// Clips region to a width x height image; width 0 means the whole image. Throws
// gpuaug::Error(stage "decode") when they do not overlap or a size is negative.
Rect clip_region(Rect region, int width, int height);

}  // namespace gpuaug::codec
