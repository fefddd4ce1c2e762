// SampleFold: what one sample's chain folds into — a geometry (one resampling from the
// decoded source) and a pixel program — built operator by operator.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace gpuaug::ops {

enum class Interp : uint8_t { kNearest, kBilinear, kBicubic };
enum class Border : uint8_t { kConstant, kEdge, kReflect, kSymmetric };

// Fill values one sample may hold: Geometry::fills[0] is torchvision's F.crop zero (outside
// the decoded image), the others one per constant pad, out-of-image crop and warp, numbered in
// chain order, so that of two borders the later (outer) one has the larger number.
inline constexpr int kMaxFills = 8;
// Pads and out-of-image crops one axis may hold on one side of its resampling.
inline constexpr int kMaxEdges = 6;

// One pad, or one crop reaching past the image it was given, on one axis: coordinates outside
// [lo, hi) (that image) are the fill `fill` (constant) or the image mirrored (edge, reflect,
// symmetric), as torchvision pads the image it is given. Continuous coordinates: pixel k
// covers [k, k + 1).
struct Edge {
  double lo = 0.0;
  double hi = 0.0;
  Border border = Border::kConstant;
  uint8_t fill = 0;  // Geometry::fills index, for constant edges
};

// An axis' edges in chain order: the last is the outermost, so a coordinate meets it first.
struct Edges {
  std::array<Edge, kMaxEdges> edge{};
  int count = 0;
};

// One axis of a separable geometry (no rotation or shear). Output index i maps to
// i' = flip ? out_size-1-i : i and to the window-relative centre c = scale*(i'+shift+0.5);
// the source coordinate is lo + c. Taps outside the window [lo, hi) are dropped and the rest
// renormalized, as torchvision's antialiased resize does at a crop's edges (without antialias
// they clamp to it).
struct Axis {
  int out_size = 0;
  bool flip = false;
  double scale = 1.0;  // source pixels per output pixel
  double shift = 0.0;  // output-index offset from crops taken after a resize
  double lo = 0.0;
  double hi = 0.0;
  bool resampled = false;  // a resize was folded into this axis
  // Pads and out-of-image crops before the resize (or the warp), in source coordinates: the
  // taps they cover are fill or mirrored inside the image that op was given (a pad after a
  // crop pads the crop, not the source beside it).
  Edges source;
  // Those after the resize, in resized coordinates i' + shift: the output index is folded
  // through them (fill, or mirrored into the resized image) before it maps to the source, so a
  // mirrored pad mirrors the resized image. After a warp: those after it, in output pixels.
  Edges output;
};

// The geometry of a sample: where each output pixel comes from in the (oriented) source.
struct Geometry {
  bool separable = true;
  Axis x, y;
  // Warp form: source = m * (u, v, 1), (u, v) = output pixel centre (x+0.5, y+0.5).
  std::array<double, 6> m{1, 0, 0, 0, 1, 0};
  // Warp taps are kept only where valid * (source pixel centre) falls in [v0, v1) x [v2, v3):
  // the input of the last rotate/affine, as torchvision's grid_sample mask sees it.
  std::array<double, 6> valid{1, 0, 0, 0, 1, 0};
  std::array<double, 4> valid_rect{0, 0, 0, 0};
  int out_w = 0;
  int out_h = 0;
  Interp interp = Interp::kBilinear;
  bool antialias = true;
  bool resized = false;  // a resize was folded: a shrinking warp then filters (supersamples)
  // In the uint8 domain (0..255), as torchvision's fill; see kMaxFills.
  std::array<std::array<float, 3>, kMaxFills> fills{};
  int fill_count = 1;
  uint8_t warp_fill = 0;  // the last warp's fill: where its mask is short of one
};

enum class PixelKind : uint8_t {
  kBrightness,   // a[0] factor
  kContrast,     // a[0] factor, a[1] mean (set by the executor: needs the whole image)
  kSaturation,   // a[0] factor
  kHue,          // a[0] factor in [-0.5, 0.5]
  kGrayscale,    // gray into every channel
  kToFloat,      // uint8 domain -> float domain: x * float(1/255)
  kToUInt8,      // float domain -> uint8 domain: trunc(clamp(x, 0, 1) * 255.999)
  kNormalize,    // a[0..2] mean, a[3..5] std
  kNoise,        // a[0] mean, a[1] sigma, a[2] clip (0/1)
  kErase,        // rect[top, left, height, width], a[0..2] value, a[3] random (0/1)
  kBlur,         // a[0] sigma_x, a[1] sigma_y, rect[0] kernel_x, rect[1] kernel_y
};

// One step of the pixel program. `uint8_domain`: values are integers in 0..255 and the step
// truncates its result (torchvision on uint8 tensors); otherwise floats in [0, 1].
struct PixelOp {
  PixelKind kind{};
  bool uint8_domain = true;
  uint8_t channels = 3;      // channels of the image at this step (1 after grayscale(1))
  uint16_t op_index = 0;     // the spec position, for the noise counter
  std::array<float, 6> a{};
  std::array<int32_t, 4> rect{};
};

// Contrast needs the image mean, blur needs neighbours: both end a fused segment.
inline bool is_barrier(PixelKind kind) {
  return kind == PixelKind::kContrast || kind == PixelKind::kBlur;
}

// The finished plan of one output sample, before decode adjusts it to the decoded region.
struct FoldResult {
  Geometry geometry;
  std::vector<PixelOp> pixels;
  int channels = 3;
  DType dtype = DType::kUInt8;
  bool has_normalize = false;  // last normalize, kept to map float outputs back for viewing
  std::array<float, 3> norm_mean{0, 0, 0};
  std::array<float, 3> norm_std{1, 1, 1};
  // The source is a float image on the [0, 1] scale (torchvision's float tensors): resampled
  // values are not rounded to the uint8 domain, fills are scaled by 1/255, and the pixel
  // program starts in the float domain.
  bool float_source = false;
};

// Operators call these in chain order; each updates the geometry or appends a pixel step.
class SampleFold {
 public:
  // A 1-channel source is a gray image (its value in all three of the executors' RGB source
  // channels): the pixel program treats it as torchvision treats a 1-channel tensor. A
  // `float_source` starts in the float domain (FoldResult::float_source).
  SampleFold(int source_width, int source_height, int source_channels = 3, bool float_source = false);

  int width() const { return cur_w_; }
  int height() const { return cur_h_; }
  int channels() const { return channels_; }
  bool uint8_domain() const { return uint8_domain_; }

  // Crop rows [top, top+height) and columns [left, left+width) of the current image; parts
  // outside it are filled (torchvision's F.crop pads with the fill).
  void crop(int64_t top, int64_t left, int64_t height, int64_t width);
  void resize(int height, int width, Interp interp, bool antialias);
  void flip_horizontal();
  void flip_vertical();
  // A border around the current image; each pad keeps its own rule and fill (Edge).
  void pad(int left, int top, int right, int bottom, Border border, std::array<float, 3> fill);
  // Output pixel centre p (continuous, size out_w x out_h) -> current-image coordinates
  // inverse * (p.x, p.y, 1). Rotation and affine compute `inverse` as torchvision does.
  void warp(const std::array<double, 6>& inverse, int out_w, int out_h, Interp interp,
            std::array<float, 3> fill);

  // Pixel steps; to_float/to_uint8 switch the domain. Ops needing floats call require_float.
  void pixel(PixelOp op);
  void require_float(uint16_t op_index);
  void set_output_dtype(DType dtype) { dtype_ = dtype; }
  void set_grayscale_channels(int channels) { channels_ = channels; }
  void note_normalize(std::array<float, 3> mean, std::array<float, 3> std);

  FoldResult finish() const;

 private:
  void to_matrix();
  // Crop or pad: the current image becomes rows [top, top + height) and columns
  // [left, left + width) of itself, and where that reaches past it an Edge says what lies
  // there (a crop: F.crop's zeros).
  void reframe(int64_t top, int64_t left, int64_t height, int64_t width, Border border,
               const std::array<float, 3>& fill);
  uint8_t add_fill(const std::array<float, 3>& fill);

  int cur_w_;
  int cur_h_;
  int channels_ = 3;
  bool uint8_domain_ = true;
  bool float_source_ = false;
  DType dtype_ = DType::kUInt8;
  Geometry geometry_;
  std::vector<PixelOp> pixels_;
  bool has_normalize_ = false;
  std::array<float, 3> norm_mean_{0, 0, 0};
  std::array<float, 3> norm_std_{1, 1, 1};
};

}  // namespace gpuaug::ops
