// decode_image and read_file: the codec entry points the pipeline uses.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "codec/image_info.h"
#include "core/tensor.h"

namespace gpuaug::codec {

struct DecodeRequest {
  Rect region;          // upright (EXIF-oriented) full-resolution coordinates; width 0: whole
  int scale_denom = 1;  // 1, 2, 4, 8: honoured for JPEG, ignored (1) for PNG
  uint64_t max_pixels = kDefaultMaxPixels;
};

struct DecodedImage {
  Image image;                     // 8-bit RGB, EXIF orientation applied
  int scale_denom = 1;             // the scale actually used
  int origin_x = 0, origin_y = 0;  // image's top-left in upright, scaled full-image coordinates
  int full_width = 0, full_height = 0;  // upright, scaled full image size
  // libjpeg's scaled pixel grid starts at the stored image's top-left corner, so when the
  // orientation mirrors an axis (x for 2, 3, 6, 7; y for 3, 4, 7, 8) and the size is not a
  // multiple of scale_denom, the upright scaled grid begins this many full-resolution pixels
  // before the upright image: upright full-resolution coordinate u lies at scaled coordinate
  // (u + grid_offset_x) / scale_denom (continuous, pixel edges at integers), likewise v. Zero
  // otherwise, and always for PNG. grid_offset < scale_denom.
  int grid_offset_x = 0, grid_offset_y = 0;
};

// Peeks the header, then decodes. JPEG: the region (clipped to the image) is mapped to the
// stored image with oriented_to_raw, decoded by decode_jpeg at 1/scale_denom, and the decoded
// part turned upright. It covers at least the scaled pixels that hold any of the region,
// [floor((x + grid_offset_x) / s), ceil((x + w + grid_offset_x) / s)) and likewise in y, and
// may be larger; within them its pixels equal those of a whole-image decode_image. PNG: always
// the whole image at scale 1 with origin 0,0, turned upright (libpng cannot skip rows or
// columns, and a crop here would only copy what the caller's plan reads anyway), by the
// orientation of its eXIf chunk as for JPEG. A region lying wholly outside
// the image is an error for both formats. Throws gpuaug::Error with an empty file and stage
// "header" or "decode"; the caller attaches the path with Error::with_file.
DecodedImage decode_image(std::span<const uint8_t> bytes, const DecodeRequest& request);

// decode_image's rows a few at a time instead of one image, for a caller that keeps only a band
// of them (jobs::run_tiled_streamed): an upright JPEG's region at the request's scale
// (JpegRowReader) or an upright non-interlaced PNG whole (PngRowReader), row y being row y of
// decode_image's image, and the same scale and origin. Errors as decode_image's; `bytes` must
// outlive the reader.
class RowReader {
 public:
  // Whether it takes an image of this header.
  static bool takes(const ImageInfo& info);
  RowReader(std::span<const uint8_t> bytes, const DecodeRequest& request);
  ~RowReader();
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;

  int width() const;
  int rows() const;
  int rows_read() const;
  int scale_denom() const { return scale_denom_; }
  int origin_x() const { return origin_x_; }
  int origin_y() const { return origin_y_; }
  void read(uint8_t* const* dst, int count);

 private:
  std::unique_ptr<class JpegRowReader> jpeg_;
  std::unique_ptr<class PngRowReader> png_;
  int scale_denom_ = 1, origin_x_ = 0, origin_y_ = 0;
};

// Reads a whole file. Throws gpuaug::Error(path, "read", cause): strerror text for a missing,
// unreadable or directory path and a broken symlink; "empty file" for an empty one, and for a
// FIFO nobody writes to (opened without blocking, so it never hangs); "not a regular file (a
// character device)" for devices and sockets (a link to /dev/zero would never end); pipes and
// /proc files are read to their end, up to 1 GiB.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace gpuaug::codec
