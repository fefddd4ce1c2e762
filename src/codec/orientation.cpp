// apply_orientation and the rectangle mappings between upright and stored images.
#include "codec/orientation.h"

#include <cstring>

namespace gpuaug::codec {

Image apply_orientation(const Image& raw, int orientation) {
  if (orientation < 2 || orientation > 8) return raw;
  const bool swap = orientation >= 5;
  const int w = raw.width, h = raw.height, c = raw.channels;
  // As much room as the stored image has (a decoder may reserve the whole image for a crop).
  Image out(swap ? h : w, swap ? w : h, c, raw.pixels.capacity());
  // Each case gives the raw pixel shown at upright (ox, oy).
  for (int oy = 0; oy < out.height; ++oy) {
    uint8_t* dst = out.row(oy);
    for (int ox = 0; ox < out.width; ++ox, dst += c) {
      int x = ox, y = oy;
      switch (orientation) {
        case 2:
          x = w - 1 - ox;
          break;
        case 3:
          x = w - 1 - ox;
          y = h - 1 - oy;
          break;
        case 4:
          y = h - 1 - oy;
          break;
        case 5:
          x = oy;
          y = ox;
          break;
        case 6:
          x = oy;
          y = h - 1 - ox;
          break;
        case 7:
          x = w - 1 - oy;
          y = h - 1 - ox;
          break;
        case 8:
          x = w - 1 - oy;
          y = ox;
          break;
      }
      std::memcpy(dst, raw.row(y) + size_t(x) * c, size_t(c));
    }
  }
  return out;
}

Rect oriented_to_raw(Rect r, int orientation, int raw_w, int raw_h) {
  // Follows the per-pixel cases of apply_orientation; a reversed axis maps [a, a+n) to
  // [size-a-n, size-a).
  switch (orientation) {
    case 2:
      return {raw_w - r.x - r.width, r.y, r.width, r.height};
    case 3:
      return {raw_w - r.x - r.width, raw_h - r.y - r.height, r.width, r.height};
    case 4:
      return {r.x, raw_h - r.y - r.height, r.width, r.height};
    case 5:
      return {r.y, r.x, r.height, r.width};
    case 6:
      return {r.y, raw_h - r.x - r.width, r.height, r.width};
    case 7:
      return {raw_w - r.y - r.height, raw_h - r.x - r.width, r.height, r.width};
    case 8:
      return {raw_w - r.y - r.height, r.x, r.height, r.width};
    default:
      return r;
  }
}

Rect raw_to_oriented(Rect r, int orientation, int raw_w, int raw_h) {
  // 6 and 8 undo each other; every other orientation is its own inverse. Seen from the
  // upright image the raw one is its "oriented" view, so the sizes swap for 5..8.
  const int inverse = orientation == 6 ? 8 : orientation == 8 ? 6 : orientation;
  return orientation >= 5 && orientation <= 8 ? oriented_to_raw(r, inverse, raw_h, raw_w)
                                              : oriented_to_raw(r, inverse, raw_w, raw_h);
}

}  // namespace gpuaug::codec
