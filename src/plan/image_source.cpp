// Host side of image_source.h: in-place views of interleaved RGB images and packed RGB copies.
#include "plan/image_source.h"

namespace gpuaug::plan {

SourceView source_view(const StridedImage& s) {
  return {s.data, size_t(s.stride_y), {0, 0, s.width, s.height}, s.width, s.height};
}

Image to_rgb(const StridedImage& s) {
  Image image(s.width, s.height, 3);
  for (int y = 0; y < s.height; ++y) {
    uint8_t* row = image.row(y);
    for (int x = 0; x < s.width; ++x)
      for (int c = 0; c < 3; ++c) row[x * 3 + c] = rgb_value(s, x, y, c);
  }
  return image;
}

}  // namespace gpuaug::plan
