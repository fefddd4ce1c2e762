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
// other than constant read the whole image (their mirrored pixels may lie anywhere).
DecodeNeeds decode_needs(const std::vector<const ops::FoldResult*>& folds, int source_width,
                         int source_height, bool dct_scaling);

// The geometry in the decoded image's pixels: (source + grid_offset) / scale_denom - origin
// (codec::DecodedImage says what each is).
ops::Geometry retarget(const ops::Geometry& geometry, int scale_denom, int origin_x, int origin_y,
                       int grid_offset_x = 0, int grid_offset_y = 0);

AxisSampler make_axis_sampler(const ops::Axis& axis, ops::Interp interp, bool antialias);
WarpSampler make_warp_sampler(const ops::Geometry& geometry);

// Who a sample is, for its per-pixel noise.
struct PixelStreamId {
  RandomKey key{};
  SampleId id{};
};

// Runs a plan on the CPU: resample `source` (8-bit RGB, decoded-image coordinates as
// `fold.geometry` after retarget) and the pixel program, then cast to `fold.dtype` in `layout`.
Tensor execute_cpu(const ops::FoldResult& fold, const Image& source, const PixelStreamId& stream,
                   Layout layout);

}  // namespace gpuaug::plan
