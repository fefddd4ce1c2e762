// The plan of one output sample against its decoded source: what to decode (region, DCT
// scale), the geometry moved into decoded-image coordinates, and the CPU executor.
#pragma once

#include <vector>

#include "codec/image_info.h"
#include "core/random.h"
#include "core/tensor.h"
#include "ops/fold.h"
#include "plan/resample_math.h"

namespace gpuaug::plan {

struct DecodeNeeds {
  codec::Rect region;  // oriented full-resolution pixels; width 0 = whole image
  int scale_denom = 1;
};

// The region all `folds` read (plus filter support) and the smallest DCT scale 1/d (d in 1, 2,
// 4, 8) that keeps at least each output's resolution. dct_scaling=false keeps d = 1; borders
// mirrored before the resize or warp read the whole image (their mirrored pixels may lie
// anywhere).
DecodeNeeds decode_needs(const std::vector<const ops::FoldResult*>& folds, int source_width,
                         int source_height, bool dct_scaling);

// The geometry in the decoded image's pixels: (source + grid_offset) / scale_denom - origin
// (codec::DecodedImage says what each is).
ops::Geometry retarget(const ops::Geometry& geometry, int scale_denom, int origin_x, int origin_y,
                       int grid_offset_x = 0, int grid_offset_y = 0);

AxisSampler make_axis_sampler(const ops::Axis& axis, ops::Interp interp, bool antialias);
WarpSampler make_warp_sampler(const ops::Geometry& geometry);
AxisEdges make_axis_edges(const ops::Axis& axis);
Fills make_fills(const ops::Geometry& geometry);
// The fills a source reads: make_fills' (given in the uint8 domain, as torchvision's fill), or
// for a float source (FoldResult::float_source) the same on its [0, 1] scale.
Fills source_fills(const ops::Geometry& geometry, bool float_source);
// Some edge before the resize or warp mirrors: its taps may read any pixel of the image.
bool has_source_mirror(const ops::Geometry& geometry);

// Who a sample is, for its per-pixel noise.
struct PixelStreamId {
  RandomKey key{};
  SampleId id{};
};

// Runs a plan on the CPU: resample `source` (8-bit RGB, decoded-image coordinates as
// `fold.geometry` after retarget) and the pixel program, then cast to `fold.dtype` in `layout`.
Tensor execute_cpu(const ops::FoldResult& fold, const Image& source, const PixelStreamId& stream,
                   Layout layout);

// Decoded pixels as the executor reads them: the rectangle `region` of a decoded image that is
// image_width x image_height (all of it for a whole-image run, a tile's source otherwise).
// Interleaved RGB, rows `stride` elements apart: 8-bit `pixels`, or, for float images handed
// over in memory (gpuaug.functional), `float_pixels` on the [0, 1] scale, whose chains begin in
// the float domain (FoldResult::float_source).
struct SourceView {
  const uint8_t* pixels = nullptr;
  size_t stride = 0;
  codec::Rect region;
  int image_width = 0, image_height = 0;
  const float* float_pixels = nullptr;

  static SourceView of(const Image& image) {
    return {image.pixels.data(), image.stride(), {0, 0, image.width, image.height}, image.width, image.height};
  }
  // Pixel (x, y) of the decoded image; it must lie in `region`.
  const uint8_t* at(int x, int y) const {
    return pixels + size_t(y - region.y) * stride + size_t(x - region.x) * 3;
  }
  const float* at_float(int x, int y) const {
    return float_pixels + size_t(y - region.y) * stride + size_t(x - region.x) * 3;
  }
};

// Output pixels `window` of a sample (in the whole output's pixels), bit for bit the same as
// those pixels of execute_cpu on the whole decoded image, reading only source_region(window)
// of it. How one huge image is cut into tiles (plan/tiling.h). Blurs are computed over the
// window widened by their radii; contrast, which blends with the whole image's mean, runs
// only on a whole-output window (Error, stage "tile", otherwise).
Tensor execute_cpu_window(const ops::FoldResult& fold, const SourceView& source, const PixelStreamId& stream,
                          Layout layout, const codec::Rect& window);

// The decoded pixels execute_cpu_window reads for `window` of a decoded image of
// image_width x image_height: the taps of every output pixel it computes (the window and its
// blur halo) after the border rule, clipped to the image; width 0 when it reads none. Exact
// per axis for separable geometry; for a warp, the bounds of the tile's corners mapped back,
// widened by the interpolation's support and one pixel.
codec::Rect source_region(const ops::FoldResult& fold, int image_width, int image_height,
                          const codec::Rect& window);

// Output pixels a window's blurs add on each side (their kernel radii, summed): the halo.
struct Halo {
  int x = 0, y = 0;
};
Halo blur_halo(const ops::FoldResult& fold);

// `r` widened by (hx, hy) on each side, cut to [0, width) x [0, height).
codec::Rect widen(const codec::Rect& r, int hx, int hy, int width, int height);

// What executing `window` computes before its blurs: the window and its blur halo, cut to the
// output; and what blur number k (in chain order) computes: the window widened by the radii of
// the blurs after it. The GPU executor follows the same rules.
codec::Rect computed_window(const ops::FoldResult& fold, const codec::Rect& window);
std::vector<codec::Rect> blur_targets(const ops::FoldResult& fold, const codec::Rect& window);

// Throws Error (stage "tile") unless `window` is a non-empty part of the output, and when it is
// not the whole output but the chain has a contrast step (which needs the whole image's mean).
void check_window(const ops::FoldResult& fold, const codec::Rect& window);
// Whether the chain has such a step, so that it runs only as one window.
bool needs_whole_output(const ops::FoldResult& fold);

}  // namespace gpuaug::plan
