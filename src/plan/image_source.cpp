// Host side of image_source.h: in-place views of interleaved RGB images and packed RGB copies
// (8-bit and float).
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

std::vector<float> to_rgb_float(const StridedImage& s) {
  std::vector<float> rgb(size_t(s.width) * s.height * 3);
  for (int y = 0; y < s.height; ++y)
    for (int x = 0; x < s.width; ++x)
      for (int c = 0; c < 3; ++c) rgb[(size_t(y) * s.width + x) * 3 + c] = rgb_value<float>(s, x, y, c);
  return rgb;
}

SourceView float_source_view(const std::vector<float>& rgb, int width, int height) {
  SourceView view{nullptr, size_t(width) * 3, {0, 0, width, height}, width, height};
  view.float_pixels = rgb.data();
  return view;
}

}  // namespace gpuaug::plan
