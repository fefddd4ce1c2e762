// The CPU executor: separable two-pass (or warp) resampling into a float image, the pixel
// program in segments between barriers (contrast's mean, blur), then cast and layout.
#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "plan/pixel_math.h"
#include "plan/pixel_passes.h"
#include "plan/plan.h"

namespace gpuaug::plan {

namespace {

struct AxisTable {
  std::vector<int> first, count;
  std::vector<size_t> offset;
  std::vector<uint8_t> valid;
  std::vector<float> weights;
};

AxisTable build_axis_table(const AxisSampler& a) {
  AxisTable t;
  t.first.resize(a.out_size);
  t.count.resize(a.out_size);
  t.offset.resize(a.out_size);
  t.valid.resize(a.out_size);
  for (int i = 0; i < a.out_size; ++i) {
    double centre;
    t.valid[i] = axis_centre(a, i, centre);
    int first;
    const int count = t.valid[i] ? axis_taps(a, centre, first) : 0;
    const double total = axis_total(a, centre, first, count);
    t.first[i] = count > 0 ? first : 0;
    t.count[i] = count;
    t.offset[i] = t.weights.size();
    for (int j = 0; j < count; ++j) t.weights.push_back(axis_weight(a, centre, first + j, total));
    if (count == 0) t.valid[i] = 0;
  }
  return t;
}

// Reads decoded pixels with the border rule; fill outside.
struct SourceFetch {
  const Image* image;
  uint8_t border;
  const float* fill;
  void operator()(int x, int y, float px[3]) const {
    const int bx = border_index(x, image->width, border);
    const int by = border_index(y, image->height, border);
    if (bx < 0 || by < 0) {
      px[0] = fill[0], px[1] = fill[1], px[2] = fill[2];
      return;
    }
    const uint8_t* p = image->row(by) + size_t(bx) * 3;
    px[0] = p[0], px[1] = p[1], px[2] = p[2];
  }
};

void resample_separable(const ops::Geometry& g, const Image& src, float* out) {
  const AxisSampler ax = make_axis_sampler(g.x, g.interp, g.antialias);
  const AxisSampler ay = make_axis_sampler(g.y, g.interp, g.antialias);
  const AxisTable xt = build_axis_table(ax), yt = build_axis_table(ay);
  const int W = g.out_w, H = g.out_h;
  const float* fill = g.fill.data();
  const SourceFetch fetch{&src, static_cast<uint8_t>(g.border), fill};

  int row_lo = INT32_MAX, row_hi = INT32_MIN;
  for (int y = 0; y < H; ++y)
    if (yt.count[y] > 0) row_lo = std::min(row_lo, yt.first[y]), row_hi = std::max(row_hi, yt.first[y] + yt.count[y]);
  // Horizontal pass over the rows the vertical taps read: sum_j wx_j * px in tap order.
  std::vector<float> rows;
  if (row_lo < row_hi) rows.resize(size_t(row_hi - row_lo) * W * 3);
  std::vector<float> line(size_t(ax.window) * 3);
  for (int r = row_lo; r < row_hi; ++r) {
    const int sy = ay.base + r;
    for (int j = 0; j < ax.window; ++j) fetch(ax.base + j, sy, &line[size_t(j) * 3]);
    float* dst = &rows[size_t(r - row_lo) * W * 3];
    for (int x = 0; x < W; ++x) {
      float h0 = 0.0f, h1 = 0.0f, h2 = 0.0f;
      const float* w = &xt.weights[xt.offset[x]];
      const float* p = &line[size_t(xt.first[x]) * 3];
      for (int j = 0; j < xt.count[x]; ++j, p += 3) {
        h0 += w[j] * p[0];
        h1 += w[j] * p[1];
        h2 += w[j] * p[2];
      }
      dst[x * 3 + 0] = h0, dst[x * 3 + 1] = h1, dst[x * 3 + 2] = h2;
    }
  }
  // Vertical pass: sum_r wy_r * h_r in tap order.
  for (int y = 0; y < H; ++y) {
    float* o = out + size_t(y) * W * 3;
    if (!yt.valid[y]) {
      for (int x = 0; x < W; ++x) o[x * 3] = fill[0], o[x * 3 + 1] = fill[1], o[x * 3 + 2] = fill[2];
      continue;
    }
    const float* w = &yt.weights[yt.offset[y]];
    for (int x = 0; x < W; ++x) {
      if (!xt.valid[x]) {
        o[x * 3] = fill[0], o[x * 3 + 1] = fill[1], o[x * 3 + 2] = fill[2];
        continue;
      }
      float v0 = 0.0f, v1 = 0.0f, v2 = 0.0f;
      for (int k = 0; k < yt.count[y]; ++k) {
        const float* h = &rows[(size_t(yt.first[y] + k - row_lo) * W + x) * 3];
        v0 += w[k] * h[0];
        v1 += w[k] * h[1];
        v2 += w[k] * h[2];
      }
      o[x * 3] = v0, o[x * 3 + 1] = v1, o[x * 3 + 2] = v2;
    }
  }
}

void resample_warp(const ops::Geometry& g, const Image& src, float* out) {
  const WarpSampler w = make_warp_sampler(g);
  SourceFetch fetch{&src, static_cast<uint8_t>(g.border), g.fill.data()};
  for (int y = 0; y < g.out_h; ++y)
    for (int x = 0; x < g.out_w; ++x)
      warp_pixel(w, x, y, g.fill.data(), fetch, out + (size_t(y) * g.out_w + x) * 3);
}

void run_pointwise(const std::vector<ops::PixelOp>& ops, size_t begin, size_t end, float* rgb,
                   int width, int height, const PixelStreamId& stream) {
  if (begin >= end) return;
  PixelContext ctx{stream.key, stream.id.index, stream.id.stream(), 0, 0, uint32_t(width)};
  for (int y = 0; y < height; ++y) {
    ctx.y = uint32_t(y);
    for (int x = 0; x < width; ++x) {
      ctx.x = uint32_t(x);
      float* v = rgb + (size_t(y) * width + x) * 3;
      for (size_t k = begin; k < end; ++k) apply_pixel_op(ops[k], v, ctx);
    }
  }
}

template <DType D>
void store(Tensor& t, const float* rgb) {
  const int C = t.channels;
  for (int y = 0; y < t.height; ++y)
    for (int x = 0; x < t.width; ++x)
      for (int c = 0; c < C; ++c) {
        const float v = rgb[(size_t(y) * t.width + x) * 3 + c];
        const size_t i = t.offset(y, x, c);
        if constexpr (D == DType::kUInt8) {
          reinterpret_cast<uint8_t*>(t.data.data())[i] = static_cast<uint8_t>(v);
        } else if constexpr (D == DType::kFloat32) {
          reinterpret_cast<float*>(t.data.data())[i] = v;
        } else if constexpr (D == DType::kFloat16) {
          reinterpret_cast<uint16_t*>(t.data.data())[i] = float_to_half_bits(v);
        } else {
          reinterpret_cast<uint16_t*>(t.data.data())[i] = float_to_bfloat16_bits(v);
        }
      }
}

}  // namespace

Tensor execute_cpu(const ops::FoldResult& fold, const Image& source, const PixelStreamId& stream,
                   Layout layout) {
  const ops::Geometry& g = fold.geometry;
  const int W = g.out_w, H = g.out_h;
  std::vector<float> rgb(size_t(W) * H * 3);
  if (g.separable) resample_separable(g, source, rgb.data());
  else resample_warp(g, source, rgb.data());
  // The resampled image is uint8, as torchvision's resize of a uint8 tensor returns.
  for (float& v : rgb) v = std::nearbyint(std::clamp(v, 0.0f, 255.0f));

  std::vector<ops::PixelOp> ops = fold.pixels;
  size_t begin = 0;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!ops::is_barrier(ops[k].kind)) continue;
    run_pointwise(ops, begin, k, rgb.data(), W, H, stream);
    if (ops[k].kind == ops::PixelKind::kContrast) {
      ops[k].a[1] = image_gray_mean(rgb.data(), W, H, ops[k]);
      begin = k;  // the blend itself is pointwise
    } else {
      gaussian_blur(rgb.data(), W, H, ops[k]);
      begin = k + 1;
    }
  }
  run_pointwise(ops, begin, ops.size(), rgb.data(), W, H, stream);

  Tensor out(fold.dtype, layout, H, W, fold.channels);
  switch (fold.dtype) {
    case DType::kUInt8: store<DType::kUInt8>(out, rgb.data()); break;
    case DType::kFloat32: store<DType::kFloat32>(out, rgb.data()); break;
    case DType::kFloat16: store<DType::kFloat16>(out, rgb.data()); break;
    case DType::kBFloat16: store<DType::kBFloat16>(out, rgb.data()); break;
  }
  return out;
}

}  // namespace gpuaug::plan
