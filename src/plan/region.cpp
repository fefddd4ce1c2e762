// Decode needs (region of interest, DCT scale) of a sample's plans, and moving a geometry into
// the decoded image's coordinates.
#include <algorithm>
#include <cmath>

#include "plan/plan.h"

namespace gpuaug::plan {

AxisEdges make_axis_edges(const ops::Axis& axis) {
  AxisEdges e{};
  // Source edges in whole decoded pixels, rounded inward (fractional only after DCT scaling).
  e.inner_lo = INT32_MIN / 2, e.inner_hi = INT32_MAX / 2;
  e.source_count = axis.source.count;
  for (int k = 0; k < axis.source.count; ++k) {
    const ops::Edge& edge = axis.source.edge[size_t(k)];
    TapEdge& t = e.source[k];
    t.lo = static_cast<int>(std::clamp(std::ceil(edge.lo - 1e-6), -1e9, 1e9));
    t.hi = static_cast<int>(std::clamp(std::floor(edge.hi + 1e-6), -1e9, 1e9));
    t.border = static_cast<uint8_t>(edge.border);
    t.fill = edge.fill;
    e.inner_lo = std::max(e.inner_lo, t.lo), e.inner_hi = std::min(e.inner_hi, t.hi);
  }
  e.output_count = axis.output.count;
  for (int k = 0; k < axis.output.count; ++k) {
    const ops::Edge& edge = axis.output.edge[size_t(k)];
    e.output[k] = {edge.lo, edge.hi, static_cast<uint8_t>(edge.border), edge.fill};
  }
  return e;
}

bool has_source_mirror(const ops::Geometry& g) {
  for (const ops::Axis* axis : {&g.x, &g.y})
    for (int k = 0; k < axis->source.count; ++k)
      if (axis->source.edge[size_t(k)].border != ops::Border::kConstant) return true;
  return false;
}

Fills make_fills(const ops::Geometry& g) {
  Fills f{};
  for (int k = 0; k < ops::kMaxFills; ++k)
    for (int c = 0; c < 3; ++c) f.v[k][c] = g.fills[size_t(k)][size_t(c)];
  return f;
}

Fills source_fills(const ops::Geometry& g, bool float_source) {
  Fills fills = make_fills(g);
  if (float_source)
    for (auto& fill : fills.v)
      for (float& v : fill) v /= 255.0f;
  return fills;
}

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
  a.edges = make_axis_edges(axis);
  return a;
}

WarpSampler make_warp_sampler(const ops::Geometry& g) {
  WarpSampler w{};
  std::copy(g.m.begin(), g.m.end(), w.m);
  std::copy(g.valid.begin(), g.valid.end(), w.valid);
  std::copy(g.valid_rect.begin(), g.valid_rect.end(), w.valid_rect);
  w.x = make_axis_edges(g.x);
  w.y = make_axis_edges(g.y);
  w.interp = static_cast<uint8_t>(g.interp);
  w.fill = g.warp_fill;
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

// The window pixels an axis' taps read. Every output index: output edges may fold any of
// them anywhere inside the resized image.
void axis_span(const ops::Axis& axis, const ops::Geometry& g, Span& span) {
  const AxisSampler a = make_axis_sampler(axis, g.interp, g.antialias);
  for (int i = 0; i < a.out_size; ++i) {
    double centre;
    int fill;
    if (!axis_centre(a, i, centre, fill)) continue;
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
    if (has_source_mirror(g)) whole = true;
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
  // No taps at all (every output pixel a border's fill): the whole image, as for no plan.
  if (whole || folds.empty() || !(xs.lo <= xs.hi) || !(ys.lo <= ys.hi)) return needs;
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
  for (int k = 0; k < g.x.source.count; ++k) {
    ops::Edge& e = g.x.source.edge[size_t(k)];
    e.lo = (e.lo + gx) / d - origin_x, e.hi = (e.hi + gx) / d - origin_x;
  }
  for (int k = 0; k < g.y.source.count; ++k) {
    ops::Edge& e = g.y.source.edge[size_t(k)];
    e.lo = (e.lo + gy) / d - origin_y, e.hi = (e.hi + gy) / d - origin_y;
  }
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
