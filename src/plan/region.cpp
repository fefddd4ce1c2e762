// Decode needs (region of interest, DCT scale) of a sample's plans, and moving a geometry into
// the decoded image's coordinates.
#include <algorithm>
#include <cmath>

#include "plan/plan.h"

namespace gpuaug::plan {

AxisSampler make_axis_sampler(const ops::Axis& axis, ops::Interp interp, bool antialias) {
  AxisSampler a;
  a.out_size = axis.out_size;
  a.flip = axis.flip;
  a.scale = axis.scale;
  a.shift = axis.shift;
  a.base = static_cast<int>(std::floor(axis.lo));
  a.bias = axis.lo - a.base;
  a.window = std::max(1, static_cast<int>(std::ceil(axis.hi)) - a.base);
  a.extent = axis.hi - axis.lo;
  a.interp = static_cast<uint8_t>(interp);
  const double half_size = interp == ops::Interp::kBicubic ? 2.0 : 1.0;
  // torchvision's antialias: the filter widens with the shrink factor.
  const bool widen = antialias && axis.scale >= 1.0;
  a.support = widen ? half_size * axis.scale : half_size;
  a.invscale = widen ? 1.0 / axis.scale : 1.0;
  a.cubic_a = antialias ? -0.5 : -0.75;
  a.clamp_taps = !antialias && interp != ops::Interp::kNearest;
  // Content bounds in whole decoded pixels (fractional only after DCT scaling).
  a.valid_lo = static_cast<int>(std::ceil(axis.valid_lo - 1e-6));
  a.valid_hi = static_cast<int>(std::floor(axis.valid_hi + 1e-6));
  return a;
}

WarpSampler make_warp_sampler(const ops::Geometry& g) {
  WarpSampler w{};
  std::copy(g.m.begin(), g.m.end(), w.m);
  std::copy(g.valid.begin(), g.valid.end(), w.valid);
  std::copy(g.valid_rect.begin(), g.valid_rect.end(), w.valid_rect);
  std::copy(g.content.begin(), g.content.end(), w.content);
  w.source_lo[0] = static_cast<int>(std::ceil(g.x.valid_lo - 1e-6));
  w.source_hi[0] = static_cast<int>(std::floor(g.x.valid_hi + 1e-6));
  w.source_lo[1] = static_cast<int>(std::ceil(g.y.valid_lo - 1e-6));
  w.source_hi[1] = static_cast<int>(std::floor(g.y.valid_hi + 1e-6));
  w.interp = static_cast<uint8_t>(g.interp);
  w.border = static_cast<uint8_t>(g.border);
  // A warp that also carries a folded shrinking resize averages k x k sub-samples (an area
  // filter) where torchvision would have resized with antialias first. Rotations, affines
  // (scale and shear included) and nearest sampling keep k = 1 and match grid_sample.
  const double sx = std::hypot(g.m[0], g.m[3]), sy = std::hypot(g.m[1], g.m[4]);
  const double shrink = std::max(sx, sy);
  const bool filter = g.antialias && g.resized && g.interp != ops::Interp::kNearest;
  w.supersample = filter && shrink > 1.0 + 1e-6 ? std::min(8, int(std::ceil(shrink - 1e-6))) : 1;
  return w;
}

namespace {

struct Span {
  double lo = INFINITY;
  double hi = -INFINITY;
  void add(double a, double b) { lo = std::min(lo, a), hi = std::max(hi, b); }
};

void axis_span(const ops::Axis& axis, const ops::Geometry& g, Span& span) {
  const AxisSampler a = make_axis_sampler(axis, g.interp, g.antialias);
  for (int i : {0, a.out_size - 1}) {
    double centre;
    axis_centre(a, i, centre);
    int first;
    const int count = axis_taps(a, centre, first);
    span.add(a.base + first, a.base + first + std::max(count, 1));
  }
}

// Largest power of two d <= ratio, at most 8: the output keeps at least its resolution.
int dct_denominator(double ratio) {
  int d = 1;
  while (d < 8 && 2.0 * d <= ratio + 1e-9) d *= 2;
  return d;
}

}  // namespace

DecodeNeeds decode_needs(const std::vector<const ops::FoldResult*>& folds, int source_width,
                         int source_height, bool dct_scaling) {
  Span xs, ys;
  int denom = 8;
  bool whole = false;
  for (const ops::FoldResult* fold : folds) {
    const ops::Geometry& g = fold->geometry;
    if (g.border != ops::Border::kConstant) whole = true;
    if (g.separable) {
      axis_span(g.x, g, xs);
      axis_span(g.y, g, ys);
      denom = std::min(denom, dct_denominator(std::min(g.x.scale, g.y.scale)));
    } else {
      for (double u : {0.0, double(g.out_w)})
        for (double v : {0.0, double(g.out_h)}) {
          const double x = g.m[0] * u + g.m[1] * v + g.m[2];
          const double y = g.m[3] * u + g.m[4] * v + g.m[5];
          xs.add(x - 2.0, x + 2.0);
          ys.add(y - 2.0, y + 2.0);
        }
      const double ratio = std::min(std::hypot(g.m[0], g.m[3]), std::hypot(g.m[1], g.m[4]));
      denom = std::min(denom, dct_denominator(ratio));
    }
  }
  DecodeNeeds needs;
  needs.scale_denom = dct_scaling ? denom : 1;
  if (whole || folds.empty()) return needs;
  // One scaled pixel of margin: taps move by up to one pixel when rounded at 1/d.
  const double margin = needs.scale_denom > 1 ? needs.scale_denom : 0;
  const int x0 = std::clamp(int(std::floor(xs.lo - margin)), 0, source_width - 1);
  const int y0 = std::clamp(int(std::floor(ys.lo - margin)), 0, source_height - 1);
  const int x1 = std::clamp(int(std::ceil(xs.hi + margin)), x0 + 1, source_width);
  const int y1 = std::clamp(int(std::ceil(ys.hi + margin)), y0 + 1, source_height);
  if (x0 == 0 && y0 == 0 && x1 == source_width && y1 == source_height) return needs;
  needs.region = codec::Rect{x0, y0, x1 - x0, y1 - y0};
  return needs;
}

ops::Geometry retarget(const ops::Geometry& geometry, int scale_denom, int origin_x, int origin_y,
                       int grid_offset_x, int grid_offset_y) {
  ops::Geometry g = geometry;
  const double d = scale_denom;
  const double gx = grid_offset_x, gy = grid_offset_y;
  g.x.valid_lo = (g.x.valid_lo + gx) / d - origin_x;
  g.x.valid_hi = (g.x.valid_hi + gx) / d - origin_x;
  g.y.valid_lo = (g.y.valid_lo + gy) / d - origin_y;
  g.y.valid_hi = (g.y.valid_hi + gy) / d - origin_y;
  if (g.separable) {
    g.x.lo = (g.x.lo + gx) / d - origin_x;
    g.x.hi = (g.x.hi + gx) / d - origin_x;

    g.x.scale /= d;
    g.y.lo = (g.y.lo + gy) / d - origin_y;
    g.y.hi = (g.y.hi + gy) / d - origin_y;

    g.y.scale /= d;
  } else {
    const auto& m = geometry.m;
    g.m = {m[0] / d, m[1] / d, (m[2] + gx) / d - origin_x,
           m[3] / d, m[4] / d, (m[5] + gy) / d - origin_y};
    // valid'(p) = valid(d * (p + origin) - grid_offset).
    const auto& v = geometry.valid;
    const double tx = d * origin_x - gx, ty = d * origin_y - gy;
    g.valid = {v[0] * d, v[1] * d, v[0] * tx + v[1] * ty + v[2],
               v[3] * d, v[4] * d, v[3] * tx + v[4] * ty + v[5]};
  }
  return g;
}

}  // namespace gpuaug::plan
