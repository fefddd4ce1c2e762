// JpegPlanes: a JPEG's samples as libjpeg decodes them before upsampling and colour conversion,
// and jpeg_planes_rgb, which finishes any pixel of them to libjpeg-turbo's RGB exactly, on the
// CPU and in CUDA kernels alike (stats hands the finish to the GPU: half the bytes of RGB at
// 4:2:0, and a fifth of the CPU's decode).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/host_device.h"

namespace gpuaug::codec {

// Where the planes lie in one buffer. Gray: plane 0 only. YCbCr: luma at h_factor x v_factor
// the chroma's resolution (1x1 4:4:4, 2x1 4:2:2, 2x2 4:2:0), the only samplings jpeg_planes_rgb
// finishes (JpegPlaneReader leaves others to decode_jpeg).
struct JpegPlanes {
  int width = 0, height = 0;  // the image's
  int components = 0;         // 1 or 3
  int h_factor = 1, v_factor = 1;
  int chroma_width = 0, chroma_height = 0;  // libjpeg's downsampled_width and _height of Cb and Cr
  int pitch[3] = {};                        // bytes from a plane's row to the next
  size_t offset[3] = {};                    // of each plane from the buffer's start
  size_t bytes = 0;                         // the buffer's size
};

namespace planes_detail {

GPUAUG_HD_INLINE int clamp_index(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }
GPUAUG_HD_INLINE int clamp_sample(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

// libjpeg-turbo's upsampled chroma at (x, y) (jdsample.c): fancy (triangle) upsampling with the
// edge samples repeated, and its two roundings alternating by column; plain replication where
// the chroma is at most 2 samples wide, as jinit_upsampler chooses.
GPUAUG_HD_INLINE int upsampled_chroma(const JpegPlanes& p, const uint8_t* plane, int pitch, int x, int y) {
  if ((p.h_factor == 1 && p.v_factor == 1) || p.chroma_width <= 2)
    return plane[size_t(y / p.v_factor) * size_t(pitch) + size_t(x / p.h_factor)];
  const int cx = x / 2, nx = clamp_index(cx + ((x & 1) ? 1 : -1), p.chroma_width - 1);
  if (p.v_factor == 1) {  // h2v1_fancy_upsample
    const uint8_t* row = plane + size_t(y) * size_t(pitch);
    return (3 * row[cx] + row[nx] + ((x & 1) ? 2 : 1)) >> 2;
  }
  // h2v2_fancy_upsample: the nearer row weighs 3, the further 1, then the same across columns.
  const int cy = y / 2, ny = clamp_index(cy + ((y & 1) ? 1 : -1), p.chroma_height - 1);
  const uint8_t* near_row = plane + size_t(cy) * size_t(pitch);
  const uint8_t* far_row = plane + size_t(ny) * size_t(pitch);
  const int here = 3 * near_row[cx] + far_row[cx], next = 3 * near_row[nx] + far_row[nx];
  return (3 * here + next + ((x & 1) ? 7 : 8)) >> 4;
}

}  // namespace planes_detail

// The RGB of pixel (x, y): libjpeg's ycc_rgb_convert (jdcolor.c) on the upsampled samples, its
// 16-bit fixed-point tables written out; gray repeats Y.
GPUAUG_HD_INLINE void jpeg_planes_rgb(const JpegPlanes& p, const uint8_t* base, int x, int y, int rgb[3]) {
  const int luma = base[p.offset[0] + size_t(y) * size_t(p.pitch[0]) + size_t(x)];
  if (p.components == 1) {
    rgb[0] = rgb[1] = rgb[2] = luma;
    return;
  }
  const int cb = planes_detail::upsampled_chroma(p, base + p.offset[1], p.pitch[1], x, y) - 128;
  const int cr = planes_detail::upsampled_chroma(p, base + p.offset[2], p.pitch[2], x, y) - 128;
  constexpr int kHalf = 1 << 15;
  // FIX(1.40200), FIX(1.77200), FIX(0.71414), FIX(0.34414) at 16 bits, rounded as libjpeg does.
  rgb[0] = planes_detail::clamp_sample(luma + ((91881 * cr + kHalf) >> 16));
  rgb[1] = planes_detail::clamp_sample(luma + ((-22554 * cb - 46802 * cr + kHalf) >> 16));
  rgb[2] = planes_detail::clamp_sample(luma + ((116130 * cb + kHalf) >> 16));
}

}  // namespace gpuaug::codec
