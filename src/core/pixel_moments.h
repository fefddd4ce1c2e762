// Per-channel sums, squares and cross products of 8-bit RGB pixels as exact integers: what
// stats and clean reduce every decoded image to, on the CPU.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gpuaug {

struct RgbMoments {
  std::array<uint64_t, 3> sum{};
  std::array<uint64_t, 6> products{};  // rr gg bb rg rb gb
};

// Adds `pixels` interleaved RGB pixels. Runs in 32-bit blocks of 65536 pixels (255² · 65536
// < 2^32) so the loop vectorizes; an AVX2 clone is picked at run time where the CPU has it.
void add_rgb_moments(const uint8_t* rgb, size_t pixels, RgbMoments& moments);

// Pillow's convert("L") of `pixels` RGB pixels: (19595 R + 38470 G + 7471 B + 32768) >> 16.
void rgb_to_gray(const uint8_t* rgb, size_t pixels, int32_t* gray);

}  // namespace gpuaug
