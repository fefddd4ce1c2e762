// CudaExecutor: packing a batch's plans and sources, the fused per-batch kernel, and the
// kernels of the steps that cannot fold (contrast's mean, blur). No fmt here: fmt 9 does not
// compile under nvcc's C++20. Arithmetic lives in
// resample_math.h and pixel_math.h, shared with the CPU executor.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <string>
#include <type_traits>

#include <cuda_fp16.h>

#include "core/cuda_memory.h"
#include "core/cuda_runtime_info.h"
#include "core/error.h"
#include "core/half.h"
#include "plan/cuda_executor.h"
#include "plan/pixel_math.h"
#include "plan/pixel_passes.h"
#include "plan/resample_math.h"

namespace gpuaug::plan {

namespace {

constexpr int kMaxRounds = 8;  // barriers (contrast, blur) per sample
constexpr size_t kMaxSamplesPerLaunch = 65535;  // gridDim.y's limit
// Torch's "reflect" padding of the blur (edge not repeated), as pixel_passes.cpp's reflect_101.
constexpr uint8_t kReflect = static_cast<uint8_t>(ops::Border::kReflect);

// Everything the kernels need about one sample, packed for one upload.
struct GpuSample {
  AxisSampler ax, ay;
  WarpSampler warp;
  Fills fills;
  uint8_t separable, dtype, layout, channels, rounds;
  uint8_t fills_levels;  // level_table_kernel fills `levels` from this sample (others share it)
  uint16_t op_count;
  uint32_t op_begin;  // into the batch's op array: 16 bits wrapped past 65,535 ops a batch
  uint16_t barrier[kMaxRounds];    // op index of each barrier, in order
  int32_t blur_weights[kMaxRounds];  // offset into the blur weight table, -1 if not a blur
  int src_w, src_h;     // the decoded image (indices and border rules use its size)
  int src_x0, src_y0;   // its pixel held at `src` (a tile's source region starts there)
  size_t src_pitch;     // elements a row of `src`
  const void* src;      // the sample's RGB in device memory: 8-bit, or float for a float source
  int out_w, out_h;     // the whole output
  uint64_t out_offset;  // bytes into the output buffer
  uint64_t work_offset;  // floats into the work buffer (rounds > 0), comp_w x comp_h pixels
  RandomKey key;
  uint64_t index;
  uint32_t stream;
  // Separable taps, precomputed per output column and row by axis_table_kernel.
  uint32_t x_entries, y_entries;  // index of column 0 / row 0 in the entry array
  int x_stride, y_stride;         // weight slots per entry
  uint64_t x_weights, y_weights;  // float offset of column 0 / row 0 in the weight array
  // The sample's pixel program as a table of output bits, 256 levels a channel (filled by
  // level_table_kernel; the tiles kernel reads it); null where the program runs step by step.
  // Samples next to each other with the same program share one table (same_level_table).
  uint32_t* levels;
  int tiles_x, tiles;  // resample_tiles_kernel's tiles across and in all
  uint32_t* tile_counts;  // the batch's [tiles run, tiles pixel by pixel] (ResampleReport)
  // Tiles (last, away from the fields every pixel reads): what is computed and stored.
  int comp_x, comp_y, comp_w, comp_h;  // pixels computed: the window and its blur halo
  int win_x, win_y, win_w, win_h;      // pixels stored (the whole output unless tiled)
  int blur_target[kMaxRounds][4];      // round r's blur computes x, y, width, height
};

// Weight slots an axis entry needs: torchvision's taps span at most 2 * support + 1 pixels.
int max_taps(const AxisSampler& a) {
  if (a.interp == static_cast<uint8_t>(ops::Interp::kNearest)) return 1;
  return static_cast<int>(std::ceil(2.0 * a.support)) + 2;
}

// One thread per (sample, axis, output index): the same taps and weights build_axis_table
// computes on the CPU, from the same functions.
__global__ void axis_table_kernel(const GpuSample* samples, int2* entries, float* weights) {
  const GpuSample& s = samples[blockIdx.y];
  if (!s.separable) return;
  const bool vertical = blockIdx.z == 1;
  const AxisSampler& a = vertical ? s.ay : s.ax;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= a.out_size) return;
  double centre = 0.0;
  int fill = 0;
  const bool valid = axis_centre(a, i, centre, fill);
  int first = 0;
  int count = valid ? axis_taps(a, centre, first) : 0;
  const int stride = vertical ? s.y_stride : s.x_stride;
  if (count > stride) count = stride;  // cannot happen: max_taps bounds it
  const double total = axis_total(a, centre, first, count);
  float* w = weights + (vertical ? s.y_weights : s.x_weights) + size_t(i) * stride;
  for (int j = 0; j < count; ++j) w[j] = axis_weight(a, centre, first + j, total);
  // No taps: `first` holds the fill number instead (separable_pixel).
  entries[(vertical ? s.y_entries : s.x_entries) + i] = make_int2(count > 0 ? first : fill, count);
}

// A warp's source reads through its source edges: a pixel, or the fill of the outer border,
// as the CPU executor's SourceFetch.
// kWindowed false: the source is a whole decoded image (x0 = y0 = 0, rows packed), addressed as
// before tiles existed; true: a region of it. Pixel: uint8_t, or float for a float source.
template <bool kWindowed, class Pixel>
struct DeviceFetch {
  const Pixel* src;
  int width, height;  // the decoded image
  int x0, y0;         // its pixel at src
  size_t pitch;
  const Fills* fills;
  const AxisEdges* ex;  // the warp's, per axis
  const AxisEdges* ey;
  // One past the last column held at src: a region's (a tile's source) ends before the image's.
  __device__ int columns_end() const { return kWindowed ? x0 + int(pitch / 3) : width; }
  __device__ const Pixel* at(int x, int y) const {
    if constexpr (kWindowed) return src + size_t(y - y0) * pitch + size_t(x - x0) * 3;
    else return src + (size_t(y) * width + x) * 3;
  }
  __device__ void operator()(int x, int y, float px[3]) const {
    const int bx = fold_tap(x, *ex, width);
    const int by = fold_tap(y, *ey, height);
    const int f = fill_of(bx, by);
    if (f >= 0) {
      px[0] = fills->v[f][0], px[1] = fills->v[f][1], px[2] = fills->v[f][2];
      return;
    }
    const Pixel* p = at(bx, by);
    px[0] = p[0], px[1] = p[1], px[2] = p[2];
  }
};

// Most RRC-style pixels have at most this many column taps (a shrink of up to about 2.5x):
// their weights are held in registers across the rows instead of being read again per row.
constexpr int kRegisterTaps = 6;

// One row's horizontal sum of `count` taps from p (interleaved RGB, device memory the kernel only
// reads: loaded through the read-only path) with weights w, tap by tap in order. kUnrolled > 0:
// count <= kUnrolled, the loop unrolled so that a w held in registers stays there.
template <int kUnrolled, class Pixel>
__device__ __forceinline__ void sum_row_taps(const Pixel* p, const float* w, int count, float h[3]) {
  h[0] = h[1] = h[2] = 0.0f;
  if constexpr (kUnrolled > 0) {
#pragma unroll
    for (int j = 0; j < kUnrolled; ++j) {
      if (j < count) {
        h[0] += w[j] * float(__ldg(p + 3 * j));
        h[1] += w[j] * float(__ldg(p + 3 * j + 1));
        h[2] += w[j] * float(__ldg(p + 3 * j + 2));
      }
    }
  } else {
    for (int j = 0; j < count; ++j, p += 3) {
      h[0] += w[j] * float(__ldg(p));
      h[1] += w[j] * float(__ldg(p + 1));
      h[2] += w[j] * float(__ldg(p + 2));
    }
  }
}

// The vertical sum of `rows` rows, each the horizontal sum of kTaps taps with the weights w held
// in registers, in sum_row_taps' order. A pixel with fewer taps than kTaps (its warp's most)
// has weight 0 for the rest, which add +0: a level times 0 is +0, and +0 leaves every sum
// unchanged but -0, which these sums of products never are (x + -x rounds to +0). So the
// result has the bits of the pixel's own count, without the predicated-off taps that the
// kRegisterTaps loop issues (ncu, RESULTS run 21: the kernel is bound by instructions issued).
template <int kTaps, class Fetch>
__device__ __forceinline__ void sum_rows_of_taps(const Fetch& fetch, int col0, int row0, int rows, const float* wy,
                                                 const float* w, float v[3]) {
  for (int k = 0; k < rows; ++k) {
    float h[3];
    sum_row_taps<kTaps>(fetch.at(col0, row0 + k), w, kTaps, h);
    const float wk = wy[k];
    v[0] += wk * h[0], v[1] += wk * h[1], v[2] += wk * h[2];
  }
}

// The most of `v` over the warp; every lane must call it.
__device__ __forceinline__ int warp_max(int v) {
#if __CUDA_ARCH__ >= 800
  return __reduce_max_sync(0xffffffffu, v);
#else
  for (int offset = 16; offset > 0; offset /= 2) v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
#endif
}

// The least of `v` (> INT_MIN) over the warp; every lane must call it.
__device__ __forceinline__ int warp_min(int v) { return -warp_max(-v); }

// Output rows y0 .. y0 + kRows - 1 of one column (so the same taps across), pixel i with row
// taps first[i] .. first[i] + count[i] (count 0: no such pixel) and weights wy + i * y_stride:
// each source row that any of them uses is summed across once and added to each that uses it,
// in row order, which is each pixel's tap order. kTaps as sum_rows_of_taps.
template <int kTaps, int kRows, class Fetch>
__device__ __forceinline__ void sum_rows_of_strip(const Fetch& fetch, int col0, const int (&first)[kRows],
                                                  const int (&count)[kRows], const float* wy, int y_stride,
                                                  const float* w, float (&v)[kRows][3]) {
  int lo = first[0], hi = first[0] + count[0];
#pragma unroll
  for (int i = 1; i < kRows; ++i)
    if (count[i] > 0) lo = min(lo, first[i]), hi = max(hi, first[i] + count[i]);
  for (int r = lo; r < hi; ++r) {
    bool used[kRows], any = false;
#pragma unroll
    for (int i = 0; i < kRows; ++i) used[i] = r >= first[i] && r < first[i] + count[i], any = any || used[i];
    if (!any) continue;
    float h[3];
    sum_row_taps<kTaps>(fetch.at(col0, r), w, kTaps, h);
#pragma unroll
    for (int i = 0; i < kRows; ++i)
      if (used[i]) {
        const float wk = wy[i * y_stride + (r - first[i])];
        v[i][0] += wk * h[0], v[i][1] += wk * h[1], v[i][2] += wk * h[2];
      }
  }
}

// Pixels (x, y0 + i), i < rows, by sum_rows_of_strip where all have every tap inside the image
// and at most warp_taps column taps; false (nothing written) otherwise.
template <int kRows, class Fetch>
__device__ bool separable_strip(const GpuSample& s, const int2* entries, const float* weights, const Fetch& fetch,
                                int x, int y0, int rows, float (&v)[kRows][3], int warp_taps) {
  const int2 ex = entries[s.x_entries + x];
  if (warp_taps <= 0 || ex.y == 0 || ex.y > warp_taps) return false;
  const int col0 = s.ax.base + ex.x;
  const int x_lo = max(s.ax.edges.inner_lo, 0), x_hi = min(s.ax.edges.inner_hi, fetch.width);
  const int y_lo = max(s.ay.edges.inner_lo, 0), y_hi = min(s.ay.edges.inner_hi, fetch.height);
  if (col0 < x_lo || col0 + warp_taps > x_hi) return false;
  int first[kRows], count[kRows];
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int2 ey = i < rows ? entries[s.y_entries + y0 + i] : make_int2(0, 0);
    first[i] = s.ay.base + ey.x;
    count[i] = ey.y;
    if (i < rows && (ey.y == 0 || first[i] < y_lo || first[i] + ey.y > y_hi)) return false;
    v[i][0] = v[i][1] = v[i][2] = 0.0f;
  }
  const float* wx = weights + s.x_weights + size_t(x) * s.x_stride;
  const float* wy = weights + s.y_weights + size_t(y0) * s.y_stride;
  float w[kRegisterTaps];
#pragma unroll
  for (int j = 0; j < kRegisterTaps; ++j) w[j] = j < ex.y ? wx[j] : 0.0f;
  switch (warp_taps) {
    case 1: sum_rows_of_strip<1>(fetch, col0, first, count, wy, s.y_stride, w, v); break;
    case 2: sum_rows_of_strip<2>(fetch, col0, first, count, wy, s.y_stride, w, v); break;
    case 3: sum_rows_of_strip<3>(fetch, col0, first, count, wy, s.y_stride, w, v); break;
    case 4: sum_rows_of_strip<4>(fetch, col0, first, count, wy, s.y_stride, w, v); break;
    case 5: sum_rows_of_strip<5>(fetch, col0, first, count, wy, s.y_stride, w, v); break;
    default: sum_rows_of_strip<kRegisterTaps>(fetch, col0, first, count, wy, s.y_stride, w, v); break;
  }
  return true;
}

// The same sums, in the same order, as resample_separable's two passes on the CPU, with the
// weights from the axis tables. warp_taps (8-bit sources): the most column taps of the pixels
// of this warp that have at most kRegisterTaps, 0 where not known.
template <class Fetch>
__device__ void separable_pixel(const GpuSample& s, const int2* entries, const float* weights,
                                const Fetch& fetch, int x, int y, float v[3], int warp_taps = 0) {
  const int2 ex = entries[s.x_entries + x], ey = entries[s.y_entries + y];
  if (ex.y == 0 || ey.y == 0) {
    // A border's fill: the entry holds its number; of a row's and a column's, the outer.
    const int f = fill_of(ex.y == 0 ? -1 - ex.x : 0, ey.y == 0 ? -1 - ey.x : 0);
    v[0] = s.fills.v[f][0], v[1] = s.fills.v[f][1], v[2] = s.fills.v[f][2];
    return;
  }
  const float* wx = weights + s.x_weights + size_t(x) * s.x_stride;
  const float* wy = weights + s.y_weights + size_t(y) * s.y_stride;
  const int col0 = s.ax.base + ex.x, row0 = s.ay.base + ey.x;
  const int x_lo = max(s.ax.edges.inner_lo, 0), x_hi = min(s.ax.edges.inner_hi, fetch.width);
  const int y_lo = max(s.ay.edges.inner_lo, 0), y_hi = min(s.ay.edges.inner_hi, fetch.height);
  const bool inside_x = col0 >= x_lo && col0 + ex.y <= x_hi;
  v[0] = v[1] = v[2] = 0.0f;
  float h[3];
  const bool inside_y = row0 >= y_lo && row0 + ey.y <= y_hi;
  if (warp_taps > 0 && ex.y <= warp_taps && col0 >= x_lo && col0 + warp_taps <= min(x_hi, fetch.columns_end()) &&
      inside_y) {
    // Every one of the warp's taps inside the image (the common case): the warp's tap count,
    // one unrolled loop for all its pixels. The taps past a pixel's own weigh 0 but are read, so
    // they too must lie in what was uploaded (a tile's region holds only its own taps' columns).
    float w[kRegisterTaps];
#pragma unroll
    for (int j = 0; j < kRegisterTaps; ++j) w[j] = j < ex.y ? wx[j] : 0.0f;
    switch (warp_taps) {
      case 1: sum_rows_of_taps<1>(fetch, col0, row0, ey.y, wy, w, v); break;
      case 2: sum_rows_of_taps<2>(fetch, col0, row0, ey.y, wy, w, v); break;
      case 3: sum_rows_of_taps<3>(fetch, col0, row0, ey.y, wy, w, v); break;
      case 4: sum_rows_of_taps<4>(fetch, col0, row0, ey.y, wy, w, v); break;
      case 5: sum_rows_of_taps<5>(fetch, col0, row0, ey.y, wy, w, v); break;
      default: sum_rows_of_taps<kRegisterTaps>(fetch, col0, row0, ey.y, wy, w, v); break;
    }
    return;
  }
  if (inside_x && inside_y && ex.y <= kRegisterTaps) {
    // Every tap inside the image (the common case): 1.09-1.11x the augment-only rate of the
    // loop below alone on the H100 (RESULTS run 18).
    float w[kRegisterTaps];
#pragma unroll
    for (int j = 0; j < kRegisterTaps; ++j) w[j] = j < ex.y ? wx[j] : 0.0f;
    for (int k = 0; k < ey.y; ++k) {
      sum_row_taps<kRegisterTaps>(fetch.at(col0, row0 + k), w, ex.y, h);
      const float wk = wy[k];
      v[0] += wk * h[0], v[1] += wk * h[1], v[2] += wk * h[2];
    }
    return;
  }
  for (int k = 0; k < ey.y; ++k) {
    const int row = row0 + k;
    if (inside_x && row >= y_lo && row < y_hi) {
      sum_row_taps<0>(fetch.at(col0, row), wx, ex.y, h);
    } else {
      h[0] = h[1] = h[2] = 0.0f;
      const int by = fold_tap(row, s.ay.edges, fetch.height);
      for (int j = 0; j < ex.y; ++j) {
        const int bx = fold_tap(col0 + j, s.ax.edges, fetch.width);
        const int f = fill_of(bx, by);
        float px[3];
        if (f >= 0) {
          px[0] = s.fills.v[f][0], px[1] = s.fills.v[f][1], px[2] = s.fills.v[f][2];
        } else {
          const auto* p = fetch.at(bx, by);
          px[0] = p[0], px[1] = p[1], px[2] = p[2];
        }
        h[0] += wx[j] * px[0];
        h[1] += wx[j] * px[1];
        h[2] += wx[j] * px[2];
      }
    }
    const float wk = wy[k];
    v[0] += wk * h[0], v[1] += wk * h[1], v[2] += wk * h[2];
  }
}

// float_to_half_bits by the hardware's conversion (round to nearest even, subnormals, overflow
// to infinity: the same bits) in one instruction instead of its dozen; NaN keeps the CPU's.
__device__ __forceinline__ uint16_t half_bits(float v) {
  return isnan(v) ? float_to_half_bits(v) : __half_as_ushort(__float2half_rn(v));
}

// A value as the bits the output dtype stores (uint8 and the 16-bit types in the low bits).
__device__ __forceinline__ uint32_t output_bits(DType dtype, float v) {
  switch (dtype) {
    case DType::kUInt8: return static_cast<uint8_t>(v);
    case DType::kFloat32: return __float_as_uint(v);
    case DType::kFloat16: return half_bits(v);
    case DType::kBFloat16: return float_to_bfloat16_bits(v);
  }
  return 0;
}

// Output pixel (x, y) of the whole output, stored at its place in the window (kWindowed false:
// the batch has no windows, the window is the output, and its fields need not be read).
template <bool kWindowed = true>
__device__ void store_pixel(const GpuSample& s, uint8_t* out, int x, int y, const float v[3]) {
  const size_t plane = kWindowed ? size_t(s.win_w) * s.win_h : size_t(s.out_w) * s.out_h;
  const size_t pixel = kWindowed ? size_t(y - s.win_y) * s.win_w + (x - s.win_x) : size_t(y) * s.out_w + x;
  const int C = s.channels;
  uint8_t* base = out + s.out_offset;
  const bool hwc = s.layout == static_cast<uint8_t>(Layout::kHWC);
  const auto at = [&](int c) { return hwc ? pixel * C + c : size_t(c) * plane + pixel; };
  // The batch's dtype chosen once, not per channel.
  switch (static_cast<DType>(s.dtype)) {
    case DType::kUInt8:
      for (int c = 0; c < C; ++c) base[at(c)] = static_cast<uint8_t>(v[c]);
      break;
    case DType::kFloat32:
      for (int c = 0; c < C; ++c) reinterpret_cast<float*>(base)[at(c)] = v[c];
      break;
    case DType::kFloat16:
      for (int c = 0; c < C; ++c) reinterpret_cast<uint16_t*>(base)[at(c)] = half_bits(v[c]);
      break;
    case DType::kBFloat16:
      for (int c = 0; c < C; ++c) reinterpret_cast<uint16_t*>(base)[at(c)] = float_to_bfloat16_bits(v[c]);
      break;
  }
}

__device__ void run_ops(const GpuSample& s, const ops::PixelOp* ops, int begin, int end, float v[3],
                        int x, int y, float contrast_mean) {
  const PixelContext ctx{s.key, s.index, s.stream, uint32_t(x), uint32_t(y), uint32_t(s.out_w)};  // whole-output x, y
  for (int k = begin; k < end; ++k) {
    if (ops[k].kind == ops::PixelKind::kContrast) {
      // apply_pixel_op's contrast with the measured mean, without copying the op to local memory.
      for (int c = 0; c < 3; ++c) v[c] = blend(v[c], contrast_mean, ops[k].a[0], ops[k].uint8_domain);
    } else {
      apply_pixel_op(ops[k], v, ctx);
    }
  }
}

// A table of each channel's output bits for each of the 256 levels a resampled 8-bit pixel can
// take, for samples whose pixel program maps each channel's value alone, wherever the pixel is
// (level_table_program): thread t runs the program on the level t, as a pixel of that level
// would, so the table holds that pixel's bits. A block a sample.
__global__ void level_table_kernel(const GpuSample* samples, const ops::PixelOp* all_ops) {
  const GpuSample& s = samples[blockIdx.x];
  if (s.levels == nullptr || !s.fills_levels) return;
  const float level = float(threadIdx.x);
  float v[3] = {level, level, level};
  run_ops(s, all_ops + s.op_begin, 0, s.op_count, v, 0, 0, 0.0f);
  for (int c = 0; c < 3; ++c) s.levels[c * 256 + threadIdx.x] = output_bits(static_cast<DType>(s.dtype), v[c]);
}

// One thread per computed pixel; blockIdx.y is the sample. Without barriers the whole chain runs
// here and the pixel is stored; with barriers it stops at the first and writes the work buffer.
// kWindowed false (no sample of the batch is a tile): the computed pixels are the output's,
// read without the window fields, which measured 3.6% faster on the H100. Pixel: the sources'
// element type; 8-bit sources resample to levels as torchvision's uint8 resize, float ones
// keep the sums. kWarps false (every sample separable): compiled without the warp code, whose
// registers spill (resample_kernel_for).
template <bool kWindowed, class Pixel, bool kWarps>
__global__ void __launch_bounds__(256, 4) resample_kernel(const GpuSample* samples, const ops::PixelOp* all_ops,
                                const int2* entries, const float* weights, uint8_t* out, float* work) {
  const GpuSample& s = samples[blockIdx.y];
  const int pixel = blockIdx.x * blockDim.x + threadIdx.x;
  const int cw = kWindowed ? s.comp_w : s.out_w, ch = kWindowed ? s.comp_h : s.out_h;
  const bool computed = pixel < cw * ch;
  const int x = (kWindowed ? s.comp_x : 0) + pixel % cw, y = (kWindowed ? s.comp_y : 0) + pixel / cw;
  // 8-bit sources: the warp's most column taps (of at most kRegisterTaps), before any lane
  // leaves (blocks are whole warps, and the sample is the block's, so every lane gets here).
  int warp_taps = 0;
  if constexpr (std::is_same_v<Pixel, uint8_t>) {
    if (!kWarps || s.separable) {
      const int taps = computed ? entries[s.x_entries + x].y : 0;
      warp_taps = warp_max(taps <= kRegisterTaps ? taps : 0);
    }
  }
  if (!computed) return;
  const DeviceFetch<kWindowed, Pixel> fetch{static_cast<const Pixel*>(s.src), s.src_w, s.src_h, s.src_x0, s.src_y0,
                                            s.src_pitch, &s.fills, &s.warp.x, &s.warp.y};
  float v[3];
  if (!kWarps || s.separable) {
    separable_pixel(s, entries, weights, fetch, x, y, v, warp_taps);
  } else {
    warp_pixel(s.warp, x, y, s.fills, fetch, v);
  }
  if constexpr (std::is_same_v<Pixel, uint8_t>)
    v[0] = quantize_resampled(v[0]), v[1] = quantize_resampled(v[1]), v[2] = quantize_resampled(v[2]);
  const ops::PixelOp* ops = all_ops + s.op_begin;
  const int end = s.rounds > 0 ? s.barrier[0] : s.op_count;
  run_ops(s, ops, 0, end, v, x, y, 0.0f);
  if (s.rounds == 0) {
    store_pixel<kWindowed>(s, out, x, y, v);
  } else {
    float* w = work + s.work_offset + size_t(pixel) * 3;
    w[0] = v[0], w[1] = v[1], w[2] = v[2];
  }
}

// A resampled pixel (x, y) of a whole 8-bit-sourced output: quantized to levels, the chain's
// pixel program up to its first barrier, then stored, or written to the work buffer for the
// barrier's kernels.
__device__ __forceinline__ void finish_whole_pixel(const GpuSample& s, const ops::PixelOp* ops, float p[3], int x,
                                                   int y, uint8_t* out, float* work) {
  p[0] = quantize_resampled(p[0]), p[1] = quantize_resampled(p[1]), p[2] = quantize_resampled(p[2]);
  run_ops(s, ops, 0, s.rounds > 0 ? s.barrier[0] : s.op_count, p, x, y, 0.0f);
  if (s.rounds == 0) {
    store_pixel<false>(s, out, x, y, p);
  } else {
    float* w = work + s.work_offset + (size_t(y) * s.out_w + x) * 3;
    w[0] = p[0], w[1] = p[1], w[2] = p[2];
  }
}

// Output rows a thread computes in resample_strips_kernel. On the H100, RN50 chain (RESULTS run
// 21, augment-only images/s against one pixel a thread): 2 rows 1.24x, 3 rows 1.35x, 4 rows
// 1.18x (80 registers, so 3 blocks an SM instead of 4; with 64 they spill).
constexpr int kStripRows = 3;

// The resample kernel of whole 8-bit sources, all separable (random resized crop and the like),
// with a thread a strip of kStripRows pixels of a column: they share their column taps and most
// of their source rows, so a strip sums about half the rows across that its pixels alone would,
// and the per-pixel setup is paid once.
__global__ void __launch_bounds__(256, 4) resample_strips_kernel(const GpuSample* samples, const ops::PixelOp* all_ops,
                                                                 const int2* entries, const float* weights,
                                                                 uint8_t* out, float* work) {
  const GpuSample& s = samples[blockIdx.y];
  const int item = blockIdx.x * blockDim.x + threadIdx.x;
  const int cw = s.out_w, ch = s.out_h;
  const bool computed = item < cw * ((ch + kStripRows - 1) / kStripRows);
  const int x = item % cw, y0 = kStripRows * (item / cw);
  const int taps = computed ? entries[s.x_entries + x].y : 0;
  const int warp_taps = warp_max(taps <= kRegisterTaps ? taps : 0);
  if (!computed) return;
  const DeviceFetch<false, uint8_t> fetch{static_cast<const uint8_t*>(s.src), s.src_w, s.src_h, s.src_x0, s.src_y0,
                                          s.src_pitch, &s.fills, &s.warp.x, &s.warp.y};
  const int rows = min(kStripRows, ch - y0);
  float v[kStripRows][3];
  if (!separable_strip(s, entries, weights, fetch, x, y0, rows, v, warp_taps)) {
#pragma unroll
    for (int i = 0; i < kStripRows; ++i)
      if (i < rows) separable_pixel(s, entries, weights, fetch, x, y0 + i, v[i], warp_taps);
  }
#pragma unroll
  for (int i = 0; i < kStripRows; ++i) {
    if (i >= rows) break;
    finish_whole_pixel(s, all_ops + s.op_begin, v[i], x, y0 + i, out, work);
  }
}

// Output tiles of resample_tiles_kernel: a warp's lanes are its columns; 8 warps share its rows.
constexpr int kTileCols = 32, kTileRows = 32, kTileThreads = 256;
// Words of one level table: 256 levels for each of 3 channels.
constexpr size_t kLevelTableWords = 3 * 256;
// Source rows a tile's column sums may span: 3 floats each per column in shared memory (36 KiB),
// enough for a shrink of about 2.8x in height (kTileRows - 1 rows apart, plus the taps).
constexpr int kTileSourceRows = 96;

// Source rows [first, rows) in steps of `step`, summed across by one lane with the tile's tap
// count (the weights past the lane's own are 0: see sum_rows_of_taps), into the shared sums.
// (Two rows an iteration measured even with one on the H100, RESULTS run 25.)
template <int kTaps>
__device__ __forceinline__ void sum_tile_rows(const uint8_t* column, size_t row_bytes, int first, int rows, int step,
                                              const float* w, float (&sums)[3][kTileSourceRows][kTileCols], int lane) {
  for (int r = first; r < rows; r += step) {
    float h[3];
    sum_row_taps<kTaps>(column + size_t(r) * row_bytes, w, kTaps, h);
    sums[0][r][lane] = h[0], sums[1][r][lane] = h[1], sums[2][r][lane] = h[2];
  }
}

// A pixel's vertical sum of its `count` rows of the shared sums from r0, tap by tap in order.
// kTaps > 0: count == kTaps, unrolled (the count is the warp's: its lanes share the row).
template <int kTaps>
__device__ __forceinline__ void sum_tile_column(const float* wy, const float (&sums)[3][kTileSourceRows][kTileCols],
                                                int r0, int count, int lane, float v[3]) {
  v[0] = v[1] = v[2] = 0.0f;
  if constexpr (kTaps > 0) {
#pragma unroll
    for (int k = 0; k < kTaps; ++k) {
      const float wk = wy[k];
      v[0] += wk * sums[0][r0 + k][lane], v[1] += wk * sums[1][r0 + k][lane], v[2] += wk * sums[2][r0 + k][lane];
    }
  } else {
    for (int k = 0; k < count; ++k) {
      const float wk = wy[k];
      v[0] += wk * sums[0][r0 + k][lane], v[1] += wk * sums[1][r0 + k][lane], v[2] += wk * sums[2][r0 + k][lane];
    }
  }
}

// Pixel (lane's column, y) of a tile from the shared sums of its source rows from `base`.
__device__ __forceinline__ void sum_tile_pixel(const GpuSample& s, const int2* entries, const float* weights,
                                               const float (&sums)[3][kTileSourceRows][kTileCols], int base, int lane,
                                               int y, float v[3]) {
  const int2 ey = entries[s.y_entries + y];
  const int r0 = s.ay.base + ey.x - base;
  const float* wy = weights + s.y_weights + size_t(y) * s.y_stride;
  switch (ey.y) {
    case 1: sum_tile_column<1>(wy, sums, r0, 1, lane, v); break;
    case 2: sum_tile_column<2>(wy, sums, r0, 2, lane, v); break;
    case 3: sum_tile_column<3>(wy, sums, r0, 3, lane, v); break;
    case 4: sum_tile_column<4>(wy, sums, r0, 4, lane, v); break;
    case 5: sum_tile_column<5>(wy, sums, r0, 5, lane, v); break;
    case 6: sum_tile_column<6>(wy, sums, r0, 6, lane, v); break;
    case 7: sum_tile_column<7>(wy, sums, r0, 7, lane, v); break;
    default: sum_tile_column<0>(wy, sums, r0, ey.y, lane, v); break;
  }
}

// A level table's three channels for a resampled pixel, stored at (x, y) of a whole 3-channel
// output: quantize_resampled's level (clamp, round half to even) by the hardware's conversion.
// store_pixel's layout, written for exactly 3 channels of ready bits: its loop over a runtime
// channel count kept the values in local memory (ncu, RESULTS run 24).
__device__ __forceinline__ void store_tabled_pixel(const GpuSample& s, uint8_t* out, const uint32_t* levels, int x, int y,
                                                   const float v[3]) {
  const uint32_t b0 = levels[__float2int_rn(fminf(fmaxf(v[0], 0.0f), 255.0f))];
  const uint32_t b1 = levels[256 + __float2int_rn(fminf(fmaxf(v[1], 0.0f), 255.0f))];
  const uint32_t b2 = levels[512 + __float2int_rn(fminf(fmaxf(v[2], 0.0f), 255.0f))];
  const size_t pixel = size_t(y) * s.out_w + x;
  const bool hwc = s.layout == static_cast<uint8_t>(Layout::kHWC);
  const size_t first = hwc ? pixel * 3 : pixel, step = hwc ? 1 : size_t(s.out_w) * s.out_h;
  uint8_t* base = out + s.out_offset;
  switch (static_cast<DType>(s.dtype)) {
    case DType::kUInt8: {
      uint8_t* p = base + first;
      p[0] = uint8_t(b0), p[step] = uint8_t(b1), p[2 * step] = uint8_t(b2);
      break;
    }
    case DType::kFloat32: {
      uint32_t* p = reinterpret_cast<uint32_t*>(base) + first;
      p[0] = b0, p[step] = b1, p[2 * step] = b2;
      break;
    }
    default: {
      uint16_t* p = reinterpret_cast<uint16_t*>(base) + first;
      p[0] = uint16_t(b0), p[step] = uint16_t(b1), p[2 * step] = uint16_t(b2);
      break;
    }
  }
}

// Warps of a tile, each with a lane a column; a thread computes every kTileWarps-th row.
constexpr int kTileWarps = kTileThreads / kTileCols;
constexpr int kRowsPerThread = kTileRows / kTileWarps;
// Row taps up to which a tabled tile's column sums run unrolled (store_tabled_rows): bicubic
// shrinks of up to about 2x, and bilinear ones as far as the shared rows go (~2.8x).
constexpr int kTileRowTaps = 8;

// A tabled tile's pixels of the lane's column on the thread's rows (group, group + kTileWarps,
// ...), from the shared sums, looked up in the level table and stored. row_first: each tile
// row's first source row from the sums' base; row_weights: its weights, 0 past its own count
// (and for rows past the output's end), so that every row runs the same kTaps sums: the taps
// past a row's own add +0 to sums that are never -0, as sum_rows_of_taps' (the sums' rows they
// read are zeroed). The rows' sums are independent of each other, so their shared loads are in
// flight together instead of a row's chain (entry, weights, sums, table, store) after another's.
template <int kTaps>
__device__ __forceinline__ void store_tabled_rows(const GpuSample& s, uint8_t* out, const uint32_t* levels,
                                                  const float (&sums)[3][kTileSourceRows][kTileCols],
                                                  const int* row_first, const float (&row_weights)[kTileRows][kTileRowTaps],
                                                  int lane, int group, int x, int y_begin, int y_end) {
  float v[kRowsPerThread][3];
#pragma unroll
  for (int j = 0; j < kRowsPerThread; ++j) {
    const int i = group + j * kTileWarps;
    const int r0 = row_first[i];
    v[j][0] = v[j][1] = v[j][2] = 0.0f;
#pragma unroll
    for (int k = 0; k < kTaps; ++k) {
      const float wk = row_weights[i][k];
      v[j][0] += wk * sums[0][r0 + k][lane], v[j][1] += wk * sums[1][r0 + k][lane], v[j][2] += wk * sums[2][r0 + k][lane];
    }
  }
#pragma unroll
  for (int j = 0; j < kRowsPerThread; ++j) {
    const int y = y_begin + group + j * kTileWarps;
    if (y < y_end) store_tabled_pixel(s, out, levels, x, y, v[j]);
  }
}

// The resample kernel of whole 8-bit separable sources where every tile's taps lie inside the
// image: a block a tile of kTileCols x kTileRows output pixels. Each source row the tile needs is
// summed across once per column into shared memory, then each pixel sums its rows of those, in
// the CPU's order (resample_separable: across, then down), so the bits equal the CPU's. The
// strips kernel sums a source row once per strip of kStripRows pixels that uses it instead.
// A tile with a tap outside the image (pads, fills, mirrored output edges) or more source rows
// than kTileSourceRows computes its pixels one by one (separable_pixel), as the pixel kernel.
// Every warp holds the tile's 32 columns, and a lane each of its 32 rows while it decides, so
// each reaches the same decision alone.
template <bool kAllTabled>
__global__ void __launch_bounds__(kTileThreads, kAllTabled ? 5 : 4) resample_tiles_kernel(const GpuSample* __restrict__ samples,
                                                                         const ops::PixelOp* all_ops,
                                                                         const int2* __restrict__ entries,
                                                                         const float* __restrict__ weights,
                                                                         uint8_t* out, float* work) {
  static_assert(kTileCols == 32 && kTileRows == 32, "a warp's lanes are a tile's columns, then its rows");
  __shared__ float sums[3][kTileSourceRows][kTileCols];
  __shared__ uint32_t levels[kLevelTableWords];
  __shared__ float row_weights[kTileRows][kTileRowTaps];  // store_tabled_rows'
  __shared__ int row_first[kTileRows];
  const GpuSample& s = samples[blockIdx.y];
  if (int(blockIdx.x) >= s.tiles) return;  // the whole block
  const bool tabled = kAllTabled || s.levels != nullptr;
  if (tabled)
    for (int i = int(threadIdx.x); i < int(kLevelTableWords); i += kTileThreads) levels[i] = __ldg(s.levels + i);
  const int lane = int(threadIdx.x) % kTileCols, group = int(threadIdx.x) / kTileCols;
  const int tile_y = int(blockIdx.x) / s.tiles_x;
  const int x = (int(blockIdx.x) - tile_y * s.tiles_x) * kTileCols + lane;
  const int y_begin = tile_y * kTileRows, y_end = min(y_begin + kTileRows, s.out_h);
  const bool column = x < s.out_w;
  const int2 ex = column ? entries[s.x_entries + x] : make_int2(0, 0);
  const int tile_taps = warp_max(ex.y);
  const int col0 = s.ax.base + ex.x;
  const int x_lo = max(s.ax.edges.inner_lo, 0), x_hi = min(s.ax.edges.inner_hi, s.src_w);
  const int y_lo = max(s.ay.edges.inner_lo, 0), y_hi = min(s.ay.edges.inner_hi, s.src_h);
  bool inside = !column || (ex.y > 0 && col0 >= x_lo && col0 + ex.y <= x_hi);
  // The unrolled row loop reads the tile's most taps in every column (those past a column's own
  // weigh 0): only where they too lie in the image. Not so at an image's right edge, whose last
  // columns have fewer taps: there each column reads its own.
  const bool padded = __all_sync(0xffffffffu, !column || col0 + tile_taps <= x_hi);
  const int row_y = y_begin + lane;  // the row this lane checks
  int lo = INT_MAX, hi = INT_MIN;
  int2 ey = make_int2(0, 0);
  if (row_y < y_end) {
    ey = entries[s.y_entries + row_y];
    const int first = s.ay.base + ey.x;
    inside = inside && ey.y > 0 && first >= y_lo && first + ey.y <= y_hi;
    lo = first, hi = first + ey.y;
  }
  inside = __all_sync(0xffffffffu, inside);
  const int base = warp_min(lo), rows = warp_max(hi) - base, row_taps = warp_max(ey.y);
  const ops::PixelOp* ops = all_ops + s.op_begin;
  const bool by_pixel = !inside || rows > kTileSourceRows;
  if (threadIdx.x == 0) atomicAdd(s.tile_counts + (by_pixel ? 1 : 0), 1u);
  if (by_pixel) {
    const DeviceFetch<false, uint8_t> fetch{static_cast<const uint8_t*>(s.src), s.src_w, s.src_h, 0, 0,
                                            s.src_pitch, &s.fills, &s.warp.x, &s.warp.y};
    if (tabled) __syncthreads();  // the level table
    for (int y = y_begin + group; column && y < y_end; y += kTileWarps) {
      float v[3];
      separable_pixel(s, entries, weights, fetch, x, y, v);
      if (tabled) store_tabled_pixel(s, out, levels, x, y, v);
      else finish_whole_pixel(s, ops, v, x, y, out, work);
    }
    return;
  }
  // Tabled tiles whose rows have few taps sum their columns unrolled (store_tabled_rows): the
  // rows' first source rows and weights, and the sums' rows past `rows` that the taps past a
  // row's own read, zeroed. Warp g writes tap g of every row (its lanes hold the rows' entries).
  const bool unrolled_rows = tabled && row_taps <= kTileRowTaps && rows + row_taps <= kTileSourceRows;
  if (unrolled_rows) {
    for (int k = group; k < kTileRowTaps; k += kTileWarps)
      row_weights[lane][k] = k < ey.y ? __ldg(weights + s.y_weights + size_t(row_y) * s.y_stride + k) : 0.0f;
    if (group == 0) row_first[lane] = ey.y > 0 ? s.ay.base + ey.x - base : 0;
    for (int i = int(threadIdx.x); i < row_taps * kTileCols; i += kTileThreads)
      sums[0][rows + i / kTileCols][i % kTileCols] = sums[1][rows + i / kTileCols][i % kTileCols] =
          sums[2][rows + i / kTileCols][i % kTileCols] = 0.0f;
  }
  const size_t row_bytes = size_t(s.src_w) * 3;
  const uint8_t* col = static_cast<const uint8_t*>(s.src) + size_t(base) * row_bytes + size_t(column ? col0 : 0) * 3;
  const float* wx = weights + s.x_weights + size_t(column ? x : 0) * s.x_stride;
  if (!column) {
    for (int r = group; r < rows; r += kTileWarps) sums[0][r][lane] = sums[1][r][lane] = sums[2][r][lane] = 0.0f;
  } else if (tile_taps > kRegisterTaps || !padded) {
    for (int r = group; r < rows; r += kTileWarps) {
      float h[3];
      sum_row_taps<0>(col + size_t(r) * row_bytes, wx, ex.y, h);
      sums[0][r][lane] = h[0], sums[1][r][lane] = h[1], sums[2][r][lane] = h[2];
    }
  } else {
    float w[kRegisterTaps];
#pragma unroll
    for (int j = 0; j < kRegisterTaps; ++j) w[j] = j < ex.y ? wx[j] : 0.0f;
    switch (tile_taps) {
      case 1: sum_tile_rows<1>(col, row_bytes, group, rows, kTileWarps, w, sums, lane); break;
      case 2: sum_tile_rows<2>(col, row_bytes, group, rows, kTileWarps, w, sums, lane); break;
      case 3: sum_tile_rows<3>(col, row_bytes, group, rows, kTileWarps, w, sums, lane); break;
      case 4: sum_tile_rows<4>(col, row_bytes, group, rows, kTileWarps, w, sums, lane); break;
      case 5: sum_tile_rows<5>(col, row_bytes, group, rows, kTileWarps, w, sums, lane); break;
      default: sum_tile_rows<kRegisterTaps>(col, row_bytes, group, rows, kTileWarps, w, sums, lane); break;
    }
  }
  __syncthreads();
  if (!column) return;
  if (unrolled_rows) {
    switch (row_taps) {
      case 1: store_tabled_rows<1>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
      case 2: store_tabled_rows<2>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
      case 3: store_tabled_rows<3>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
      case 4: store_tabled_rows<4>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
      case 5: store_tabled_rows<5>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
      case 6: store_tabled_rows<6>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
      case 7: store_tabled_rows<7>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
      default: store_tabled_rows<kTileRowTaps>(s, out, levels, sums, row_first, row_weights, lane, group, x, y_begin, y_end); break;
    }
    return;
  }
  // Two loops, so that the table's keeps its sums in registers (the program's indexes them).
  if (tabled) {
    for (int y = y_begin + group; y < y_end; y += kTileWarps) {
      float v[3];
      sum_tile_pixel(s, entries, weights, sums, base, lane, y, v);
      store_tabled_pixel(s, out, levels, x, y, v);
    }
  } else {
    for (int y = y_begin + group; y < y_end; y += kTileWarps) {
      float v[3];
      sum_tile_pixel(s, entries, weights, sums, base, lane, y, v);
      finish_whole_pixel(s, ops, v, x, y, out, work);
    }
  }
}

// The resample kernel of a batch of whole 8-bit separable sources. GPUAUG_RESAMPLE_KERNEL
// (tiles, strips or pixels) forces one, for the tests and benchmarks that compare them; unset,
// the tiles where every sample's tile rows fit kTileSourceRows, else the strips.
enum class ResampleChoice { kAuto, kTiles, kStrips, kPixels };

ResampleChoice resample_choice_from_environment() {
  const char* value = std::getenv("GPUAUG_RESAMPLE_KERNEL");
  if (value == nullptr || *value == 0) return ResampleChoice::kAuto;
  const std::string name = value;
  if (name == "tiles") return ResampleChoice::kTiles;
  if (name == "strips") return ResampleChoice::kStrips;
  if (name == "pixels") return ResampleChoice::kPixels;
  throw Error("", "device", "GPUAUG_RESAMPLE_KERNEL is '" + name + "': it takes tiles, strips or pixels");
}

// Whether a sample's pixel program can run as a level table in the tiles kernel: every step maps
// each channel's value alone and ignores where the pixel is (no noise, erase or colour mixing),
// none is a barrier, and the output has 3 channels. The resampled levels of an 8-bit source are
// the integers 0..255, so a table of the program's output for each is the program.
bool level_table_program(const ops::FoldResult& fold) {
  if (fold.channels != 3 || fold.float_source) return false;
  for (const ops::PixelOp& op : fold.pixels)
    switch (op.kind) {
      case ops::PixelKind::kBrightness:
      case ops::PixelKind::kToFloat:
      case ops::PixelKind::kToUInt8:
      case ops::PixelKind::kNormalize:
        continue;
      default:
        return false;
    }
  return true;
}

// Whether two level_table_program samples have the same table: the same output dtype and the
// same steps with the same parameters, bit for bit. The steps level_table_program admits read
// only these fields of a PixelOp (run_ops: not rect, nor op_index, which noise keys on): admit
// another kind there, and compare what it reads here.
bool same_level_table(const ops::FoldResult& a, const ops::FoldResult& b) {
  if (a.dtype != b.dtype || a.pixels.size() != b.pixels.size()) return false;
  for (size_t k = 0; k < a.pixels.size(); ++k) {
    const ops::PixelOp &p = a.pixels[k], &q = b.pixels[k];
    if (p.kind != q.kind || p.uint8_domain != q.uint8_domain || p.channels != q.channels ||
        std::memcmp(p.a.data(), q.a.data(), sizeof p.a) != 0)
      return false;
  }
  return true;
}

using ResampleKernel = void (*)(const GpuSample*, const ops::PixelOp*, const int2*, const float*, uint8_t*, float*);

// The resample kernel a batch runs: by source element type, windows, and whether any sample warps.
template <bool kWarps>
ResampleKernel resample_kernel_for(bool float_sources, bool windowed) {
  if (float_sources) return windowed ? resample_kernel<true, float, kWarps> : resample_kernel<false, float, kWarps>;
  return windowed ? resample_kernel<true, uint8_t, kWarps> : resample_kernel<false, uint8_t, kWarps>;
}

// Contrast's mean for samples whose barrier in this round is a contrast: one block a sample.
// Sums in double: exact for uint8-domain grays (integers), as the CPU's sequential sum.
__global__ void mean_kernel(const GpuSample* samples, const ops::PixelOp* all_ops, const float* work,
                            int round, float* means) {
  const GpuSample& s = samples[blockIdx.x];
  if (round >= s.rounds) return;
  const ops::PixelOp& op = all_ops[s.op_begin + s.barrier[round]];
  if (op.kind != ops::PixelKind::kContrast) return;
  const size_t count = size_t(s.comp_w) * s.comp_h;  // the whole output: contrast is never tiled
  const float* w = work + s.work_offset;
  double sum = 0.0;
  for (size_t i = threadIdx.x; i < count; i += blockDim.x)
    sum += op.channels == 1 ? double(w[3 * i]) : double(gray_of(w[3 * i], w[3 * i + 1], w[3 * i + 2], op.uint8_domain));
  __shared__ double partial[256];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) means[blockIdx.x * kMaxRounds + round] = count ? float(partial[0] / double(count)) : 0.0f;
}

// Blur passes as pixel_passes.cpp's gaussian_blur: horizontal into `tmp`, then vertical back.
__global__ void blur_kernel(const GpuSample* samples, const ops::PixelOp* all_ops, const float* weights,
                            float* work, float* tmp, int round, bool vertical) {
  const GpuSample& s = samples[blockIdx.y];
  if (round >= s.rounds || s.blur_weights[round] < 0) return;
  const int pixel = blockIdx.x * blockDim.x + threadIdx.x;
  if (pixel >= s.comp_w * s.comp_h) return;
  const ops::PixelOp& op = all_ops[s.op_begin + s.barrier[round]];
  const int lx = pixel % s.comp_w, ly = pixel / s.comp_w;
  const int x = s.comp_x + lx, y = s.comp_y + ly;
  // This blur computes its target's columns on every computed row (the vertical taps read
  // them), and then its target's pixels; reflection is about the whole output's edges.
  const int* t = s.blur_target[round];
  if (x < t[0] || x >= t[0] + t[2]) return;
  if (vertical && (y < t[1] || y >= t[1] + t[3])) return;
  const int kx = op.rect[0] > 0 ? op.rect[0] : 1, ky = op.rect[1] > 0 ? op.rect[1] : 1;
  const float* wx = weights + s.blur_weights[round];
  const float* wy = wx + kx;
  const int channels = op.channels == 1 ? 1 : 3;
  float* image = work + s.work_offset;
  float* horizontal = tmp + s.work_offset;
  const size_t at = size_t(pixel) * 3;
  if (!vertical) {
    for (int c = 0; c < channels; ++c) {
      float sum = 0.0f;
      for (int i = 0; i < kx; ++i)
        sum += wx[i] * image[(size_t(ly) * s.comp_w + (border_index(x + i - kx / 2, s.out_w, kReflect) - s.comp_x)) * 3 + c];
      horizontal[at + c] = sum;
    }
  } else {
    for (int c = 0; c < channels; ++c) {
      float sum = 0.0f;
      for (int j = 0; j < ky; ++j)
        sum += wy[j] * horizontal[(size_t(border_index(y + j - ky / 2, s.out_h, kReflect) - s.comp_y) * s.comp_w + lx) * 3 + c];
      image[at + c] = op.uint8_domain ? rintf(fminf(fmaxf(sum, 0.0f), 255.0f)) : sum;
    }
    if (channels == 1) image[at + 1] = image[at + 2] = image[at];
  }
}

// The pointwise ops after a round's barrier, then (last round) the store.
__global__ void segment_kernel(const GpuSample* samples, const ops::PixelOp* all_ops, const float* means,
                               float* work, uint8_t* out, int round) {
  const GpuSample& s = samples[blockIdx.y];
  if (round >= s.rounds) return;
  const int pixel = blockIdx.x * blockDim.x + threadIdx.x;
  if (pixel >= s.comp_w * s.comp_h) return;
  const int x = s.comp_x + pixel % s.comp_w, y = s.comp_y + pixel / s.comp_w;
  const ops::PixelOp* ops = all_ops + s.op_begin;
  const int b = s.barrier[round];
  const int begin = ops[b].kind == ops::PixelKind::kContrast ? b : b + 1;
  const int end = round + 1 < s.rounds ? s.barrier[round + 1] : s.op_count;
  float* w = work + s.work_offset + size_t(pixel) * 3;
  float v[3] = {w[0], w[1], w[2]};
  run_ops(s, ops, begin, end, v, x, y, means[blockIdx.y * kMaxRounds + round]);
  if (round + 1 == s.rounds) {
    if (x >= s.win_x && x < s.win_x + s.win_w && y >= s.win_y && y < s.win_y + s.win_h) store_pixel(s, out, x, y, v);
  } else {
    w[0] = v[0], w[1] = v[1], w[2] = v[2];
  }
}

}  // namespace

// What one batch in flight owns: its host staging, its device buffers and its results. The
// executor has two, so that the host packs and queues a batch while the GPU runs the one
// before (submit, wait); each is reused only once the batch that last used it is done.
struct BatchBuffers {
  PinnedBuffer staging, samples_host, ops_host, weights_host;
  DeviceBuffer sources, samples, ops, weights, work, tmp, means, output, entries, taps, levels, counts;
  PinnedBuffer counts_host;  // the tiles kernel's counts, copied back with each batch
  CudaEvent start, stop;     // around the batch's kernels
  CudaEvent done{cudaEventDisableTiming};  // after the last of the batch's work (the counts' copy)
  CudaExecutor::ResampleReport report;
  DeviceBatch batch;
  // Work on the stream that reads these buffers: set before the first thing is queued, so that
  // a batch abandoned by an error half way is waited for too (by the whole stream, as `done`
  // was not recorded).
  bool in_flight = false;
  bool timed = false;
  bool done_recorded = false;
};

struct CudaExecutor::Impl {
  int device = 0;
  ResampleChoice choice = resample_choice_from_environment();
  CudaStream stream;
  BatchBuffers buffers[2];
  int last = 1;  // buffers[last] holds the latest batch submitted
  PinnedBuffer download;
  DeviceBuffer uploaded;
  std::vector<size_t> uploaded_offsets;
  std::vector<std::array<int, 2>> uploaded_sizes;
  // Of the latest batch waited for, and of every batch so far.
  ResampleReport report;
  float kernel_ms = 0.0f;
  double total_kernel_ms = 0.0;

  // Waits for the batch in `buf`, if any, and takes its timing and report.
  void retire(BatchBuffers& buf) {
    if (!buf.in_flight) return;
    buf.in_flight = false;
    if (buf.done_recorded) buf.done.synchronize();
    else stream.synchronize();
    if (buf.timed) {
      GPUAUG_CUDA_CHECK(cudaEventElapsedTime(&kernel_ms, buf.start.get(), buf.stop.get()), "timing");
      total_kernel_ms += kernel_ms;
      if (buf.report.kernel == "tiles") {
        const uint32_t* counts = buf.counts_host.as<uint32_t>();
        buf.report.tiles = size_t(counts[0]) + counts[1];
        buf.report.tiles_pixel_by_pixel = counts[1];
      }
    }
    if (buf.done_recorded) report = buf.report;  // not a batch abandoned half way
  }
};

bool cuda_device_available() { return !cuda_devices().empty(); }

namespace {
int checked_device(int device) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw Error("", "device", "no CUDA GPU is visible (no driver or no device)");
  }
  if (device < 0 || device >= count)
    throw Error("", "device", "cuda:" + std::to_string(device) + " does not exist; this machine has " +
                                  std::to_string(count) + " GPU(s)");
  GPUAUG_CUDA_CHECK(cudaSetDevice(device), "device");
  return device;
}
}  // namespace

CudaExecutor::CudaExecutor(int device) {
  checked_device(device);
  impl_ = std::make_unique<Impl>();
  impl_->device = device;
}

// Batches still in flight read this executor's pinned and device memory: wait for them before
// it goes (an error here has no one left to tell).
CudaExecutor::~CudaExecutor() {
  if (!impl_) return;
  try {
    wait();
  } catch (...) {
  }
}

int CudaExecutor::device() const { return impl_->device; }

float CudaExecutor::last_kernel_ms() const { return impl_->kernel_ms; }

double CudaExecutor::total_kernel_ms() const { return impl_->total_kernel_ms; }

const CudaExecutor::ResampleReport& CudaExecutor::last_resample() const { return impl_->report; }

void CudaExecutor::upload_sources(std::span<const Image* const> images) {
  Impl& m = *impl_;
  GPUAUG_CUDA_CHECK(cudaSetDevice(m.device), "device");
  wait();  // batches in flight may read the old sources, and the staging below is a batch's
  m.uploaded_offsets.clear();
  m.uploaded_sizes.clear();
  size_t total = 0;
  for (const Image* image : images) {
    m.uploaded_offsets.push_back(total);
    m.uploaded_sizes.push_back({image->width, image->height});
    total += image->pixels.size();
  }
  PinnedBuffer& staging = m.buffers[0].staging;
  staging.reserve(std::max<size_t>(total, 1));
  for (size_t i = 0; i < images.size(); ++i)
    std::memcpy(staging.as<uint8_t>() + m.uploaded_offsets[i], images[i]->pixels.data(), images[i]->pixels.size());
  m.uploaded.reserve(std::max<size_t>(total, 1), m.stream.get());
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(m.uploaded.get(), staging.get(), total, cudaMemcpyHostToDevice, m.stream.get()), "upload");
  m.stream.synchronize();
}

const DeviceBatch& CudaExecutor::run(std::span<const SampleJob> jobs, Layout layout, const OutputTarget* target,
                                     ThreadPool* pool) {
  const DeviceBatch& batch = submit(jobs, layout, target, pool);
  wait();
  return batch;
}

void CudaExecutor::wait() {
  Impl& m = *impl_;
  m.retire(m.buffers[1 - m.last]);  // the older first: the timing and report end at the latest
  m.retire(m.buffers[m.last]);
}

const DeviceBatch& CudaExecutor::submit(std::span<const SampleJob> jobs, Layout layout, const OutputTarget* target,
                                        ThreadPool* pool) {
  Impl& m = *impl_;
  // The other set while the latest batch is in flight (its batch before last is retired); else
  // the latest's own, so that callers that wait for each batch (run) use one set's memory.
  // m.last moves only once the batch is queued: a submit that throws leaves the latest alone.
  const int next = m.buffers[m.last].in_flight ? 1 - m.last : m.last;
  BatchBuffers& buf = m.buffers[next];
  m.retire(buf);
  buf.in_flight = true;
  buf.timed = false;  // until the events are recorded
  buf.done_recorded = false;
  GPUAUG_CUDA_CHECK(cudaSetDevice(m.device), "device");
  cudaStream_t stream = m.stream.get();
  // Float sources (images handed over in GPU memory) run as a batch of their own: the kernel
  // is compiled per source element type.
  const bool float_sources = !jobs.empty() && jobs.front().fold->float_source;
  for (const SampleJob& job : jobs) {
    if (job.fold->float_source != float_sources)
      throw Error("", "plan", "internal: a batch mixes float and 8-bit sources; run them as two batches");
    if (float_sources && job.device_source == nullptr)
      throw Error("", "plan", "internal: a float source must be in device memory (SampleJob::device_source)");
  }
  // The samples and their ops are written straight into pinned memory, which the copies below
  // read as they run: from a pageable vector (~1.7 KB a sample) the driver would first copy
  // them on this thread. The copies of the batch that last used them are done (retire above).
  size_t op_total = 0;
  for (const SampleJob& job : jobs) op_total += job.fold->pixels.size();
  // Sizes rounded up to a power of two: a batch a few ops longer than any before would
  // otherwise free and pin again, and freeing pinned memory waits for the whole device.
  buf.samples_host.reserve(std::bit_ceil(std::max<size_t>(jobs.size(), 1) * sizeof(GpuSample)));
  buf.ops_host.reserve(std::bit_ceil(std::max<size_t>(op_total, 1) * sizeof(ops::PixelOp)));
  const std::span<GpuSample> samples(buf.samples_host.as<GpuSample>(), jobs.size());
  ops::PixelOp* const all_ops = buf.ops_host.as<ops::PixelOp>();
  size_t op_count = 0;
  std::vector<float> blur_weights;
  // Sources given as host images are packed into the staging buffer for one copy.
  size_t source_bytes = 0;
  for (const SampleJob& job : jobs)
    if (job.source != nullptr) source_bytes += job.source->pixels.size();
    else if (job.source_view.pixels != nullptr) source_bytes += size_t(job.source_view.region.width) * job.source_view.region.height * 3;
  buf.staging.reserve(std::max<size_t>(source_bytes, 1));
  size_t source_cursor = 0, out_bytes = 0, work_floats = 0, entry_count = 0, tap_count = 0;
  bool windowed = false;  // some sample computes less than its whole output
  bool warps = false;      // some sample is not separable (rotate, affine)
  int max_pixels = 1, max_rounds = 0, max_side = 1;
  size_t max_strips = 1;  // resample_strips_kernel's threads a sample
  size_t max_tiles = 1;   // resample_tiles_kernel's blocks a sample
  bool tiles_fit = true;  // every sample's tile rows fit kTileSourceRows (the tiles' fast path)
  std::vector<size_t> staged_offset(jobs.size(), SIZE_MAX);
  // Host rows to copy into the staging buffer, done after the loop (on the pool when given).
  struct StagedRows {
    uint8_t* to;
    const uint8_t* from;
    size_t row_bytes, from_stride;
    int rows;
  };
  std::vector<StagedRows> staged;
  DeviceBatch& batch = buf.batch;
  batch.offsets.assign(jobs.size(), 0);
  batch.shapes.assign(jobs.size(), {0, 0, 0});
  batch.layout = layout;
  batch.uniform = true;
  batch.device = m.device;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const SampleJob& job = jobs[i];
    const ops::FoldResult& fold = *job.fold;
    const ops::Geometry& g = fold.geometry;
    GpuSample& s = samples[i];
    std::memset(&s, 0, sizeof s);
    s.separable = g.separable;
    warps = warps || !g.separable;
    if (g.separable) {
      s.ax = make_axis_sampler(g.x, g.interp, g.antialias);
      s.ay = make_axis_sampler(g.y, g.interp, g.antialias);
      s.x_stride = max_taps(s.ax);
      s.y_stride = max_taps(s.ay);
      s.x_entries = static_cast<uint32_t>(entry_count);
      s.y_entries = static_cast<uint32_t>(entry_count + g.out_w);
      entry_count += size_t(g.out_w) + g.out_h;
      s.x_weights = tap_count;
      s.y_weights = tap_count + size_t(g.out_w) * s.x_stride;
      tap_count += size_t(g.out_w) * s.x_stride + size_t(g.out_h) * s.y_stride;
      max_side = std::max({max_side, g.out_w, g.out_h});
    } else {
      s.warp = make_warp_sampler(g);
    }
    s.fills = source_fills(g, float_sources);
    s.dtype = static_cast<uint8_t>(fold.dtype);
    s.layout = static_cast<uint8_t>(layout);
    s.channels = static_cast<uint8_t>(fold.channels);
    s.op_begin = static_cast<uint32_t>(op_count);
    s.op_count = static_cast<uint16_t>(fold.pixels.size());
    for (size_t k = 0; k < fold.pixels.size(); ++k) {
      const ops::PixelOp& op = fold.pixels[k];
      all_ops[op_count++] = op;
      if (!ops::is_barrier(op.kind)) continue;
      if (s.rounds == kMaxRounds) throw Error("", "plan", "more than 8 contrast/blur steps in one sample");
      s.barrier[s.rounds] = static_cast<uint16_t>(k);
      s.blur_weights[s.rounds] = -1;
      if (op.kind == ops::PixelKind::kBlur) {
        s.blur_weights[s.rounds] = static_cast<int32_t>(blur_weights.size());
        for (float w : gaussian_kernel1d(op.rect[0] > 0 ? op.rect[0] : 1, op.a[0])) blur_weights.push_back(w);
        for (float w : gaussian_kernel1d(op.rect[1] > 0 ? op.rect[1] : 1, op.a[1])) blur_weights.push_back(w);
      }
      ++s.rounds;
    }
    // Staged host sources get their device address once the buffer exists (below).
    if (job.source != nullptr) {
      s.src_w = job.source->width;
      s.src_h = job.source->height;
      s.src_pitch = job.source->stride();
      staged_offset[i] = source_cursor;
      staged.push_back({buf.staging.as<uint8_t>() + source_cursor, job.source->pixels.data(), job.source->pixels.size(),
                        job.source->pixels.size(), 1});
      source_cursor += job.source->pixels.size();
    } else if (job.source_view.pixels != nullptr) {
      const SourceView& v = job.source_view;
      s.src_w = v.image_width;
      s.src_h = v.image_height;
      s.src_x0 = v.region.x;
      s.src_y0 = v.region.y;
      s.src_pitch = size_t(v.region.width) * 3;
      staged_offset[i] = source_cursor;
      staged.push_back({buf.staging.as<uint8_t>() + source_cursor, v.pixels, s.src_pitch, v.stride, v.region.height});
      source_cursor += s.src_pitch * v.region.height;
    } else if (job.device_source != nullptr) {
      s.src_w = job.device_width;
      s.src_h = job.device_height;
      s.src_pitch = size_t(job.device_width) * 3;
      s.src = job.device_source;
    } else {
      if (job.source_index < 0 || size_t(job.source_index) >= m.uploaded_offsets.size())
        throw Error("", "device", "a job names no source");
      s.src_w = m.uploaded_sizes[job.source_index][0];
      s.src_h = m.uploaded_sizes[job.source_index][1];
      s.src_pitch = size_t(s.src_w) * 3;
      s.src = m.uploaded.as<uint8_t>() + m.uploaded_offsets[job.source_index];
    }
    s.out_w = g.out_w;
    s.out_h = g.out_h;
    const codec::Rect whole{0, 0, g.out_w, g.out_h};
    const bool tile = job.window.width > 0 &&
                      (job.window.x != 0 || job.window.y != 0 || job.window.width != g.out_w || job.window.height != g.out_h);
    const codec::Rect window = tile ? job.window : whole;
    if (tile) check_window(fold, window);
    const codec::Rect comp = tile && s.rounds > 0 ? computed_window(fold, window) : window;
    windowed = windowed || tile || s.src_x0 != 0 || s.src_y0 != 0 || s.src_pitch != size_t(s.src_w) * 3;
    s.comp_x = comp.x, s.comp_y = comp.y, s.comp_w = comp.width, s.comp_h = comp.height;
    s.win_x = window.x, s.win_y = window.y, s.win_w = window.width, s.win_h = window.height;
    if (s.rounds > 0) {
      const std::vector<codec::Rect> targets = tile ? blur_targets(fold, window) : std::vector<codec::Rect>();
      for (int r = 0, b = 0; r < s.rounds; ++r) {
        if (s.blur_weights[r] < 0) continue;
        const codec::Rect& t = tile ? targets[size_t(b++)] : whole;
        s.blur_target[r][0] = t.x, s.blur_target[r][1] = t.y, s.blur_target[r][2] = t.width, s.blur_target[r][3] = t.height;
      }
    }
    s.out_offset = out_bytes;
    s.work_offset = work_floats;
    s.key = job.stream.key;
    s.index = job.stream.id.index;
    s.stream = job.stream.id.stream();
    const size_t pixels = size_t(window.width) * window.height;
    const size_t computed = size_t(comp.width) * comp.height;
    batch.offsets[i] = out_bytes;
    batch.shapes[i] = {fold.channels, window.height, window.width};
    if (i > 0 && (batch.shapes[i] != batch.shapes[0] || fold.dtype != batch.dtype)) batch.uniform = false;
    if (i == 0) batch.dtype = fold.dtype;
    if (fold.dtype != batch.dtype) throw Error("", "plan", "samples of one batch must share a dtype");
    const size_t sample_bytes = pixels * fold.channels * dtype_size(fold.dtype);
    out_bytes += target ? sample_bytes : (sample_bytes + 255) / 256 * 256;
    if (s.rounds > 0) work_floats += computed * 3;
    max_pixels = std::max<int>(max_pixels, int(computed));
    max_strips = std::max(max_strips, size_t(g.out_w) * size_t((g.out_h + kStripRows - 1) / kStripRows));
    s.tiles_x = (g.out_w + kTileCols - 1) / kTileCols;
    s.tiles = s.tiles_x * ((g.out_h + kTileRows - 1) / kTileRows);
    max_tiles = std::max(max_tiles, size_t(s.tiles));
    // A tile's rows span (kTileRows - 1) output rows' centres apart, plus one row's taps.
    if (g.separable && std::ceil((kTileRows - 1) * std::fabs(s.ay.scale)) + max_taps(s.ay) + 1 > kTileSourceRows)
      tiles_fit = false;
    max_rounds = std::max<int>(max_rounds, s.rounds);
  }
  // Whole 8-bit separable sources: tiles where every sample's tile rows fit, else strips.
  const bool whole = !warps && !float_sources && !windowed;
  const ResampleChoice choice = !whole ? ResampleChoice::kPixels
                                : m.choice != ResampleChoice::kAuto ? m.choice
                                : tiles_fit ? ResampleChoice::kTiles
                                            : ResampleChoice::kStrips;
  // The tiles kernel's level tables, for samples whose program is a function of each level: one
  // for each run of such samples with the same program (a chain without random pixel steps
  // builds one table a batch, instead of one a sample).
  std::vector<size_t> tabled, table_of;
  size_t level_tables = 0;
  if (choice == ResampleChoice::kTiles)
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (!level_table_program(*jobs[i].fold)) continue;
      const bool shares = !tabled.empty() && same_level_table(*jobs[tabled.back()].fold, *jobs[i].fold);
      if (!shares) ++level_tables;
      samples[i].fills_levels = !shares;
      tabled.push_back(i);
      table_of.push_back(level_tables - 1);
    }
  const size_t tables = tabled.size();  // samples tabled
  if (tables > 0) buf.levels.reserve(level_tables * kLevelTableWords * sizeof(uint32_t), stream);
  for (size_t t = 0; t < tables; ++t) samples[tabled[t]].levels = buf.levels.as<uint32_t>() + kLevelTableWords * table_of[t];
  buf.report = {};
  buf.report.kernel = choice == ResampleChoice::kTiles ? "tiles" : choice == ResampleChoice::kStrips ? "strips" : "pixels";
  buf.report.tabled_samples = tables;
  buf.report.level_tables = level_tables;
  if (choice == ResampleChoice::kTiles) {
    buf.counts.reserve(2 * sizeof(uint32_t), stream);
    buf.counts_host.reserve(2 * sizeof(uint32_t));
    GPUAUG_CUDA_CHECK(cudaMemsetAsync(buf.counts.get(), 0, 2 * sizeof(uint32_t), stream), "upload");
    for (GpuSample& sample : samples) sample.tile_counts = buf.counts.as<uint32_t>();
  }
  const bool mixed_sources = source_bytes > 0 && source_cursor != source_bytes;
  if (mixed_sources) throw Error("", "device", "internal: source packing mismatch");
  if (target != nullptr) {
    if (!batch.uniform)
      throw Error("", "batch", "samples of one batch differ in shape or dtype; end the spec with a fixed-size "
                               "resize or crop");
    if (out_bytes > target->bytes)
      throw Error("", "batch", "internal: the output block holds " + std::to_string(target->bytes) +
                                   " bytes, the batch needs " + std::to_string(out_bytes));
  }

  if (source_bytes > 0) {
    auto copy = [&](size_t k) {
      const StagedRows& c = staged[k];
      for (int y = 0; y < c.rows; ++y) std::memcpy(c.to + size_t(y) * c.row_bytes, c.from + size_t(y) * c.from_stride, c.row_bytes);
    };
    if (pool != nullptr && staged.size() > 1) pool->parallel_for(staged.size(), copy);
    else
      for (size_t k = 0; k < staged.size(); ++k) copy(k);
    buf.sources.reserve(source_bytes, stream);
    GPUAUG_CUDA_CHECK(cudaMemcpyAsync(buf.sources.get(), buf.staging.get(), source_bytes, cudaMemcpyHostToDevice, stream), "upload");
    for (size_t i = 0; i < jobs.size(); ++i)
      if (staged_offset[i] != SIZE_MAX) samples[i].src = buf.sources.as<uint8_t>() + staged_offset[i];
  }
  buf.samples.reserve(samples.size() * sizeof(GpuSample), stream);
  buf.ops.reserve(std::max<size_t>(op_count, 1) * sizeof(ops::PixelOp), stream);
  if (target == nullptr) buf.output.reserve(std::max<size_t>(out_bytes, 1), stream);
  uint8_t* const output = target ? static_cast<uint8_t*>(target->data) : buf.output.as<uint8_t>();
  buf.entries.reserve(std::max<size_t>(entry_count, 1) * sizeof(int2), stream);
  buf.taps.reserve(std::max<size_t>(tap_count, 1) * sizeof(float), stream);
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(buf.samples.get(), samples.data(), samples.size() * sizeof(GpuSample),
                                    cudaMemcpyHostToDevice, stream), "upload");
  if (op_count > 0)
    GPUAUG_CUDA_CHECK(cudaMemcpyAsync(buf.ops.get(), all_ops, op_count * sizeof(ops::PixelOp),
                                      cudaMemcpyHostToDevice, stream), "upload");
  if (max_rounds > 0) {
    buf.work.reserve(work_floats * sizeof(float), stream);
    buf.tmp.reserve(work_floats * sizeof(float), stream);
    buf.means.reserve(jobs.size() * kMaxRounds * sizeof(float), stream);
    if (!blur_weights.empty()) {
      // Through pinned memory: a copy from pageable memory may wait for the stream, that is
      // for the batch in flight.
      const size_t bytes = blur_weights.size() * sizeof(float);
      buf.weights.reserve(bytes, stream);
      buf.weights_host.reserve(std::bit_ceil(bytes));
      std::memcpy(buf.weights_host.get(), blur_weights.data(), bytes);
      GPUAUG_CUDA_CHECK(cudaMemcpyAsync(buf.weights.get(), buf.weights_host.get(), bytes, cudaMemcpyHostToDevice, stream),
                        "upload");
    }
  }
  if (!jobs.empty()) {
    constexpr int kThreads = 256;
    const auto* gs = buf.samples.as<GpuSample>();
    const auto* gops = buf.ops.as<ops::PixelOp>();
    // The kernels take the sample from blockIdx.y, which stops at 65,535: a larger batch (many
    // local crops of many images) runs as several launches of at most that many samples.
    const auto for_each_launch = [&](auto&& launch) {
      for (size_t base = 0; base < jobs.size(); base += kMaxSamplesPerLaunch)
        launch(gs + base, base, unsigned(std::min(kMaxSamplesPerLaunch, jobs.size() - base)));
    };
    const unsigned pixel_blocks = unsigned((max_pixels + kThreads - 1) / kThreads);
    buf.start.record(stream);
    if (entry_count > 0) {
      constexpr int kTableThreads = 128;
      for_each_launch([&](const GpuSample* part, size_t, unsigned count) {
        const dim3 table_grid((max_side + kTableThreads - 1) / kTableThreads, count, 2);
        axis_table_kernel<<<table_grid, kTableThreads, 0, stream>>>(part, buf.entries.as<int2>(), buf.taps.as<float>());
      });
      GPUAUG_CUDA_CHECK(cudaGetLastError(), "kernel");
    }
    if (tables > 0) {
      for_each_launch([&](const GpuSample* part, size_t, unsigned count) {
        level_table_kernel<<<count, 256, 0, stream>>>(part, gops);
      });
      GPUAUG_CUDA_CHECK(cudaGetLastError(), "kernel");
    }
    const ResampleKernel resample = choice == ResampleChoice::kTiles    ? tables == jobs.size() ? resample_tiles_kernel<true>
                                                                                          : resample_tiles_kernel<false>
                                    : choice == ResampleChoice::kStrips ? resample_strips_kernel
                                    : warps ? resample_kernel_for<true>(float_sources, windowed)
                                            : resample_kernel_for<false>(float_sources, windowed);
    const unsigned resample_blocks = choice == ResampleChoice::kTiles    ? unsigned(max_tiles)
                                     : choice == ResampleChoice::kStrips ? unsigned((max_strips + kThreads - 1) / kThreads)
                                                                         : pixel_blocks;
    static_assert(kTileThreads == kThreads);
    for_each_launch([&](const GpuSample* part, size_t, unsigned count) {
      resample<<<dim3(resample_blocks, count), kThreads, 0, stream>>>(part, gops, buf.entries.as<int2>(),
                                                                      buf.taps.as<float>(), output, buf.work.as<float>());
    });
    GPUAUG_CUDA_CHECK(cudaGetLastError(), "kernel");
    for (int round = 0; round < max_rounds; ++round) {
      mean_kernel<<<unsigned(jobs.size()), 256, 0, stream>>>(gs, gops, buf.work.as<float>(), round, buf.means.as<float>());
      for_each_launch([&](const GpuSample* part, size_t base, unsigned count) {
        const dim3 grid(pixel_blocks, count);
        float* work = buf.work.as<float>();
        float* tmp = buf.tmp.as<float>();
        blur_kernel<<<grid, kThreads, 0, stream>>>(part, gops, buf.weights.as<float>(), work, tmp, round, false);
        blur_kernel<<<grid, kThreads, 0, stream>>>(part, gops, buf.weights.as<float>(), work, tmp, round, true);
        segment_kernel<<<grid, kThreads, 0, stream>>>(part, gops, buf.means.as<float>() + base * kMaxRounds, work, output,
                                                      round);
      });
      GPUAUG_CUDA_CHECK(cudaGetLastError(), "kernel");
    }
    buf.stop.record(stream);
    if (choice == ResampleChoice::kTiles)
      GPUAUG_CUDA_CHECK(cudaMemcpyAsync(buf.counts_host.get(), buf.counts.get(), 2 * sizeof(uint32_t),
                                        cudaMemcpyDeviceToHost, stream), "download");
  }
  buf.timed = !jobs.empty();
  buf.done.record(stream);
  buf.done_recorded = true;
  m.last = next;
  batch.data = output;
  batch.bytes = out_bytes;
  return batch;
}

// The batch comes back through pinned memory (a pageable copy goes through the driver's own
// staging, and a std::vector for it is zeroed first) and is cut into tensors on the pool's
// threads.
std::vector<Tensor> CudaExecutor::run_to_host(std::span<const SampleJob> jobs, Layout layout, ThreadPool* pool) {
  Impl& m = *impl_;
  const DeviceBatch& batch = run(jobs, layout, nullptr, pool);
  m.download.reserve(std::max<size_t>(batch.bytes, 1));
  if (batch.bytes > 0) {
    GPUAUG_CUDA_CHECK(cudaMemcpyAsync(m.download.get(), batch.data, batch.bytes, cudaMemcpyDeviceToHost, m.stream.get()),
                      "download");
    m.stream.synchronize();
  }
  std::vector<Tensor> out(jobs.size());
  const auto unpack = [&](size_t i) {
    const auto& shape = batch.shapes[i];
    out[i] = Tensor(batch.dtype, layout, shape[1], shape[2], shape[0]);
    std::memcpy(out[i].data.data(), m.download.as<uint8_t>() + batch.offsets[i], out[i].data.size());
  };
  if (pool != nullptr && jobs.size() > 1) pool->parallel_for(jobs.size(), unpack);
  else
    for (size_t i = 0; i < jobs.size(); ++i) unpack(i);
  return out;
}

struct DeviceSlots::State {
  int device = 0;
  std::mutex mutex;
  std::vector<std::pair<size_t, void*>> free;  // (bytes, address), most recently freed last
  size_t made = 0;
  ~State() {
    for (auto& [bytes, ptr] : free) cudaFree(ptr);
  }
};

DeviceSlots::DeviceSlots(int device) : state_(std::make_shared<State>()) {
  checked_device(device);
  state_->device = device;
}

DeviceSlots::~DeviceSlots() = default;

size_t DeviceSlots::blocks() const {
  const std::lock_guard lock(state_->mutex);
  return state_->made;
}

std::shared_ptr<void> DeviceSlots::take(size_t bytes) {
  constexpr size_t kKeepFree = 8;
  bytes = std::max<size_t>(bytes, 1);
  void* ptr = nullptr;
  {
    const std::lock_guard lock(state_->mutex);
    auto& free = state_->free;
    for (size_t i = free.size(); i-- > 0;)
      if (free[i].first >= bytes) {
        ptr = free[i].second;
        bytes = free[i].first;
        free.erase(free.begin() + ptrdiff_t(i));
        break;
      }
  }
  if (ptr == nullptr) {
    GPUAUG_CUDA_CHECK(cudaSetDevice(state_->device), "device");
    GPUAUG_CUDA_CHECK(cudaMalloc(&ptr, bytes), "device memory");
    const std::lock_guard lock(state_->mutex);
    ++state_->made;
  }
  // The block goes back to the list (the state kept alive by the deleter) when its last owner
  // drops it; beyond a few free blocks, the oldest is released.
  return std::shared_ptr<void>(ptr, [state = state_, bytes](void* p) {
    void* release = nullptr;
    {
      const std::lock_guard lock(state->mutex);
      state->free.emplace_back(bytes, p);
      if (state->free.size() > kKeepFree) {
        release = state->free.front().second;
        state->free.erase(state->free.begin());
      }
    }
    if (release != nullptr) cudaFree(release);
  });
}

}  // namespace gpuaug::plan
