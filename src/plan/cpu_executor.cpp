// The CPU executor: separable two-pass (or warp) resampling into a float image, the pixel
// program in segments between barriers (contrast's mean, blur), then cast and layout.
#include <algorithm>
#include <cmath>
#include <memory>

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
  // Columns whose taps all lie inside the decoded image read it directly.
  std::vector<uint8_t> inside(W);
  for (int x = 0; x < W; ++x)
    inside[x] = ax.base + xt.first[x] >= 0 && ax.base + xt.first[x] + xt.count[x] <= src.width;

  // Horizontal pass over the rows the vertical taps read: sum_j wx_j * px in tap order.
  const size_t row_len = size_t(W) * 3;
  auto rows = std::make_unique_for_overwrite<float[]>(row_lo < row_hi ? size_t(row_hi - row_lo) * row_len : 1);
  for (int r = row_lo; r < row_hi; ++r) {
    const int sy = border_index(ay.base + r, src.height, static_cast<uint8_t>(g.border));
    const uint8_t* srow = sy >= 0 ? src.row(sy) : nullptr;
    float* dst = &rows[size_t(r - row_lo) * row_len];
    for (int x = 0; x < W; ++x) {
      float h0 = 0.0f, h1 = 0.0f, h2 = 0.0f;
      const float* w = &xt.weights[xt.offset[x]];
      const int count = xt.count[x];
      if (srow != nullptr && inside[x]) {
        const uint8_t* p = srow + size_t(ax.base + xt.first[x]) * 3;
        for (int j = 0; j < count; ++j, p += 3) {
          h0 += w[j] * float(p[0]);
          h1 += w[j] * float(p[1]);
          h2 += w[j] * float(p[2]);
        }
      } else {
        for (int j = 0; j < count; ++j) {
          float px[3];
          fetch(ax.base + xt.first[x] + j, ay.base + r, px);
          h0 += w[j] * px[0];
          h1 += w[j] * px[1];
          h2 += w[j] * px[2];
        }
      }
      dst[x * 3 + 0] = h0, dst[x * 3 + 1] = h1, dst[x * 3 + 2] = h2;
    }
  }
  // Vertical pass: sum_r wy_r * h_r in tap order, a whole output row at a time.
  for (int y = 0; y < H; ++y) {
    float* o = out + size_t(y) * row_len;
    if (!yt.valid[y]) {
      for (int x = 0; x < W; ++x) o[x * 3] = fill[0], o[x * 3 + 1] = fill[1], o[x * 3 + 2] = fill[2];
      continue;
    }
    const float* w = &yt.weights[yt.offset[y]];
    // The first tap as 0 + w*h: the same additions, in the same order, as the per-pixel form.
    if (yt.count[y] > 0) {
      const float* h = &rows[size_t(yt.first[y] - row_lo) * row_len];
      for (size_t i = 0; i < row_len; ++i) o[i] = 0.0f + w[0] * h[i];
    } else {
      std::fill(o, o + row_len, 0.0f);
    }
    for (int k = 1; k < yt.count[y]; ++k) {
      const float wk = w[k];
      const float* h = &rows[size_t(yt.first[y] + k - row_lo) * row_len];
      for (size_t i = 0; i < row_len; ++i) o[i] += wk * h[i];
    }
    for (int x = 0; x < W; ++x)
      if (!xt.valid[x]) o[x * 3] = fill[0], o[x * 3 + 1] = fill[1], o[x * 3 + 2] = fill[2];
  }
}

void resample_warp(const ops::Geometry& g, const Image& src, float* out) {
  const WarpSampler w = make_warp_sampler(g);
  SourceFetch fetch{&src, static_cast<uint8_t>(g.border), g.fill.data()};
  for (int y = 0; y < g.out_h; ++y)
    for (int x = 0; x < g.out_w; ++x)
      warp_pixel(w, x, y, g.fill.data(), fetch, out + (size_t(y) * g.out_w + x) * 3);
}

// Op by op over all pixels: each pixel still sees the steps in order, and the op's kind is
// loop-invariant, so the compiler unswitches apply_pixel_op's dispatch out of the pixel loop.
void run_pointwise(const std::vector<ops::PixelOp>& ops, size_t begin, size_t end, float* rgb,
                   int width, int height, const PixelStreamId& stream) {
  for (size_t k = begin; k < end; ++k) {
    const ops::PixelOp op = ops[k];
    PixelContext ctx{stream.key, stream.id.index, stream.id.stream(), 0, 0, uint32_t(width)};
    for (int y = 0; y < height; ++y) {
      ctx.y = uint32_t(y);
      float* row = rgb + size_t(y) * width * 3;
      for (int x = 0; x < width; ++x) {
        ctx.x = uint32_t(x);
        apply_pixel_op(op, row + size_t(x) * 3, ctx);
      }
    }
  }
}

template <DType D>
auto convert(float v) {
  if constexpr (D == DType::kUInt8) return static_cast<uint8_t>(v);
  else if constexpr (D == DType::kFloat32) return v;
  else if constexpr (D == DType::kFloat16) return float_to_half_bits(v);
  else return float_to_bfloat16_bits(v);
}

template <DType D>
void store(Tensor& t, const float* rgb) {
  using Element = decltype(convert<D>(0.0f));
  Element* dst = reinterpret_cast<Element*>(t.data.data());
  const size_t n = size_t(t.height) * t.width;
  const int C = t.channels;
  if (t.layout == Layout::kHWC) {
    for (size_t i = 0; i < n; ++i)
      for (int c = 0; c < C; ++c) dst[i * C + c] = convert<D>(rgb[i * 3 + c]);
  } else {
    for (int c = 0; c < C; ++c) {
      Element* plane = dst + size_t(c) * n;
      for (size_t i = 0; i < n; ++i) plane[i] = convert<D>(rgb[i * 3 + c]);
    }
  }
}

}  // namespace

Tensor execute_cpu(const ops::FoldResult& fold, const Image& source, const PixelStreamId& stream,
                   Layout layout) {
  const ops::Geometry& g = fold.geometry;
  const int W = g.out_w, H = g.out_h;
  const size_t count = size_t(W) * H * 3;
  auto rgb_buffer = std::make_unique_for_overwrite<float[]>(count);
  float* rgb = rgb_buffer.get();
  if (g.separable) resample_separable(g, source, rgb);
  else resample_warp(g, source, rgb);
  // The resampled image is uint8, as torchvision's resize of a uint8 tensor returns.
  for (size_t i = 0; i < count; ++i) rgb[i] = quantize_resampled(rgb[i]);

  std::vector<ops::PixelOp> ops = fold.pixels;
  size_t begin = 0;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!ops::is_barrier(ops[k].kind)) continue;
    run_pointwise(ops, begin, k, rgb, W, H, stream);
    if (ops[k].kind == ops::PixelKind::kContrast) {
      ops[k].a[1] = image_gray_mean(rgb, W, H, ops[k]);
      begin = k;  // the blend itself is pointwise
    } else {
      gaussian_blur(rgb, W, H, ops[k]);
      begin = k + 1;
    }
  }
  run_pointwise(ops, begin, ops.size(), rgb, W, H, stream);

  Tensor out(fold.dtype, layout, H, W, fold.channels);
  switch (fold.dtype) {
    case DType::kUInt8: store<DType::kUInt8>(out, rgb); break;
    case DType::kFloat32: store<DType::kFloat32>(out, rgb); break;
    case DType::kFloat16: store<DType::kFloat16>(out, rgb); break;
    case DType::kBFloat16: store<DType::kBFloat16>(out, rgb); break;
  }
  return out;
}

}  // namespace gpuaug::plan
