// SampleFold: composing crops, resizes, flips, pads and warps into one geometry.
#include "ops/fold.h"

#include <algorithm>
#include <cmath>

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

// Before a resize an axis is a window on the source; crops move the window so that the later
// resize's taps stop at the crop's edges. After a resize, crops shift the output index.
void crop_axis(Axis& axis, int64_t cur, int64_t offset, int64_t size) {
  const int64_t from_start = axis.flip ? cur - offset - size : offset;
  if (!axis.resampled) {
    axis.valid_lo = std::max(axis.valid_lo, axis.lo);
    axis.valid_hi = std::min(axis.valid_hi, axis.hi);
    axis.lo += static_cast<double>(from_start);
    axis.hi = axis.lo + static_cast<double>(size);
  } else {
    axis.shift += static_cast<double>(from_start);
  }
}

void resize_axis(Axis& axis, int64_t cur, int size) {
  if (!axis.resampled) {
    axis.scale = (axis.hi - axis.lo) / size;
    axis.shift = 0.0;
    axis.resampled = true;
  } else {
    // A second resize folds into the first: one filter for both (docs/design.md).
    axis.shift = axis.shift * size / static_cast<double>(cur);
    axis.scale = axis.scale * static_cast<double>(cur) / size;
  }
}

// The map from a separable axis' continuous output coordinate u to the source coordinate:
// lo + scale * ((flip ? cur - u : u) + shift).
void axis_affine(const Axis& axis, int cur, double& gain, double& offset) {
  gain = axis.flip ? -axis.scale : axis.scale;
  offset = axis.lo + axis.scale * (axis.shift + (axis.flip ? cur : 0));
}

}  // namespace

SampleFold::SampleFold(int source_width, int source_height, int source_channels)
    : cur_w_(source_width), cur_h_(source_height), channels_(source_channels) {
  geometry_.x.hi = geometry_.x.valid_hi = source_width;
  geometry_.y.hi = geometry_.y.valid_hi = source_height;
}

void SampleFold::to_matrix() {
  if (!geometry_.separable) return;
  double gx, ox, gy, oy;
  axis_affine(geometry_.x, cur_w_, gx, ox);
  axis_affine(geometry_.y, cur_h_, gy, oy);
  geometry_.m = {gx, 0, ox, 0, gy, oy};
  geometry_.separable = false;
}

void SampleFold::crop(int64_t top, int64_t left, int64_t height, int64_t width) {
  if (geometry_.separable) {
    crop_axis(geometry_.x, cur_w_, left, width);
    crop_axis(geometry_.y, cur_h_, top, height);
  } else {
    geometry_.m = compose(geometry_.m, {1, 0, double(left), 0, 1, double(top)});
    auto& c = geometry_.content;
    c = {std::max(c[0] - left, 0.0), std::min(c[1] - left, double(width)),
         std::max(c[2] - top, 0.0), std::min(c[3] - top, double(height))};
  }
  cur_w_ = static_cast<int>(width);
  cur_h_ = static_cast<int>(height);
}

void SampleFold::resize(int height, int width, Interp interp, bool antialias) {
  if (geometry_.separable) {
    resize_axis(geometry_.x, cur_w_, width);
    resize_axis(geometry_.y, cur_h_, height);
  } else {
    geometry_.m = compose(geometry_.m, {double(cur_w_) / width, 0, 0, 0,
                                        double(cur_h_) / height, 0});
    auto& c = geometry_.content;
    const double sx = double(width) / cur_w_, sy = double(height) / cur_h_;
    c = {c[0] * sx, c[1] * sx, c[2] * sy, c[3] * sy};
  }
  geometry_.interp = interp;
  geometry_.antialias = antialias;
  geometry_.resized = true;
  cur_w_ = width;
  cur_h_ = height;
}

void SampleFold::flip_horizontal() {
  if (geometry_.separable)
    geometry_.x.flip = !geometry_.x.flip;
  else {
    geometry_.m = compose(geometry_.m, {-1, 0, double(cur_w_), 0, 1, 0});
    auto& c = geometry_.content;
    c = {cur_w_ - c[1], cur_w_ - c[0], c[2], c[3]};
  }
}

void SampleFold::flip_vertical() {
  if (geometry_.separable)
    geometry_.y.flip = !geometry_.y.flip;
  else {
    geometry_.m = compose(geometry_.m, {1, 0, 0, 0, -1, double(cur_h_)});
    auto& c = geometry_.content;
    c = {c[0], c[1], cur_h_ - c[3], cur_h_ - c[2]};
  }
}

void SampleFold::pad(int left, int top, int right, int bottom, Border border,
                     std::array<float, 3> fill) {
  geometry_.border = border;
  geometry_.fill = fill;
  crop(-top, -left, int64_t(cur_h_) + top + bottom, int64_t(cur_w_) + left + right);
  // After a warp a mirrored pad cannot mirror the warped image; it extends the content
  // instead (docs/design.md).
  if (!geometry_.separable && border != Border::kConstant)
    geometry_.content = {0, double(cur_w_), 0, double(cur_h_)};
}

void SampleFold::warp(const std::array<double, 6>& inverse, int out_w, int out_h, Interp interp,
                      std::array<float, 3> fill) {
  // Taps count only inside the current image, as torchvision's mask of ones does; pixels a
  // pad added there read the fill through the axes' content intervals.
  const std::array<double, 4> rect{0, double(cur_w_), 0, double(cur_h_)};
  to_matrix();
  geometry_.valid = invert(geometry_.m);
  geometry_.valid_rect = rect;
  geometry_.m = compose(geometry_.m, inverse);
  geometry_.interp = interp;
  geometry_.fill = fill;
  geometry_.content = {0, double(out_w), 0, double(out_h)};
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
  return result;
}

}  // namespace gpuaug::ops
