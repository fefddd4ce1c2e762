// The CPU executor: separable two-pass (or warp) resampling one output row at a time into a
// planar float row, then on that row the rounding, the pixel program and the cast/layout store.
// Programs with barriers (contrast's mean, blur) keep the whole image between segments.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/half.h"
#include "plan/pixel_math.h"
#include "plan/pixel_passes.h"
#include "plan/plan.h"

namespace gpuaug::plan {

namespace {

// Four float lanes as a GCC/Clang vector (SSE2 on x86-64, NEON on AArch64, no -march): the
// horizontal pass sums one pixel's R, G, B (and an unused lane) at once, the vertical pass four
// values of a row. Each lane does the scalar code's operations in its order.
using Float4 = float __attribute__((vector_size(16)));

Float4 load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store4(float* p, Float4 v) { std::memcpy(p, &v, sizeof v); }

// Rows are padded to whole blocks of the vertical pass.
constexpr size_t kRowBlock = 16;

// An output row: three planes (R, G, B) of `width` floats, `stride` apart. The stride is a
// multiple of 4, so that vector loops cover a plane exactly; the floats past `width` are
// padding, never stored.
struct RowShape {
  int width;
  size_t stride;
  size_t floats;
  explicit RowShape(int w)
      : width(w), stride((size_t(w) + 3) / 4 * 4), floats((3 * stride + kRowBlock - 1) / kRowBlock * kRowBlock) {}
};

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

// sum_j wx_j * px over a fixed count of (zero-padded) taps for every output column; K = 0 reads
// the count at run time. `src` holds the source row's pixels as floats, 3 a pixel; the result
// goes to three planes of `width` floats.
template <int K>
void horizontal_pass(const float* src, const int* first, const Float4* weights, int taps, int width,
                     float* planes) {
  const int n = K > 0 ? K : taps;
  for (int x = 0; x < width; ++x, weights += n) {
    const float* p = src + size_t(first[x]) * 3;
    Float4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int j = 0; j < n; ++j) acc += weights[j] * load4(p + size_t(j) * 3);
    planes[x] = acc[0], planes[width + x] = acc[1], planes[2 * size_t(width) + x] = acc[2];
  }
}

// sum_k wy_k * h_k elementwise over rows of `len` floats (a multiple of kRowBlock), in tap order.
void vertical_pass(const float* const* rows, const float* weights, int count, size_t len, float* out) {
  for (size_t i = 0; i < len; i += kRowBlock) {
    Float4 a0 = {0.0f, 0.0f, 0.0f, 0.0f}, a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < count; ++k) {
      const float w = weights[k];
      const float* h = rows[k] + i;
      a0 += w * load4(h), a1 += w * load4(h + 4), a2 += w * load4(h + 8), a3 += w * load4(h + 12);
    }
    store4(out + i, a0), store4(out + i + 4, a1), store4(out + i + 8, a2), store4(out + i + 12, a3);
  }
}

void fill_row(const float* fill, int width, float* planes) {
  for (int c = 0; c < 3; ++c) std::fill(planes + size_t(c) * width, planes + size_t(c + 1) * width, fill[c]);
}

// The separable form: horizontal then vertical, with the same sums in the same order as the
// CUDA kernel's separable_pixel. Horizontal rows are computed when an output row first needs
// them and kept in a ring as long as the widest vertical filter, so each is computed once.
class SeparableResampler {
 public:
  SeparableResampler(const ops::Geometry& g, const Image& src)
      : src_(src), fill_(g.fill.data()), border_(static_cast<uint8_t>(g.border)), width_(g.out_w),
        row_floats_(padded_row_floats(g.out_w)),
        ax_(make_axis_sampler(g.x, g.interp, g.antialias)), ay_(make_axis_sampler(g.y, g.interp, g.antialias)),
        xt_(build_axis_table(ax_)), yt_(build_axis_table(ay_)) {
    // Source columns the padded taps read, in window indices: [col_lo_, col_hi_).
    col_lo_ = INT32_MAX, col_hi_ = INT32_MIN;
    for (int x = 0; x < width_; ++x)
      if (xt_.valid[x]) col_lo_ = std::min(col_lo_, xt_.first[x]), col_hi_ = std::max(col_hi_, xt_.first[x] + xt_.taps);
    if (col_lo_ > col_hi_) col_lo_ = col_hi_ = 0;
    tap_offset_.resize(width_);
    for (int x = 0; x < width_; ++x) {
      tap_offset_[x] = xt_.valid[x] ? xt_.first[x] - col_lo_ : 0;
      if (!xt_.valid[x]) fill_columns_.push_back(x);
    }
    x_weights_.resize(xt_.weights.size());
    for (size_t i = 0; i < xt_.weights.size(); ++i) x_weights_[i] = Float4{} + xt_.weights[i];
    // One float beyond the last pixel: the unused lane of its load. Zeroed, like the ring's
    // padding, so that no lane ever holds garbage.
    source_row_ = std::make_unique<float[]>(size_t(col_hi_ - col_lo_) * 3 + 1);
    const int slots = std::max(yt_.taps, 1);
    ring_ = std::make_unique<float[]>(size_t(slots) * row_floats_);
    ring_row_.assign(size_t(slots), -1);
    row_ptrs_.resize(size_t(slots));
  }

  size_t row_floats() const { return row_floats_; }

  // Output row y as three planes of out_w floats (`planes` holds row_floats()).
  void row(int y, float* planes) {
    if (!yt_.valid[y]) {
      fill_row(fill_, width_, planes);
      return;
    }
    const int count = yt_.count[y];
    for (int k = 0; k < count; ++k) row_ptrs_[k] = horizontal_row(yt_.first[y] + k);
    vertical_pass(row_ptrs_.data(), &yt_.weights[size_t(y) * yt_.taps], count, row_floats_, planes);
    for (const int x : fill_columns_)
      for (int c = 0; c < 3; ++c) planes[size_t(c) * width_ + x] = fill_[c];
  }

 private:
  const float* horizontal_row(int r) {
    const size_t slot = size_t(r) % ring_row_.size();
    float* out = &ring_[slot * row_floats_];
    if (ring_row_[slot] == r) return out;
    ring_row_[slot] = r;
    load_source_row(r);
    const float* src = source_row_.get();
    const int* first = tap_offset_.data();
    const Float4* w = x_weights_.data();
    switch (xt_.taps) {
      case 1: horizontal_pass<1>(src, first, w, 1, width_, out); break;
      case 2: horizontal_pass<2>(src, first, w, 2, width_, out); break;
      case 3: horizontal_pass<3>(src, first, w, 3, width_, out); break;
      case 4: horizontal_pass<4>(src, first, w, 4, width_, out); break;
      case 5: horizontal_pass<5>(src, first, w, 5, width_, out); break;
      case 6: horizontal_pass<6>(src, first, w, 6, width_, out); break;
      default: horizontal_pass<0>(src, first, w, xt_.taps, width_, out); break;
    }
    return out;
  }

  // Window row r's pixels [col_lo_, col_hi_) as floats: decoded pixels where they exist, the
  // border rule (or fill) elsewhere, the values the taps would read one by one.
  void load_source_row(int r) {
    const int iy = ay_.base + r;
    const int sy = border_index(iy, src_.height, border_);
    int in_lo = std::clamp(-ax_.base, col_lo_, col_hi_);
    int in_hi = std::clamp(src_.width - ax_.base, in_lo, col_hi_);
    if (sy < 0) in_lo = in_hi = col_hi_;
    const SourceFetch fetch{&src_, border_, fill_};
    float* f = source_row_.get();
    for (int c = col_lo_; c < in_lo; ++c) fetch(ax_.base + c, iy, f + size_t(c - col_lo_) * 3);
    const uint8_t* p = in_hi > in_lo ? src_.row(sy) + size_t(ax_.base + in_lo) * 3 : nullptr;
    float* d = f + size_t(in_lo - col_lo_) * 3;
    for (size_t i = 0, n = size_t(in_hi - in_lo) * 3; i < n; ++i) d[i] = float(p[i]);
    for (int c = in_hi; c < col_hi_; ++c) fetch(ax_.base + c, iy, f + size_t(c - col_lo_) * 3);
  }

  const Image& src_;
  const float* fill_;
  uint8_t border_;
  int width_;
  size_t row_floats_;
  AxisSampler ax_, ay_;
  AxisTable xt_, yt_;
  int col_lo_ = 0, col_hi_ = 0;
  std::vector<int> tap_offset_;     // first tap of each column, in source_row_ pixels
  std::vector<int> fill_columns_;   // columns outside the source
  std::vector<Float4> x_weights_;   // xt_.weights, each in all four lanes
  std::unique_ptr<float[]> source_row_;
  std::unique_ptr<float[]> ring_;   // horizontal rows, row_floats_ apart
  std::vector<int> ring_row_;       // window row held by each slot, -1: none
  std::vector<const float*> row_ptrs_;
};

// Steps whose result depends only on a value and its channel: one loop per plane, the step's
// kind and parameters resolved once per row. False for the other kinds.
bool run_plane_op(const ops::PixelOp& op, float* planes, int width) {
  const bool u8 = op.uint8_domain;
  for (int c = 0; c < 3; ++c) {
    float* p = planes + size_t(c) * width;
    const int k = op.channels == 1 ? 0 : c;  // normalize of a 1-channel image: a[0], a[3]
    switch (op.kind) {
      case ops::PixelKind::kBrightness:
        for (int x = 0; x < width; ++x) p[x] = brightness_value(p[x], op.a[0], u8);
        break;
      case ops::PixelKind::kContrast:
        for (int x = 0; x < width; ++x) p[x] = blend(p[x], op.a[1], op.a[0], u8);
        break;
      case ops::PixelKind::kToFloat:
        for (int x = 0; x < width; ++x) p[x] = to_float_value(p[x]);
        break;
      case ops::PixelKind::kToUInt8:
        for (int x = 0; x < width; ++x) p[x] = to_uint8_value(p[x]);
        break;
      case ops::PixelKind::kNormalize: {
        const float mean = op.a[k], std = op.a[3 + k];
        for (int x = 0; x < width; ++x) p[x] = normalize_value(p[x], mean, std);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// Pointwise steps [begin, end) on output row y, step by step over the row: each pixel still
// sees the steps in order.
void run_row_ops(const std::vector<ops::PixelOp>& ops, size_t begin, size_t end, float* planes, int width,
                 int y, const PixelStreamId& stream) {
  PixelContext ctx{stream.key, stream.id.index, stream.id.stream(), 0, uint32_t(y), uint32_t(width)};
  for (size_t k = begin; k < end; ++k) {
    if (run_plane_op(ops[k], planes, width)) continue;
    float* r = planes;
    float* g = planes + width;
    float* b = planes + 2 * size_t(width);
    for (int x = 0; x < width; ++x) {
      ctx.x = uint32_t(x);
      float v[3] = {r[x], g[x], b[x]};
      apply_pixel_op(ops[k], v, ctx);
      r[x] = v[0], g[x] = v[1], b[x] = v[2];
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

// Output row y from its planes: CHW writes each plane's row contiguously, HWC interleaves.
template <DType D>
void store_row(Tensor& t, int y, const float* planes) {
  using Element = decltype(convert<D>(0.0f));
  Element* dst = reinterpret_cast<Element*>(t.data.data());
  const int W = t.width, C = t.channels;
  if (t.layout == Layout::kCHW) {
    for (int c = 0; c < C; ++c) {
      Element* o = dst + (size_t(c) * t.height + y) * W;
      const float* p = planes + size_t(c) * W;
      for (int x = 0; x < W; ++x) o[x] = convert<D>(p[x]);
    }
  } else {
    Element* o = dst + size_t(y) * W * C;
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c) o[size_t(x) * C + c] = convert<D>(planes[size_t(c) * W + x]);
  }
}

void store_row(Tensor& t, int y, const float* planes) {
  switch (t.dtype) {
    case DType::kUInt8: store_row<DType::kUInt8>(t, y, planes); break;
    case DType::kFloat32: store_row<DType::kFloat32>(t, y, planes); break;
    case DType::kFloat16: store_row<DType::kFloat16>(t, y, planes); break;
    case DType::kBFloat16: store_row<DType::kBFloat16>(t, y, planes); break;
  }
}

// Row y of an interleaved image to and from planes, for the passes of barriers (pixel_passes.h).
void interleave_row(const float* planes, int width, float* rgb) {
  for (int x = 0; x < width; ++x)
    for (int c = 0; c < 3; ++c) rgb[size_t(x) * 3 + c] = planes[size_t(c) * width + x];
}

void deinterleave_row(const float* rgb, int width, float* planes) {
  for (int x = 0; x < width; ++x)
    for (int c = 0; c < 3; ++c) planes[size_t(c) * width + x] = rgb[size_t(x) * 3 + c];
}

}  // namespace

Tensor execute_cpu(const ops::FoldResult& fold, const Image& source, const PixelStreamId& stream,
                   Layout layout) {
  const ops::Geometry& g = fold.geometry;
  const int W = g.out_w, H = g.out_h;
  std::vector<ops::PixelOp> ops = fold.pixels;
  const size_t first_barrier =
      size_t(std::find_if(ops.begin(), ops.end(), [](const ops::PixelOp& op) { return ops::is_barrier(op.kind); }) -
             ops.begin());
  Tensor out(fold.dtype, layout, H, W, fold.channels);
  // Without barriers each row is finished and stored while it is in cache; with them the first
  // segment still runs on the rows, which then wait in `rgb` for the image-wide passes.
  std::unique_ptr<float[]> rgb;
  if (first_barrier < ops.size()) rgb = std::make_unique_for_overwrite<float[]>(size_t(W) * H * 3);
  auto finish_row = [&](int y, float* planes) {
    // The resampled image is uint8, as torchvision's resize of a uint8 tensor returns.
    for (size_t i = 0, n = size_t(W) * 3; i < n; i += 4) store4(planes + i, quantize_resampled(load4(planes + i)));
    run_row_ops(ops, 0, first_barrier, planes, W, y, stream);
    if (rgb) interleave_row(planes, W, &rgb[size_t(y) * W * 3]);
    else store_row(out, y, planes);
  };

  std::unique_ptr<float[]> planes;
  if (g.separable) {
    SeparableResampler resampler(g, source);
    planes = std::make_unique_for_overwrite<float[]>(resampler.row_floats());
    for (int y = 0; y < H; ++y) {
      resampler.row(y, planes.get());
      finish_row(y, planes.get());
    }
  } else {
    const WarpSampler w = make_warp_sampler(g);
    const SourceFetch fetch{&source, static_cast<uint8_t>(g.border), g.fill.data()};
    planes = std::make_unique_for_overwrite<float[]>(padded_row_floats(W));
    for (int y = 0; y < H; ++y) {
      for (int x = 0; x < W; ++x) {
        float px[3];
        warp_pixel(w, x, y, g.fill.data(), fetch, px);
        for (int c = 0; c < 3; ++c) planes[size_t(c) * W + x] = px[c];
      }
      finish_row(y, planes.get());
    }
  }
  if (!rgb) return out;

  // Segments between barriers, row by row; the last one ends in the store.
  auto run_segment = [&](size_t begin, size_t end, bool last) {
    if (begin >= end && !last) return;
    for (int y = 0; y < H; ++y) {
      float* row = &rgb[size_t(y) * W * 3];
      deinterleave_row(row, W, planes.get());
      run_row_ops(ops, begin, end, planes.get(), W, y, stream);
      if (last) store_row(out, y, planes.get());
      else interleave_row(planes.get(), W, row);
    }
  };
  size_t begin = first_barrier;
  for (size_t k = first_barrier; k < ops.size(); ++k) {
    if (!ops::is_barrier(ops[k].kind)) continue;
    run_segment(begin, k, false);
    if (ops[k].kind == ops::PixelKind::kContrast) {
      ops[k].a[1] = image_gray_mean(rgb.get(), W, H, ops[k]);
      begin = k;  // the blend itself is pointwise
    } else {
      gaussian_blur(rgb.get(), W, H, ops[k]);
      begin = k + 1;
    }
  }
  run_segment(begin, ops.size(), true);
  return out;
}

}  // namespace gpuaug::plan
