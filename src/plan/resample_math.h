// Resampling arithmetic shared by the CPU loops and the CUDA kernel: per-axis taps and weights
// (torchvision's antialias formula) and warp sampling with grid_sample's mask-of-ones fill.
// Double for coordinates and weights, float32 for pixel sums, no FMA: both sides get the same bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "ops/fold.h"

namespace gpuaug::plan {

// An axis' ops::Edges for the samplers: `source` in whole decoded pixels (make_axis_edges
// rounds them inward), `output` in continuous output coordinates; chain order, the last the
// outermost.
struct TapEdge {
  int lo, hi;
  uint8_t border, fill;
};
struct CoordEdge {
  double lo, hi;
  uint8_t border, fill;
};
struct AxisEdges {
  TapEdge source[ops::kMaxEdges];
  CoordEdge output[ops::kMaxEdges];
  int source_count, output_count;
  int inner_lo, inner_hi;  // decoded pixels inside every source edge: they are themselves
};

// A sample's fill values (ops::Geometry::fills), uint8 domain.
struct Fills {
  float v[ops::kMaxFills][3];
};

// One separable axis in decoded-image pixel coordinates.
struct AxisSampler {
  int out_size = 0;
  bool flip = false;
  double scale = 1.0;
  double shift = 0.0;
  int base = 0;          // decoded pixel of window index 0
  double bias = 0.0;     // lo - base: non-zero only after DCT scaling
  int window = 0;        // taps live in window indices [0, window)
  double extent = 0.0;   // hi - lo: output centres beyond it are fill
  double support = 1.0;
  double invscale = 1.0;
  uint8_t interp = 1;    // ops::Interp
  // Without antialias (torch's upsample_{bilinear,bicubic}2d): taps clamp their index to the
  // window (edge replication) and keep their weights; with it, taps outside are dropped and
  // the rest renormalized (torchvision's antialias kernel, Pillow's).
  uint8_t clamp_taps = 0;
  double cubic_a = -0.5;
  AxisEdges edges{};     // see ops::Axis
};

GPUAUG_HD_INLINE double filter_weight(uint8_t interp, double x, double cubic_a) {
  if (x < 0) x = -x;
  if (interp == static_cast<uint8_t>(ops::Interp::kBicubic)) {
    // Keys' cubic convolution (torchvision: a = -0.5 with antialias, -0.75 without).
    if (x < 1.0) return ((cubic_a + 2.0) * x - (cubic_a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * cubic_a;
    return 0.0;
  }
  return x < 1.0 ? 1.0 - x : 0.0;  // triangle
}

// Border rule for a decoded-image index outside [0, size): -1 means "use the fill value".
GPUAUG_HD_INLINE int border_index(int i, int size, uint8_t border) {
  if (i >= 0 && i < size) return i;
  if (border == static_cast<uint8_t>(ops::Border::kConstant) || size <= 0) return -1;
  if (border == static_cast<uint8_t>(ops::Border::kEdge)) return i < 0 ? 0 : size - 1;
  if (size == 1) return 0;
  if (border == static_cast<uint8_t>(ops::Border::kReflect)) {  // d c b | a b c d | c b a
    const int period = 2 * (size - 1);
    int m = i % period;
    m = m < 0 ? m + period : m;
    return m < size ? m : period - m;
  }
  const int period = 2 * size;  // symmetric: c b a | a b c d | d c b
  int m = i % period;
  m = m < 0 ? m + period : m;
  return m < size ? m : period - 1 - m;
}

// A tap's decoded index through an axis' source edges, outermost first: itself inside an
// edge, mirrored inside it (edge, reflect, symmetric), or fill. Returns the index, or -1 - f
// for fill number f (0 outside the decoded image).
GPUAUG_HD_INLINE int fold_tap(int i, const AxisEdges& e, int size) {
  for (int k = e.source_count - 1; k >= 0; --k) {
    const TapEdge& edge = e.source[k];
    if (i >= edge.lo && i < edge.hi) continue;
    if (edge.border == static_cast<uint8_t>(ops::Border::kConstant) || edge.hi <= edge.lo) return -1 - edge.fill;
    i = edge.lo + border_index(i - edge.lo, edge.hi - edge.lo, edge.border);
  }
  return i >= 0 && i < size ? i : -1;
}

// The fill a tap or pixel shows when its axes folded to bx and by (>= 0: an index, else fill
// -1 - v): the later (outer) border of the two covers the other; -1 when both are indices.
GPUAUG_HD_INLINE int fill_of(int bx, int by) {
  const int fx = bx < 0 ? -1 - bx : -1, fy = by < 0 ? -1 - by : -1;
  return fx > fy ? fx : fy;
}

// A pixel centre u outside the pixels [lo, hi) mirrored to a pixel centre inside them: edge
// repeats the edge pixel, reflect mirrors about the edge pixels' centres (d c b | a b c d),
// symmetric about the edges themselves (b a | a b c d), periodically as numpy.pad. Exact for
// centres of whole pixels (k + 0.5) and whole bounds, as border_index.
GPUAUG_HD_INLINE double mirror_coord(double u, double lo, double hi, uint8_t border) {
  if (u >= lo && u < hi) return u;
  const double n = hi - lo;
  if (border == static_cast<uint8_t>(ops::Border::kEdge) || n <= 1.0) return u < lo ? lo + 0.5 : hi - 0.5;
  const bool reflect = border == static_cast<uint8_t>(ops::Border::kReflect);
  const double origin = reflect ? lo + 0.5 : lo, half = reflect ? n - 1.0 : n;
  double m = ::fmod(u - origin, 2.0 * half);
  m = m < 0.0 ? m + 2.0 * half : m;
  return origin + (m <= half ? m : 2.0 * half - m);
}

// An output pixel centre u through an axis' output edges, outermost first (mirrored in place);
// returns the fill number where an edge makes it fill, else -1.
GPUAUG_HD_INLINE int fold_coord(double& u, const AxisEdges& e) {
  for (int k = e.output_count - 1; k >= 0; --k) {
    const CoordEdge& edge = e.output[k];
    if (u >= edge.lo && u < edge.hi) continue;
    if (edge.border == static_cast<uint8_t>(ops::Border::kConstant) || edge.hi <= edge.lo) return edge.fill;
    u = mirror_coord(u, edge.lo, edge.hi, edge.border);
  }
  return -1;
}

// Window-relative centre of output index i: the index is folded through the output edges
// (pads and crops after the resize) first. False where it shows a fill, whose number goes to
// `fill` (0 for a centre beyond the window).
GPUAUG_HD_INLINE bool axis_centre(const AxisSampler& a, int i, double& centre, int& fill) {
  const int k = a.flip ? a.out_size - 1 - i : i;
  double u = k + a.shift + 0.5;
  fill = fold_coord(u, a.edges);
  if (fill >= 0) {
    centre = 0.0;
    return false;
  }
  const double rel = a.scale * u;
  centre = rel + a.bias;
  fill = 0;
  return rel >= 0.0 && rel < a.extent;
}

GPUAUG_HD_INLINE int clamp_index(int i, int lo, int hi) { return i < lo ? lo : (i > hi ? hi : i); }

// The unclamped taps of clamp_taps mode, [lo, hi): torch's floor(c - 0.5) + {0, 1} (bilinear)
// or + {-1 .. 2} (bicubic), c the window-relative centre.
GPUAUG_HD_INLINE void clamped_tap_span(const AxisSampler& a, double centre, int& lo, int& hi) {
  lo = static_cast<int>(::floor(centre - a.support + 0.5));
  hi = static_cast<int>(::floor(centre + a.support + 0.5));
}

// Taps of one output index: window indices [first, first + count). Nearest: one tap.
GPUAUG_HD_INLINE int axis_taps(const AxisSampler& a, double centre, int& first) {
  if (a.interp == static_cast<uint8_t>(ops::Interp::kNearest)) {
    first = clamp_index(static_cast<int>(::floor(centre)), 0, a.window - 1);
    return 1;
  }
  if (a.clamp_taps) {
    // Taps past an edge land on the edge pixel: the span clamped, at least one tap.
    int lo, hi;
    clamped_tap_span(a, centre, lo, hi);
    first = clamp_index(lo, 0, a.window - 1);
    return clamp_index(hi - 1, 0, a.window - 1) - first + 1;
  }
  // torchvision: xmin = max(int(c - support + 0.5), 0), xmax = min(int(c + support + 0.5), in).
  int lo = static_cast<int>(centre - a.support + 0.5);
  int hi = static_cast<int>(centre + a.support + 0.5);
  lo = lo < 0 ? 0 : lo;
  hi = hi > a.window ? a.window : hi;
  first = lo;
  return hi > lo ? hi - lo : 0;
}

// Sum of the unnormalized weights, then weight j = w_j / total, as torchvision normalizes.
// Clamped taps are not renormalized (torch's weights sum to 1 by construction): total 1.
GPUAUG_HD_INLINE double axis_total(const AxisSampler& a, double centre, int first, int count) {
  if (a.interp == static_cast<uint8_t>(ops::Interp::kNearest) || a.clamp_taps) return 1.0;
  double total = 0.0;
  for (int j = 0; j < count; ++j)
    total += filter_weight(a.interp, (first + j - centre + 0.5) * a.invscale, a.cubic_a);
  return total;
}

GPUAUG_HD_INLINE float axis_weight(const AxisSampler& a, double centre, int tap, double total) {
  if (a.interp == static_cast<uint8_t>(ops::Interp::kNearest)) return 1.0f;
  if (a.clamp_taps) {
    // The weights of every unclamped tap that lands on `tap`, in tap order.
    int lo, hi;
    clamped_tap_span(a, centre, lo, hi);
    double w = 0.0;
    for (int j = lo; j < hi; ++j)
      if (clamp_index(j, 0, a.window - 1) == tap) w += filter_weight(a.interp, (j - centre + 0.5) * a.invscale, a.cubic_a);
    return static_cast<float>(w);
  }
  const double w = filter_weight(a.interp, (tap - centre + 0.5) * a.invscale, a.cubic_a);
  return total != 0.0 ? static_cast<float>(w / total) : 0.0f;
}

// Rounds half to even without libm: exact for |v| < 2^22, the same bits on host and device.
// This and quantize_resampled take a float or a GCC vector of floats (the CPU executor's rows).
template <class T>
GPUAUG_HD_INLINE T round_half_even(T v) { return (v + 12582912.0f) - 12582912.0f; }

// The resampled value as a uint8-domain integer (torchvision's resize returns uint8). On a
// vector each clamp is a lane select; a loop over floats does not vectorize, as gcc keeps a
// float ?: a branch under -ftrapping-math.
template <class T>
GPUAUG_HD_INLINE T quantize_resampled(T v) {
  v = v < 0.0f ? 0.0f : v;
  v = v > 255.0f ? 255.0f : v;
  return round_half_even(v);
}

// Source window, interpolation and edges of a warp, in decoded-image coordinates.
struct WarpSampler {
  double m[6];         // output pixel centre -> decoded-image coordinate
  double valid[6];     // decoded-image coordinate -> validity coordinate
  double valid_rect[4];
  AxisEdges x, y;      // source edges (taps) and output edges (pads and crops after the warp)
  int supersample = 1;
  uint8_t interp = 1;
  uint8_t fill = 0;    // where the mask of ones is short of one: the warp's own fill
};

}  // namespace gpuaug::plan

namespace gpuaug::plan {

GPUAUG_HD_INLINE bool warp_tap_valid(const WarpSampler& w, int ix, int iy) {
  const double cx = ix + 0.5, cy = iy + 0.5;
  const double vx = w.valid[0] * cx + w.valid[1] * cy + w.valid[2];
  const double vy = w.valid[3] * cx + w.valid[4] * cy + w.valid[5];
  return vx >= w.valid_rect[0] && vx < w.valid_rect[1] && vy >= w.valid_rect[2] && vy < w.valid_rect[3];
}

GPUAUG_HD_INLINE float cubic_grid_weight(float t) {
  // grid_sample's bicubic: Keys with a = -0.75.
  constexpr float a = -0.75f;
  t = t < 0 ? -t : t;
  if (t <= 1.0f) return ((a + 2.0f) * t - (a + 3.0f)) * t * t + 1.0f;
  if (t < 2.0f) return ((a * t - 5.0f * a) * t + 8.0f * a) * t - 4.0f * a;
  return 0.0f;
}

// One output pixel of a warp. The pixel is first folded through the output edges (fill, or
// mirrored onto a pixel of the warped image). fetch(ix, iy, float px[3]) reads a decoded pixel
// through the source edges. Taps outside the validity region count as missing; the result is
// mask * (sum - fill) + fill as torchvision's _apply_grid_transform computes it.
template <class Fetch>
GPUAUG_HD_INLINE void warp_pixel(const WarpSampler& w, int x, int y, const Fills& fills, Fetch& fetch,
                          float out[3]) {
  double cx = x + 0.5, cy = y + 0.5;
  const int border_fill = fill_of(-1 - fold_coord(cx, w.x), -1 - fold_coord(cy, w.y));
  if (border_fill >= 0) {
    out[0] = fills.v[border_fill][0], out[1] = fills.v[border_fill][1], out[2] = fills.v[border_fill][2];
    return;
  }
  const float* fill = fills.v[w.fill];
  // The pixel's corner: x itself unless an edge mirrored it.
  const double px0 = cx - 0.5, py0 = cy - 0.5;
  float acc[3] = {0.0f, 0.0f, 0.0f};
  const int k = w.supersample;
  for (int sy = 0; sy < k; ++sy) {
    for (int sx = 0; sx < k; ++sx) {
      const double u = px0 + (sx + 0.5) / k, v = py0 + (sy + 0.5) / k;
      double src_x = w.m[0] * u + w.m[1] * v + w.m[2];
      double src_y = w.m[3] * u + w.m[4] * v + w.m[5];
      src_x = src_x < -1e8 ? -1e8 : (src_x > 1e8 ? 1e8 : src_x);  // keeps int conversions defined
      src_y = src_y < -1e8 ? -1e8 : (src_y > 1e8 ? 1e8 : src_y);
      float value[3];
      if (w.interp == static_cast<uint8_t>(ops::Interp::kNearest)) {
        const int ix = static_cast<int>(::floor(src_x));
        const int iy = static_cast<int>(::floor(src_y));
        if (!warp_tap_valid(w, ix, iy)) {
          value[0] = fill[0], value[1] = fill[1], value[2] = fill[2];
        } else {
          fetch(ix, iy, value);
        }
      } else {
        const bool cubic = w.interp == static_cast<uint8_t>(ops::Interp::kBicubic);
        const double fx = src_x - 0.5, fy = src_y - 0.5;
        const double x0d = ::floor(fx), y0d = ::floor(fy);
        const float ax = static_cast<float>(fx - x0d), ay = static_cast<float>(fy - y0d);
        const int x0 = static_cast<int>(x0d), y0 = static_cast<int>(y0d);
        const int lo = cubic ? -1 : 0, hi = cubic ? 2 : 1;
        float sum[3] = {0.0f, 0.0f, 0.0f};
        float mask = 0.0f;
        for (int ty = lo; ty <= hi; ++ty) {
          const float wy = cubic ? cubic_grid_weight(ty - ay) : (ty == 0 ? 1.0f - ay : ay);
          for (int tx = lo; tx <= hi; ++tx) {
            const float wx = cubic ? cubic_grid_weight(tx - ax) : (tx == 0 ? 1.0f - ax : ax);
            if (!warp_tap_valid(w, x0 + tx, y0 + ty)) continue;
            float px[3];
            fetch(x0 + tx, y0 + ty, px);
            const float wt = wx * wy;
            sum[0] += wt * px[0], sum[1] += wt * px[1], sum[2] += wt * px[2];
            mask += wt;
          }
        }
        for (int c = 0; c < 3; ++c) value[c] = (sum[c] - fill[c]) * mask + fill[c];
      }
      acc[0] += value[0], acc[1] += value[1], acc[2] += value[2];
    }
  }
  const float inv = 1.0f / static_cast<float>(k * k);
  for (int c = 0; c < 3; ++c) out[c] = k == 1 ? acc[c] : acc[c] * inv;
}

}  // namespace gpuaug::plan
