// add_rgb_moments and rgb_to_gray: plain loops the compiler vectorizes (stride-3 loads need
// AVX2 shuffles, hence the clones; the results are integers, identical on every path).
#include "core/pixel_moments.h"

#include <algorithm>

namespace gpuaug {

[[gnu::target_clones("avx2", "default")]] void add_rgb_moments(const uint8_t* rgb, size_t pixels,
                                                                RgbMoments& m) {
  for (size_t begin = 0; begin < pixels; begin += 65536) {
    const size_t end = std::min(pixels, begin + 65536);
    uint32_t s0 = 0, s1 = 0, s2 = 0, rr = 0, gg = 0, bb = 0, rg = 0, rb = 0, gb = 0;
    for (size_t i = begin; i < end; ++i) {
      const uint32_t r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
      s0 += r, s1 += g, s2 += b;
      rr += r * r, gg += g * g, bb += b * b, rg += r * g, rb += r * b, gb += g * b;
    }
    m.sum[0] += s0, m.sum[1] += s1, m.sum[2] += s2;
    m.products[0] += rr, m.products[1] += gg, m.products[2] += bb;
    m.products[3] += rg, m.products[4] += rb, m.products[5] += gb;
  }
}

[[gnu::target_clones("avx2", "default")]] void rgb_to_gray(const uint8_t* rgb, size_t pixels, int32_t* gray) {
  for (size_t i = 0; i < pixels; ++i)
    gray[i] = (19595 * int32_t(rgb[3 * i]) + 38470 * int32_t(rgb[3 * i + 1]) + 7471 * int32_t(rgb[3 * i + 2]) +
               32768) >> 16;
}

}  // namespace gpuaug
