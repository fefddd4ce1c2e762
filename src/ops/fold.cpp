// SampleFold: composing crops, resizes, flips, pads and warps into one geometry.
#include "ops/fold.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace gpuaug::ops {

namespace {

using Matrix = std::array<double, 6>;

// (a * b)(p) = a(b(p)) for 2x3 affine maps.
Matrix compose(const Matrix& a, const Matrix& b) {
  return {a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
          a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5]};
}

Matrix invert(const Matrix& m) {
  const double det = m[0] * m[4] - m[1] * m[3];
  const double inv = det != 0.0 ? 1.0 / det : 0.0;
  const double a = m[4] * inv, b = -m[1] * inv, d = -m[3] * inv, e = m[0] * inv;
  return {a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])};
}

void push_edge(Edges& edges, const Edge& edge) {
  // Chain's constructor refuses chains that could reach this (more pads and crops than fit).
  if (edges.count == kMaxEdges)
    throw Error("", "plan", "more than " + std::to_string(kMaxEdges) +
                                " pads and out-of-image crops on one axis of a sample");
  edges.edge[size_t(edges.count++)] = edge;
}

// The current image of a separable axis becomes [offset, offset + size) of itself (counted from
// the flipped end when flipped). Before a resize that moves the window, so that the resize's
// taps stop at a crop's edges; after it, it shifts the output index. `edge` (rule and fill),
// when given, covers what lies past the old image: its interval is the old image, in source
// coordinates before the resize and in resized ones (i' + shift) after it.
void reframe_axis(Axis& axis, int64_t cur, int64_t offset, int64_t size, const Edge* edge) {
  const int64_t from_start = axis.flip ? cur - offset - size : offset;
  const double start = axis.resampled ? axis.shift : axis.lo;
  if (edge != nullptr) {
    Edge e = *edge;
    e.lo = start;
    e.hi = start + static_cast<double>(cur);
    push_edge(axis.resampled ? axis.output : axis.source, e);
  }
  if (!axis.resampled) {
    axis.lo += static_cast<double>(from_start);
    axis.hi = axis.lo + static_cast<double>(size);
  } else {
    axis.shift += static_cast<double>(from_start);
  }
}

// After a warp an axis' output edges are in the current output pixels: a crop moves them, and
// the old image [0, cur) becomes [-offset, cur - offset).
void reframe_warp_axis(Axis& axis, int64_t cur, int64_t offset, const Edge* edge) {
  for (int k = 0; k < axis.output.count; ++k) {
    axis.output.edge[size_t(k)].lo -= static_cast<double>(offset);
    axis.output.edge[size_t(k)].hi -= static_cast<double>(offset);
  }
  if (edge != nullptr) {
    Edge e = *edge;
    e.lo = -static_cast<double>(offset);
    e.hi = static_cast<double>(cur - offset);
    push_edge(axis.output, e);
  }
}

void scale_edges(Edges& edges, double factor) {
  for (int k = 0; k < edges.count; ++k) {
    edges.edge[size_t(k)].lo *= factor;
    edges.edge[size_t(k)].hi *= factor;
  }
}

void resize_axis(Axis& axis, int64_t cur, int size) {
  if (!axis.resampled) {
    axis.scale = (axis.hi - axis.lo) / size;
    axis.shift = 0.0;
    axis.resampled = true;
  } else {
    // A second resize folds into the first: one filter for both (docs/design.md); the edges
    // between them scale with the output index (fills only: Chain refuses a mirror there).
    const double factor = size / static_cast<double>(cur);
    axis.shift = axis.shift * size / static_cast<double>(cur);
    axis.scale = axis.scale * static_cast<double>(cur) / size;
    scale_edges(axis.output, factor);
  }
}

// The map from a separable axis' continuous output coordinate u to the source coordinate:
// lo + scale * ((flip ? cur - u : u) + shift).
void axis_affine(const Axis& axis, int cur, double& gain, double& offset) {
  gain = axis.flip ? -axis.scale : axis.scale;
  offset = axis.lo + axis.scale * (axis.shift + (axis.flip ? cur : 0));
}

}  // namespace

SampleFold::SampleFold(int source_width, int source_height, int source_channels, bool float_source)
    : cur_w_(source_width), cur_h_(source_height), channels_(source_channels), uint8_domain_(!float_source),
      float_source_(float_source) {
  geometry_.x.hi = source_width;
  geometry_.y.hi = source_height;
}

uint8_t SampleFold::add_fill(const std::array<float, 3>& fill) {
  Geometry& g = geometry_;
  // The same value as the newest fill shares its number: no border lies between the two.
  if (g.fills[size_t(g.fill_count - 1)] == fill) return static_cast<uint8_t>(g.fill_count - 1);
  if (g.fill_count == kMaxFills)
    throw Error("", "plan", "more than " + std::to_string(kMaxFills - 1) +
                                " fill values (pads, out-of-image crops, warps) in one sample");
  g.fills[size_t(g.fill_count)] = fill;
  return static_cast<uint8_t>(g.fill_count++);
}

void SampleFold::to_matrix() {
  if (!geometry_.separable) return;
  double gx, ox, gy, oy;
  axis_affine(geometry_.x, cur_w_, gx, ox);
  axis_affine(geometry_.y, cur_h_, gy, oy);
  geometry_.m = {gx, 0, ox, 0, gy, oy};
  geometry_.separable = false;
  // Edges after a resize move to the source: resized coordinate J lies at lo + scale * J (the
  // warp resamples the source itself, not the resized image). A mirrored one would mirror
  // source pixels where torchvision mirrors resized ones: Chain refuses such chains.
  for (Axis* axis : {&geometry_.x, &geometry_.y}) {
    for (int k = 0; k < axis->output.count; ++k) {
      Edge e = axis->output.edge[size_t(k)];
      e.lo = axis->lo + axis->scale * e.lo;
      e.hi = axis->lo + axis->scale * e.hi;
      push_edge(axis->source, e);
    }
    axis->output.count = 0;
  }
}

void SampleFold::reframe(int64_t top, int64_t left, int64_t height, int64_t width, Border border,
                         const std::array<float, 3>& fill) {
  const bool past_x = left < 0 || left + width > cur_w_;
  const bool past_y = top < 0 || top + height > cur_h_;
  Edge edge;
  edge.border = border;
  if ((past_x || past_y) && border == Border::kConstant) edge.fill = add_fill(fill);
  const Edge* ex = past_x ? &edge : nullptr;
  const Edge* ey = past_y ? &edge : nullptr;
  if (geometry_.separable) {
    reframe_axis(geometry_.x, cur_w_, left, width, ex);
    reframe_axis(geometry_.y, cur_h_, top, height, ey);
  } else {
    geometry_.m = compose(geometry_.m, {1, 0, double(left), 0, 1, double(top)});
    reframe_warp_axis(geometry_.x, cur_w_, left, ex);
    reframe_warp_axis(geometry_.y, cur_h_, top, ey);
  }
  cur_w_ = static_cast<int>(width);
  cur_h_ = static_cast<int>(height);
}

void SampleFold::crop(int64_t top, int64_t left, int64_t height, int64_t width) {
  reframe(top, left, height, width, Border::kConstant, {0, 0, 0});
}

void SampleFold::resize(int height, int width, Interp interp, bool antialias) {
  if (geometry_.separable) {
    resize_axis(geometry_.x, cur_w_, width);
    resize_axis(geometry_.y, cur_h_, height);
  } else {
    geometry_.m = compose(geometry_.m, {double(cur_w_) / width, 0, 0, 0,
                                        double(cur_h_) / height, 0});
    scale_edges(geometry_.x.output, double(width) / cur_w_);
    scale_edges(geometry_.y.output, double(height) / cur_h_);
  }
  geometry_.interp = interp;
  geometry_.antialias = antialias;
  geometry_.resized = true;
  cur_w_ = width;
  cur_h_ = height;
}

namespace {

// A warp's output edges under a flip of its output: [cur - hi, cur - lo) (the rules are
// symmetric).
void flip_edges(Edges& edges, int cur) {
  for (int k = 0; k < edges.count; ++k) {
    Edge& e = edges.edge[size_t(k)];
    const double lo = e.lo;
    e.lo = cur - e.hi;
    e.hi = cur - lo;
  }
}

}  // namespace

void SampleFold::flip_horizontal() {
  if (geometry_.separable) {
    geometry_.x.flip = !geometry_.x.flip;
  } else {
    geometry_.m = compose(geometry_.m, {-1, 0, double(cur_w_), 0, 1, 0});
    flip_edges(geometry_.x.output, cur_w_);
  }
}

void SampleFold::flip_vertical() {
  if (geometry_.separable) {
    geometry_.y.flip = !geometry_.y.flip;
  } else {
    geometry_.m = compose(geometry_.m, {1, 0, 0, 0, -1, double(cur_h_)});
    flip_edges(geometry_.y.output, cur_h_);
  }
}

void SampleFold::pad(int left, int top, int right, int bottom, Border border,
                     std::array<float, 3> fill) {
  reframe(-top, -left, int64_t(cur_h_) + top + bottom, int64_t(cur_w_) + left + right, border,
          fill);
}

void SampleFold::warp(const std::array<double, 6>& inverse, int out_w, int out_h, Interp interp,
                      std::array<float, 3> fill) {
  if (!geometry_.separable) {
    // A second warp: the first one's output is gone from the plan (one matrix remains), so
    // borders added to it cannot be kept. Chain's constructor refuses pads there; a crop
    // reaching past it is found here.
    if (geometry_.x.output.count > 0 || geometry_.y.output.count > 0)
      throw Error("", "plan",
                  "a crop reaching past the image between two rotate/random_affine ops does not "
                  "fold into one warp");
    // Where the first warp's mask was short of one it showed its fill: its input, an
    // axis-aligned rectangle of the source while valid has no rotation, becomes an edge.
    const auto& v = geometry_.valid;
    if (v[1] == 0.0 && v[3] == 0.0 && v[0] != 0.0 && v[4] != 0.0) {
      Edge e;
      e.fill = geometry_.warp_fill;
      const auto& r = geometry_.valid_rect;
      const double x0 = (r[0] - v[2]) / v[0], x1 = (r[1] - v[2]) / v[0];
      const double y0 = (r[2] - v[5]) / v[4], y1 = (r[3] - v[5]) / v[4];
      e.lo = std::min(x0, x1), e.hi = std::max(x0, x1);
      push_edge(geometry_.x.source, e);
      e.lo = std::min(y0, y1), e.hi = std::max(y0, y1);
      push_edge(geometry_.y.source, e);
    }
  }
  // Taps count only inside the current image, as torchvision's mask of ones does; pixels a
  // pad added there read their fill or mirror through the source edges.
  const std::array<double, 4> rect{0, double(cur_w_), 0, double(cur_h_)};
  to_matrix();
  geometry_.valid = invert(geometry_.m);
  geometry_.valid_rect = rect;
  geometry_.m = compose(geometry_.m, inverse);
  geometry_.interp = interp;
  geometry_.warp_fill = add_fill(fill);
  cur_w_ = out_w;
  cur_h_ = out_h;
}

void SampleFold::pixel(PixelOp op) {
  op.uint8_domain = uint8_domain_;
  op.channels = static_cast<uint8_t>(channels_);
  if (op.kind == PixelKind::kToFloat) uint8_domain_ = false;
  if (op.kind == PixelKind::kToUInt8) uint8_domain_ = true;
  pixels_.push_back(op);
}

void SampleFold::require_float(uint16_t op_index) {
  if (!uint8_domain_) return;
  PixelOp to_float;
  to_float.kind = PixelKind::kToFloat;
  to_float.op_index = op_index;
  pixel(to_float);
  dtype_ = DType::kFloat32;
}

void SampleFold::note_normalize(std::array<float, 3> mean, std::array<float, 3> std) {
  has_normalize_ = true;
  norm_mean_ = mean;
  norm_std_ = std;
}

FoldResult SampleFold::finish() const {
  FoldResult result;
  result.geometry = geometry_;
  result.geometry.out_w = cur_w_;
  result.geometry.out_h = cur_h_;
  result.geometry.x.out_size = cur_w_;
  result.geometry.y.out_size = cur_h_;
  result.pixels = pixels_;
  result.channels = channels_;
  result.dtype = uint8_domain_ ? DType::kUInt8 : (dtype_ == DType::kUInt8 ? DType::kFloat32 : dtype_);
  result.has_normalize = has_normalize_;
  result.norm_mean = norm_mean_;
  result.norm_std = norm_std_;
  result.float_source = float_source_;
  return result;
}

}  // namespace gpuaug::ops
