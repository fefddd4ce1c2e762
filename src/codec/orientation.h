// EXIF orientation: turning a stored image upright, and mapping rectangles between the two.
#pragma once

#include "codec/image_info.h"
#include "core/tensor.h"

namespace gpuaug::codec {

// The upright image, exactly as Pillow's ImageOps.exif_transpose: 1 identity, 2 mirror
// horizontal, 3 rotate 180, 4 mirror vertical, 5 transpose, 6 rotate 90 CW, 7 transverse,
// 8 rotate 270 CW. Any channel count; orientations outside 1..8 act as 1.
Image apply_orientation(const Image& raw, int orientation);

// The rectangle of the raw (stored, raw_w x raw_h) image that shows r, a rectangle of the
// upright image. Exact for any r, also one reaching outside the image.
Rect oriented_to_raw(Rect r, int orientation, int raw_w, int raw_h);

// The inverse: the rectangle of the upright image that shows r, a rectangle of the raw image.
Rect raw_to_oriented(Rect r, int orientation, int raw_w, int raw_h);

}  // namespace gpuaug::codec
