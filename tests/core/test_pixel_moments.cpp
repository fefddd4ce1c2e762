// Tests for the pixel reductions: histograms (four pixels a step), sums and squares from them,
// and the vectorized sums, squares and cross products, against plain per-pixel loops.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "core/pixel_moments.h"

namespace gpuaug {
namespace {

TEST(PixelMoments, EveryReductionEqualsAPlainLoop) {
  std::mt19937 rng(7);
  // Pixel counts around the four-pixel step and the 65536-pixel blocks, and runs of one value
  // (the lanes) as well as noise.
  for (const size_t n : {size_t(0), size_t(1), size_t(3), size_t(4), size_t(5), size_t(7), size_t(65535),
                         size_t(65536), size_t(65541), size_t(200003)}) {
    for (const bool flat : {false, true}) {
      std::vector<uint8_t> rgb(3 * n);
      for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = flat ? uint8_t(255 - i % 3) : uint8_t(rng());
      RgbHistograms want_h{};
      std::array<uint64_t, 3> want_sum{}, want_sq{}, want_cross{};
      for (size_t p = 0; p < n; ++p) {
        const uint64_t r = rgb[3 * p], g = rgb[3 * p + 1], b = rgb[3 * p + 2];
        ++want_h[0][r], ++want_h[1][g], ++want_h[2][b];
        want_sum[0] += r, want_sum[1] += g, want_sum[2] += b;
        want_sq[0] += r * r, want_sq[1] += g * g, want_sq[2] += b * b;
        want_cross[0] += r * g, want_cross[1] += r * b, want_cross[2] += g * b;
      }
      RgbHistograms h{};
      h[1][9] = 5;  // adds to what is there
      add_rgb_histograms(rgb.data(), n, h);
      h[1][9] -= 5;
      EXPECT_EQ(h, want_h) << n;
      std::array<uint64_t, 3> sum{}, sq{}, cross{};
      rgb_sums_from_histograms(h, sum, sq);
      EXPECT_EQ(sum, want_sum) << n;
      EXPECT_EQ(sq, want_sq) << n;
      sum = sq = {1, 2, 3};
      add_rgb_sums(rgb.data(), n, sum, sq);
      EXPECT_EQ(sum, (std::array<uint64_t, 3>{want_sum[0] + 1, want_sum[1] + 2, want_sum[2] + 3})) << n;
      EXPECT_EQ(sq, (std::array<uint64_t, 3>{want_sq[0] + 1, want_sq[1] + 2, want_sq[2] + 3})) << n;
      add_rgb_cross_products(rgb.data(), n, cross);
      EXPECT_EQ(cross, want_cross) << n;
    }
  }
}

}  // namespace
}  // namespace gpuaug
