// Images handed over in memory as uint8 or float32 arrays of any strides (C x H x W, H x W x C,
// one gray channel; host or GPU) turned into the interleaved RGB sources the executors read.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/host_device.h"
#include "core/tensor.h"
#include "plan/plan.h"

namespace gpuaug::plan {

// One image: `channels` 1 (gray) or 3 (RGB); element (y, x, c) at element y*stride_y +
// x*stride_x + c*stride_c from data (DLPack's strides; negative ones too). Elements are uint8,
// or with `is_float` float32 on the [0, 1] scale.
struct StridedImage {
  const uint8_t* data = nullptr;
  int height = 0;
  int width = 0;
  int channels = 3;
  int64_t stride_y = 0;
  int64_t stride_x = 0;
  int64_t stride_c = 0;
  bool is_float = false;
};

// Channel c (0..2) of pixel (x, y) as RGB, T the element type (uint8_t, or float with
// is_float): a gray image gives its value to all three, as the decoders expand gray files
// (png_set_gray_to_rgb). One source for the CPU copies and the kernel.
template <class T = uint8_t>
GPUAUG_HD_INLINE T rgb_value(const StridedImage& s, int x, int y, int c) {
  return reinterpret_cast<const T*>(s.data)[int64_t(y) * s.stride_y + int64_t(x) * s.stride_x +
                                            int64_t(s.channels == 1 ? 0 : c) * s.stride_c];
}

// Three channels, each pixel's R, G, B side by side (8-bit or float).
inline bool has_interleaved_pixels(const StridedImage& s) {
  return s.channels == 3 && s.stride_c == 1 && s.stride_x == 3;
}
// Whether the CPU executor reads `s` in place: 8-bit interleaved RGB, rows a non-negative
// stride apart.
inline bool is_interleaved_rgb(const StridedImage& s) {
  return !s.is_float && has_interleaved_pixels(s) && s.stride_y >= 0;
}
// Whether the CUDA executor reads it in place: interleaved RGB (8-bit or float) with rows
// packed.
inline bool is_packed_rgb(const StridedImage& s) {
  return has_interleaved_pixels(s) && (s.height <= 1 || s.stride_y == int64_t(s.width) * 3);
}

// `s` as the CPU executor reads it; it must be interleaved RGB (is_interleaved_rgb).
SourceView source_view(const StridedImage& s);
// A packed RGB copy of a host image.
Image to_rgb(const StridedImage& s);
// A packed RGB float copy of a host float image (gray into all three channels), and the view
// the CPU executor reads it through.
std::vector<float> to_rgb_float(const StridedImage& s);
SourceView float_source_view(const std::vector<float>& rgb, int width, int height);

// Images already in one GPU's memory as the CUDA executor's device sources (packed
// interleaved RGB, of the image's element type): in place where they are (is_packed_rgb), else
// converted by one kernel into a buffer of its own that stays valid until the next call.
// Builds without CUDA throw on construction.
class DeviceRgbSources {
 public:
  explicit DeviceRgbSources(int device);
  ~DeviceRgbSources();
  DeviceRgbSources(const DeviceRgbSources&) = delete;
  DeviceRgbSources& operator=(const DeviceRgbSources&) = delete;

  // One device address per image. First waits for the work queued on the legacy default stream
  // (where a DLPack producer asked with stream=1 makes its writes of the images visible), so
  // the images are complete when read; returns once the conversion is done.
  std::vector<const uint8_t*> prepare(std::span<const StridedImage> images);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpuaug::plan
