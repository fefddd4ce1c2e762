// The CPU executor: separable two-pass (or warp) resampling one output row at a time into a
// planar float row, then on that row the rounding, the pixel program and the cast/layout store.
// Programs with barriers (contrast's mean, blur) keep the whole image between segments.
#include <algorithm>
#include <cstring>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"
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

// Rows are padded to whole blocks of the vertical pass, which keeps a block's sums in registers
// across its taps. 32 floats (8 vectors) ran 1% fewer instructions than 16 at the same speed
// (rrc_normalize bench, callgrind and images/s).
constexpr size_t kRowBlock = 32;

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

// Taps of one axis. Every output index has `taps` weight slots (the largest count), zero beyond
// its own count, so the horizontal pass runs loops of one fixed length: adding 0 * px leaves a
// sum's bits unchanged, as px is finite and a sum that starts at +0 is never -0.
struct AxisTable {
  std::vector<int> first, count;
  std::vector<uint8_t> valid;  // false: a border's fill (or no taps)
  std::vector<int> fill;       // the fill number where not valid
  int taps = 0;
  std::vector<float> weights;  // weights[i * taps + j]
};

AxisTable build_axis_table(const AxisSampler& a) {
  const size_t n = size_t(a.out_size);
  AxisTable t;
  t.first.assign(n, 0);
  t.count.assign(n, 0);
  t.valid.assign(n, 0);
  t.fill.assign(n, 0);
  std::vector<double> centre(n), total(n);
  for (size_t i = 0; i < n; ++i) {
    if (!axis_centre(a, int(i), centre[i], t.fill[i])) continue;
    int first;
    const int count = axis_taps(a, centre[i], first);
    if (count == 0) continue;
    t.first[i] = first, t.count[i] = count, t.valid[i] = 1;
    total[i] = axis_total(a, centre[i], first, count);
    t.taps = std::max(t.taps, count);
  }
  t.weights.assign(n * size_t(t.taps), 0.0f);
  for (size_t i = 0; i < n; ++i)
    for (int j = 0; j < t.count[i]; ++j)
      t.weights[i * t.taps + j] = axis_weight(a, centre[i], t.first[i] + j, total[i]);
  return t;
}

// Window indices [lo, hi) that output columns [x0, x0 + width) read with the padded taps;
// (0, 0) when none of them has taps.
std::pair<int, int> tap_columns(const AxisTable& t, int x0, int width) {
  int lo = INT32_MAX, hi = INT32_MIN;
  for (int x = x0; x < x0 + width; ++x)
    if (t.valid[size_t(x)]) lo = std::min(lo, t.first[size_t(x)]), hi = std::max(hi, t.first[size_t(x)] + t.taps);
  return lo > hi ? std::pair{0, 0} : std::pair{lo, hi};
}

// Reads decoded pixels for a warp through its source edges (fold_tap per axis): a pixel, or
// the fill of the outer of the two axes' borders.
struct SourceFetch {
  const SourceView* image;
  const Fills* fills;
  const WarpSampler* warp;
  void operator()(int x, int y, float px[3]) const {
    const int bx = fold_tap(x, warp->x, image->image_width);
    const int by = fold_tap(y, warp->y, image->image_height);
    const int f = fill_of(bx, by);
    if (f >= 0) {
      px[0] = fills->v[f][0], px[1] = fills->v[f][1], px[2] = fills->v[f][2];
      return;
    }
    if (image->float_pixels != nullptr) {
      const float* p = image->at_float(bx, by);
      px[0] = p[0], px[1] = p[1], px[2] = p[2];
      return;
    }
    const uint8_t* p = image->at(bx, by);
    px[0] = p[0], px[1] = p[1], px[2] = p[2];
  }
};

// sum_j wx_j * px over one column's taps, one pixel's R, G, B in the lanes. K = 0: n taps.
template <int K>
Float4 column_sum(const float* src, const Float4* weights, int n) {
  Float4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int j = 0; j < (K > 0 ? K : n); ++j) acc += weights[j] * load4(src + size_t(j) * 3);
  return acc;
}

// The horizontal pass of one source row over all output columns (and the padding up to the
// stride, whose weights are zero), four columns at a time, transposed into the three planes.
// `src` holds the row's pixels as floats, 3 a pixel; first[x] is column x's first tap in it.
template <int K>
void horizontal_pass(const float* src, const int* first, const Float4* weights, int taps, size_t stride,
                     float* planes) {
  const int n = K > 0 ? K : taps;
  float* r = planes;
  float* g = planes + stride;
  float* b = planes + 2 * stride;
  for (size_t x = 0; x < stride; x += 4) {
    const Float4* w = weights + x * n;
    const Float4 p0 = column_sum<K>(src + size_t(first[x]) * 3, w, n);
    const Float4 p1 = column_sum<K>(src + size_t(first[x + 1]) * 3, w + n, n);
    const Float4 p2 = column_sum<K>(src + size_t(first[x + 2]) * 3, w + 2 * n, n);
    const Float4 p3 = column_sum<K>(src + size_t(first[x + 3]) * 3, w + 3 * n, n);
    const Float4 rg01 = __builtin_shufflevector(p0, p1, 0, 4, 1, 5);
    const Float4 rg23 = __builtin_shufflevector(p2, p3, 0, 4, 1, 5);
    const Float4 b01 = __builtin_shufflevector(p0, p1, 2, 6, 2, 6);
    const Float4 b23 = __builtin_shufflevector(p2, p3, 2, 6, 2, 6);
    store4(r + x, __builtin_shufflevector(rg01, rg23, 0, 1, 4, 5));
    store4(g + x, __builtin_shufflevector(rg01, rg23, 2, 3, 6, 7));
    store4(b + x, __builtin_shufflevector(b01, b23, 0, 1, 4, 5));
  }
}

// sum_k wy_k * h_k elementwise over rows of `len` floats (a multiple of kRowBlock), in tap order,
// rounded to the uint8 domain as torchvision's resize of a uint8 tensor returns (`round`; a
// float source's are not).
void vertical_pass(const float* const* rows, const float* weights, int count, size_t len, bool round, float* out) {
  constexpr int kVectors = kRowBlock / 4;
  for (size_t i = 0; i < len; i += kRowBlock) {
    Float4 a[kVectors] = {};
    for (int k = 0; k < count; ++k) {
      const float w = weights[k];
      const float* h = rows[k] + i;
      for (int l = 0; l < kVectors; ++l) a[l] += w * load4(h + 4 * l);
    }
    for (int l = 0; l < kVectors; ++l) store4(out + i + 4 * l, round ? quantize_resampled(a[l]) : a[l]);
  }
}

// The separable form: horizontal then vertical, with the same sums in the same order as the
// CUDA kernel's separable_pixel. Horizontal rows are computed when an output row first needs
// them and kept in a ring as long as the widest vertical filter, so each is computed once.
// Output columns [x0, x0 + shape.width) of the whole output's; rows are the whole output's.
class SeparableResampler {
 public:
  SeparableResampler(const ops::Geometry& g, const SourceView& src, const RowShape& shape, int x0)
      : src_(src), round_(src.float_pixels == nullptr), fills_(source_fills(g, !round_)), shape_(shape),
        ax_(make_axis_sampler(g.x, g.interp, g.antialias)), ay_(make_axis_sampler(g.y, g.interp, g.antialias)),
        xt_(build_axis_table(ax_)), yt_(build_axis_table(ay_)) {
    for (int f = 0; f < ops::kMaxFills; ++f)
      for (int c = 0; c < 3; ++c) fill_value_[f][c] = round_ ? quantize_resampled(fills_.v[f][c]) : fills_.v[f][c];
    std::tie(col_lo_, col_hi_) = tap_columns(xt_, x0, shape_.width);
    // Columns past the width (up to the stride) and outside the source read pixel 0 with zero
    // weights; the latter are then filled.
    tap_offset_.assign(shape_.stride, 0);
    x_weights_.assign(shape_.stride * xt_.taps, Float4{});
    for (int x = 0; x < shape_.width; ++x) {
      const size_t X = size_t(x0 + x);
      if (!xt_.valid[X]) {
        fill_columns_.push_back({x, xt_.fill[X]});
        continue;
      }
      tap_offset_[x] = xt_.first[X] - col_lo_;
      for (int j = 0; j < xt_.taps; ++j)
        x_weights_[size_t(x) * xt_.taps + j] = Float4{} + xt_.weights[X * xt_.taps + j];
    }
    // Room for the padded taps of a column at pixel 0 and for the unused lane of the last
    // pixel's load. Zeroed, like the ring, so that no lane ever holds garbage.
    source_row_ = std::make_unique<float[]>(size_t(col_hi_ - col_lo_ + xt_.taps) * 3 + 1);
    const int slots = std::max(yt_.taps, 1);
    ring_ = std::make_unique<float[]>(size_t(slots) * shape_.floats);
    ring_row_.assign(size_t(slots), -1);
    row_ptrs_.resize(size_t(slots));
  }

  // Output row y, rounded to the uint8 domain, into `planes` (shape_.floats).
  // A pixel whose row and column both show a fill shows the outer one (fill_of).
  void row(int y, float* planes) {
    if (!yt_.valid[y]) {
      const int fy = yt_.fill[y];
      for (int c = 0; c < 3; ++c) std::fill_n(planes + c * shape_.stride, shape_.width, fill_value_[fy][c]);
      for (const auto& [x, fx] : fill_columns_)
        if (fx > fy)
          for (int c = 0; c < 3; ++c) planes[c * shape_.stride + x] = fill_value_[fx][c];
      return;
    }
    const int count = yt_.count[y];
    for (int k = 0; k < count; ++k) row_ptrs_[k] = horizontal_row(yt_.first[y] + k);
    vertical_pass(row_ptrs_.data(), &yt_.weights[size_t(y) * yt_.taps], count, shape_.floats, round_, planes);
    for (const auto& [x, fx] : fill_columns_)
      for (int c = 0; c < 3; ++c) planes[c * shape_.stride + x] = fill_value_[fx][c];
  }

 private:
  const float* horizontal_row(int r) {
    const size_t slot = size_t(r) % ring_row_.size();
    float* out = &ring_[slot * shape_.floats];
    if (ring_row_[slot] == r) return out;
    ring_row_[slot] = r;
    load_source_row(r);
    const float* src = source_row_.get();
    const int* first = tap_offset_.data();
    const Float4* w = x_weights_.data();
    const size_t stride = shape_.stride;
    switch (xt_.taps) {
      case 1: horizontal_pass<1>(src, first, w, 1, stride, out); break;
      case 2: horizontal_pass<2>(src, first, w, 2, stride, out); break;
      case 3: horizontal_pass<3>(src, first, w, 3, stride, out); break;
      case 4: horizontal_pass<4>(src, first, w, 4, stride, out); break;
      case 5: horizontal_pass<5>(src, first, w, 5, stride, out); break;
      case 6: horizontal_pass<6>(src, first, w, 6, stride, out); break;
      default: horizontal_pass<0>(src, first, w, xt_.taps, stride, out); break;
    }
    return out;
  }

  // Window row r's pixels [col_lo_, col_hi_) as floats: decoded pixels where every source edge
  // keeps the tap, else mirrored or fill through them (fold_tap) — the values the CUDA
  // kernel's taps read one by one.
  void load_source_row(int r) {
    const int iy = ay_.base + r;
    const int sy = fold_tap(iy, ay_.edges, src_.image_height);
    const int x_lo = std::max(ax_.edges.inner_lo, 0), x_hi = std::min(ax_.edges.inner_hi, src_.image_width);
    int in_lo = std::clamp(x_lo - ax_.base, col_lo_, col_hi_);
    int in_hi = std::clamp(x_hi - ax_.base, in_lo, col_hi_);
    if (sy < 0) in_lo = in_hi = col_hi_;
    float* f = source_row_.get();
    const auto edge = [&](int c) {
      float* px = f + size_t(c - col_lo_) * 3;
      const int sx = fold_tap(ax_.base + c, ax_.edges, src_.image_width);
      const int f = fill_of(sx, sy);
      if (f >= 0) {
        px[0] = fills_.v[f][0], px[1] = fills_.v[f][1], px[2] = fills_.v[f][2];
        return;
      }
      if (!round_) {
        const float* p = src_.at_float(sx, sy);
        px[0] = p[0], px[1] = p[1], px[2] = p[2];
        return;
      }
      const uint8_t* p = src_.at(sx, sy);
      px[0] = p[0], px[1] = p[1], px[2] = p[2];
    };
    for (int c = col_lo_; c < in_lo; ++c) edge(c);
    float* d = f + size_t(in_lo - col_lo_) * 3;
    const size_t n = size_t(in_hi - in_lo) * 3;
    if (n > 0 && !round_) {
      std::copy_n(src_.at_float(ax_.base + in_lo, sy), n, d);
    } else if (n > 0) {
      const uint8_t* p = src_.at(ax_.base + in_lo, sy);
      for (size_t i = 0; i < n; ++i) d[i] = float(p[i]);
    }
    for (int c = in_hi; c < col_hi_; ++c) edge(c);
  }

  const SourceView& src_;
  bool round_;  // an 8-bit source: resampled values are rounded to the uint8 domain
  Fills fills_;
  float fill_value_[ops::kMaxFills][3];  // fills_ rounded as resampled values
  RowShape shape_;
  AxisSampler ax_, ay_;
  AxisTable xt_, yt_;
  int col_lo_ = 0, col_hi_ = 0;
  std::vector<int> tap_offset_;     // first tap of each column, in source_row_ pixels
  std::vector<Float4> x_weights_;   // xt_.weights in all four lanes, stride columns
  std::vector<std::pair<int, int>> fill_columns_;  // columns showing a fill, and its number
  std::unique_ptr<float[]> source_row_;
  std::unique_ptr<float[]> ring_;   // horizontal rows, shape_.floats apart
  std::vector<int> ring_row_;       // window row held by each slot, -1: none
  std::vector<const float*> row_ptrs_;
};

// Steps whose result depends only on a value and its channel: one loop per plane, the step's
// kind and parameters resolved once per row; vector loops where the formula is + - * / alone.
// False for the other kinds.
bool run_plane_op(const ops::PixelOp& op, const RowShape& row, float* planes) {
  const bool u8 = op.uint8_domain;
  for (int c = 0; c < 3; ++c) {
    float* p = planes + c * row.stride;
    const int k = op.channels == 1 ? 0 : c;  // normalize of a 1-channel image: a[0], a[3]
    switch (op.kind) {
      case ops::PixelKind::kBrightness:
        for (int x = 0; x < row.width; ++x) p[x] = brightness_value(p[x], op.a[0], u8);
        break;
      case ops::PixelKind::kContrast:
        for (int x = 0; x < row.width; ++x) p[x] = blend(p[x], op.a[1], op.a[0], u8);
        break;
      case ops::PixelKind::kToFloat:
        for (size_t x = 0; x < row.stride; x += 4) store4(p + x, to_float_value(load4(p + x)));
        break;
      case ops::PixelKind::kToUInt8:
        for (int x = 0; x < row.width; ++x) p[x] = to_uint8_value(p[x]);
        break;
      case ops::PixelKind::kNormalize: {
        const float mean = op.a[k], std = op.a[3 + k];
        for (size_t x = 0; x < row.stride; x += 4) store4(p + x, normalize_value(load4(p + x), mean, std));
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// A step that needs a pixel's three values (or its position) through apply_pixel_op. Flattened
// (apply_pixel_op inlined; gcc otherwise calls it per pixel) and `op` a copy that stores to the
// row cannot alias, so that the switch on its kind leaves the pixel loop.
// ctx.x: the row's first column in the whole output.
[[gnu::flatten]] void run_pixel_op(const ops::PixelOp op, const RowShape& row, float* planes, PixelContext ctx) {
  float* r = planes;
  float* g = planes + row.stride;
  float* b = planes + 2 * row.stride;
  const uint32_t x0 = ctx.x;
  for (int x = 0; x < row.width; ++x) {
    ctx.x = x0 + uint32_t(x);
    float v[3] = {r[x], g[x], b[x]};
    apply_pixel_op(op, v, ctx);
    r[x] = v[0], g[x] = v[1], b[x] = v[2];
  }
}

// Pointwise steps [begin, end) on output row y, columns [x0, x0 + row.width) of an output
// `out_width` wide, step by step over the row: each pixel still sees the steps in order.
void run_row_ops(const std::vector<ops::PixelOp>& ops, size_t begin, size_t end, const RowShape& row,
                 float* planes, int x0, int y, int out_width, const PixelStreamId& stream) {
  const PixelContext ctx{stream.key, stream.id.index, stream.id.stream(), uint32_t(x0), uint32_t(y), uint32_t(out_width)};
  for (size_t k = begin; k < end; ++k)
    if (!run_plane_op(ops[k], row, planes)) run_pixel_op(ops[k], row, planes, ctx);
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
void store_row(Tensor& t, int y, const RowShape& row, const float* planes) {
  using Element = decltype(convert<D>(0.0f));
  Element* dst = reinterpret_cast<Element*>(t.data.data());
  const int W = t.width, C = t.channels;
  if (t.layout == Layout::kCHW) {
    for (int c = 0; c < C; ++c) {
      Element* o = dst + (size_t(c) * t.height + y) * W;
      const float* p = planes + c * row.stride;
      if constexpr (D == DType::kFloat32) std::memcpy(o, p, sizeof(float) * W);
      else for (int x = 0; x < W; ++x) o[x] = convert<D>(p[x]);
    }
  } else {
    Element* o = dst + size_t(y) * W * C;
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c) o[size_t(x) * C + c] = convert<D>(planes[c * row.stride + x]);
  }
}

void store_row(Tensor& t, int y, const RowShape& row, const float* planes) {
  switch (t.dtype) {
    case DType::kUInt8: store_row<DType::kUInt8>(t, y, row, planes); break;
    case DType::kFloat32: store_row<DType::kFloat32>(t, y, row, planes); break;
    case DType::kFloat16: store_row<DType::kFloat16>(t, y, row, planes); break;
    case DType::kBFloat16: store_row<DType::kBFloat16>(t, y, row, planes); break;
  }
}

// A row of an interleaved image to and from planes, for the passes of barriers (pixel_passes.h).
void interleave_row(const RowShape& row, const float* planes, float* rgb) {
  for (int x = 0; x < row.width; ++x)
    for (int c = 0; c < 3; ++c) rgb[size_t(x) * 3 + c] = planes[c * row.stride + x];
}

void deinterleave_row(const RowShape& row, const float* rgb, float* planes) {
  for (int x = 0; x < row.width; ++x)
    for (int c = 0; c < 3; ++c) planes[c * row.stride + x] = rgb[size_t(x) * 3 + c];
}

bool contains(const codec::Rect& outer, const codec::Rect& inner) {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width &&
         inner.y + inner.height <= outer.y + outer.height;
}

// [min, max] of fold_tap(i, e, size) over i in [a, b], indices only; first > second when none
// is. Exact, but for a range longer than kExactSpan: then with only constant edges exactly the
// overlap, with mirrored ones the innermost edge's pixels (all a fold can end on), a superset.
std::pair<int, int> content_span(int64_t a, int64_t b, const AxisEdges& e, int size) {
  constexpr int64_t kExactSpan = int64_t(1) << 16;
  std::pair<int, int> span{INT32_MAX, INT32_MIN};
  if (b - a > kExactSpan) {
    bool mirror = false;
    for (int k = 0; k < e.source_count; ++k) mirror = mirror || e.source[k].border != static_cast<uint8_t>(ops::Border::kConstant);
    if (mirror) {
      a = std::max(e.source[0].lo, 0), b = std::min(e.source[0].hi, size) - 1;
    } else {
      a = std::max<int64_t>({a, e.inner_lo, 0}), b = std::min<int64_t>({b, int64_t(e.inner_hi) - 1, int64_t(size) - 1});
    }
    if (a <= b) span = {int(a), int(b)};
    return span;
  }
  for (int64_t i = a; i <= b; ++i) {
    const int k = fold_tap(int(i), e, size);
    if (k >= 0) span.first = std::min(span.first, k), span.second = std::max(span.second, k);
  }
  return span;
}

// [lo, hi): the span of output pixels that pixels [from, to) of one axis show through its
// output edges; empty (lo >= hi) when all are fill.
std::pair<double, double> folded_range(const AxisEdges& e, int from, int to) {
  double lo = 1e300, hi = -1e300;
  for (int i = from; i < to; ++i) {
    double u = i + 0.5;
    if (fold_coord(u, e) >= 0) continue;
    lo = std::min(lo, u - 0.5), hi = std::max(hi, u + 0.5);
  }
  return {lo, hi};
}

}  // namespace

codec::Rect widen(const codec::Rect& r, int hx, int hy, int width, int height) {
  const int x0 = std::max(r.x - hx, 0), y0 = std::max(r.y - hy, 0);
  const int x1 = std::min(r.x + r.width + hx, width), y1 = std::min(r.y + r.height + hy, height);
  return {x0, y0, x1 - x0, y1 - y0};
}

codec::Rect computed_window(const ops::FoldResult& fold, const codec::Rect& window) {
  const Halo h = blur_halo(fold);
  return widen(window, h.x, h.y, fold.geometry.out_w, fold.geometry.out_h);
}

std::vector<codec::Rect> blur_targets(const ops::FoldResult& fold, const codec::Rect& window) {
  Halo after = blur_halo(fold);
  std::vector<codec::Rect> targets;
  for (const ops::PixelOp& op : fold.pixels) {
    if (op.kind != ops::PixelKind::kBlur) continue;
    after.x -= std::max(op.rect[0], 1) / 2, after.y -= std::max(op.rect[1], 1) / 2;
    targets.push_back(widen(window, after.x, after.y, fold.geometry.out_w, fold.geometry.out_h));
  }
  return targets;
}

void check_window(const ops::FoldResult& fold, const codec::Rect& window) {
  const int W = fold.geometry.out_w, H = fold.geometry.out_h;
  if (window.width <= 0 || window.height <= 0 || !contains({0, 0, W, H}, window))
    throw Error("", "tile", "window " + std::to_string(window.width) + "x" + std::to_string(window.height) + "+" +
                                std::to_string(window.x) + "+" + std::to_string(window.y) + " is not inside the " +
                                std::to_string(W) + "x" + std::to_string(H) + " output");
  if (window.width == W && window.height == H) return;
  if (needs_whole_output(fold))
    throw Error("", "tile", "contrast blends each pixel with the whole image's mean, so a chain with it "
                            "runs on the whole image, not in tiles");
}

bool needs_whole_output(const ops::FoldResult& fold) {
  return std::any_of(fold.pixels.begin(), fold.pixels.end(),
                     [](const ops::PixelOp& op) { return op.kind == ops::PixelKind::kContrast; });
}

Halo blur_halo(const ops::FoldResult& fold) {
  Halo h;
  for (const ops::PixelOp& op : fold.pixels)
    if (op.kind == ops::PixelKind::kBlur) h.x += std::max(op.rect[0], 1) / 2, h.y += std::max(op.rect[1], 1) / 2;
  return h;
}

codec::Rect source_region(const ops::FoldResult& fold, int image_width, int image_height,
                          const codec::Rect& window) {
  const ops::Geometry& g = fold.geometry;
  const codec::Rect e = computed_window(fold, window);
  std::pair<int, int> xs{INT32_MAX, INT32_MIN}, ys{INT32_MAX, INT32_MIN};
  if (g.separable) {
    const AxisSampler ax = make_axis_sampler(g.x, g.interp, g.antialias);
    const AxisSampler ay = make_axis_sampler(g.y, g.interp, g.antialias);
    const AxisTable xt = build_axis_table(ax), yt = build_axis_table(ay);
    // As SeparableResampler reads: each computed row's vertical taps, and for every row the
    // padded horizontal taps of the computed columns.
    for (int y = e.y; y < e.y + e.height; ++y) {
      if (!yt.valid[size_t(y)]) continue;
      const int first = yt.first[size_t(y)] + ay.base;
      const auto [lo, hi] = content_span(first, int64_t(first) + yt.count[size_t(y)] - 1, ay.edges, image_height);
      ys.first = std::min(ys.first, lo), ys.second = std::max(ys.second, hi);
    }
    const auto [col_lo, col_hi] = tap_columns(xt, e.x, e.width);
    if (col_hi > col_lo)
      xs = content_span(int64_t(ax.base) + col_lo, int64_t(ax.base) + col_hi - 1, ax.edges, image_width);
  } else {
    const WarpSampler w = make_warp_sampler(g);
    // The output pixels the window's pixels show once the output edges fold them (a mirrored
    // pad after the warp shows pixels outside the window).
    const auto [u_lo, u_hi] = folded_range(w.x, e.x, e.x + e.width);
    const auto [v_lo, v_hi] = folded_range(w.y, e.y, e.y + e.height);
    if (!(u_lo < u_hi) || !(v_lo < v_hi)) return {};
    double x_lo = 1e300, x_hi = -1e300, y_lo = 1e300, y_hi = -1e300;
    for (const double u : {u_lo, u_hi})
      for (const double v : {v_lo, v_hi}) {
        const double sx = std::clamp(w.m[0] * u + w.m[1] * v + w.m[2], -1e8, 1e8);
        const double sy = std::clamp(w.m[3] * u + w.m[4] * v + w.m[5], -1e8, 1e8);
        x_lo = std::min(x_lo, sx), x_hi = std::max(x_hi, sx), y_lo = std::min(y_lo, sy), y_hi = std::max(y_hi, sy);
      }
    // Nearest reads floor(s); bilinear floor(s - 0.5) + {0, 1}; bicubic + {-1 .. 2}; one pixel
    // more each side for the rounding of points inside the corners.
    xs = content_span(int64_t(std::floor(x_lo - 0.5)) - 2, int64_t(std::floor(x_hi)) + 3, w.x, image_width);
    ys = content_span(int64_t(std::floor(y_lo - 0.5)) - 2, int64_t(std::floor(y_hi)) + 3, w.y, image_height);
  }
  if (xs.first > xs.second || ys.first > ys.second) return {};
  return {xs.first, ys.first, xs.second - xs.first + 1, ys.second - ys.first + 1};
}

Tensor execute_cpu(const ops::FoldResult& fold, const Image& source, const PixelStreamId& stream,
                   Layout layout) {
  return execute_cpu_window(fold, SourceView::of(source), stream, layout,
                            {0, 0, fold.geometry.out_w, fold.geometry.out_h});
}

Tensor execute_cpu_window(const ops::FoldResult& fold, const SourceView& source, const PixelStreamId& stream,
                          Layout layout, const codec::Rect& window) {
  const ops::Geometry& g = fold.geometry;
  const int W = g.out_w, H = g.out_h;
  check_window(fold, window);
  if (fold.float_source != (source.float_pixels != nullptr))
    throw Error("", "plan", fold.float_source ? "internal: a float image's plan run on 8-bit pixels"
                                              : "internal: an 8-bit image's plan run on float pixels");
  std::vector<ops::PixelOp> ops = fold.pixels;
  const size_t first_barrier =
      size_t(std::find_if(ops.begin(), ops.end(), [](const ops::PixelOp& op) { return ops::is_barrier(op.kind); }) -
             ops.begin());
  // Without barriers each row is finished and stored while it is in cache; with them the first
  // segment still runs on the rows of `e` (the window and its blur halo), which then wait in
  // `rgb` for the image-wide passes.
  const codec::Rect e = first_barrier < ops.size() ? computed_window(fold, window) : window;
  const RowShape shape(e.width), out_shape(window.width);
  Tensor out(fold.dtype, layout, window.height, window.width, fold.channels);
  std::unique_ptr<float[]> rgb;
  if (first_barrier < ops.size()) rgb = std::make_unique_for_overwrite<float[]>(size_t(e.width) * e.height * 3);
  const auto rgb_row = [&](int y) { return &rgb[size_t(y - e.y) * e.width * 3]; };
  // Zeroed: the padding of its planes goes through the vector loops too.
  const auto planes = std::make_unique<float[]>(shape.floats);
  // Row y of the resampled image, rounded, is in `planes`.
  auto finish_row = [&](int y) {
    run_row_ops(ops, 0, first_barrier, shape, planes.get(), e.x, y, W, stream);
    if (rgb) interleave_row(shape, planes.get(), rgb_row(y));
    else store_row(out, y - window.y, shape, planes.get());
  };

  if (g.separable) {
    SeparableResampler resampler(g, source, shape, e.x);
    for (int y = e.y; y < e.y + e.height; ++y) {
      resampler.row(y, planes.get());
      finish_row(y);
    }
  } else {
    const WarpSampler w = make_warp_sampler(g);
    const bool round = source.float_pixels == nullptr;
    const Fills fills = source_fills(g, !round);
    const SourceFetch fetch{&source, &fills, &w};
    for (int y = e.y; y < e.y + e.height; ++y) {
      for (int x = 0; x < e.width; ++x) {
        float px[3];
        warp_pixel(w, e.x + x, y, fills, fetch, px);
        for (int c = 0; c < 3; ++c) planes[c * shape.stride + x] = round ? quantize_resampled(px[c]) : px[c];
      }
      finish_row(y);
    }
  }
  if (!rgb) return out;

  // Segments between barriers, row by row over all computed pixels; the last one, over the
  // window's, ends in the store.
  auto run_segment = [&](size_t begin, size_t end, bool last) {
    if (begin >= end && !last) return;
    if (!last) {
      for (int y = e.y; y < e.y + e.height; ++y) {
        float* row = rgb_row(y);
        deinterleave_row(shape, row, planes.get());
        run_row_ops(ops, begin, end, shape, planes.get(), e.x, y, W, stream);
        interleave_row(shape, planes.get(), row);
      }
      return;
    }
    for (int y = window.y; y < window.y + window.height; ++y) {
      deinterleave_row(out_shape, rgb_row(y) + size_t(window.x - e.x) * 3, planes.get());
      run_row_ops(ops, begin, end, out_shape, planes.get(), window.x, y, W, stream);
      store_row(out, y - window.y, out_shape, planes.get());
    }
  };
  const std::vector<codec::Rect> targets = blur_targets(fold, window);
  size_t blurs = 0;
  size_t begin = first_barrier;
  for (size_t k = first_barrier; k < ops.size(); ++k) {
    if (!ops::is_barrier(ops[k].kind)) continue;
    run_segment(begin, k, false);
    if (ops[k].kind == ops::PixelKind::kContrast) {
      ops[k].a[1] = image_gray_mean(rgb.get(), W, H, ops[k]);
      begin = k;  // the blend itself is pointwise
    } else {
      gaussian_blur_window(rgb.get(), e, W, H, targets[blurs++], ops[k]);
      begin = k + 1;
    }
  }
  run_segment(begin, ops.size(), true);
  return out;
}

}  // namespace gpuaug::plan
