// Per-channel histograms, sums, squares and cross products of 8-bit RGB pixels as exact
// integers: what stats and clean reduce every decoded image to, on the CPU.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gpuaug {

using RgbHistograms = std::array<std::array<uint64_t, 256>, 3>;

// Adds the R, G and B histograms of `pixels` interleaved RGB pixels to `histograms`. Sums and
// squares follow from them exactly (rgb_sums_from_histograms), so stats needs no pass for those.
void add_rgb_histograms(const uint8_t* rgb, size_t pixels, RgbHistograms& histograms);

// Per channel: the sum of the values and of their squares, of the pixels counted in `histograms`.
void rgb_sums_from_histograms(const RgbHistograms& histograms, std::array<uint64_t, 3>& sum,
                              std::array<uint64_t, 3>& squares);

// Adds the per-channel sums and squares of `pixels` RGB pixels (clean, which needs no histogram).
// These loops run in 32-bit blocks of 65536 pixels (255² · 65536 < 2^32) so that they
// vectorize; an AVX2 clone is picked at run time where the CPU has it.
void add_rgb_sums(const uint8_t* rgb, size_t pixels, std::array<uint64_t, 3>& sum,
                  std::array<uint64_t, 3>& squares);

// Adds the cross products rg, rb, gb of `pixels` RGB pixels.
void add_rgb_cross_products(const uint8_t* rgb, size_t pixels, std::array<uint64_t, 3>& cross);

// Pillow's convert("L") of `pixels` RGB pixels: (19595 R + 38470 G + 7471 B + 32768) >> 16.
void rgb_to_gray(const uint8_t* rgb, size_t pixels, int32_t* gray);

}  // namespace gpuaug
