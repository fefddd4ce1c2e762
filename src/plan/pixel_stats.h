// GpuPixelStats: per-channel sums, cross products and 256-bin histograms of 8-bit RGB images in
// GPU memory, as 64-bit integers on the device: the GPU side of `gpuaug stats`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace gpuaug::plan {

// Exact integer totals; the caller widens them (stats keeps 128-bit sums). 64 bits hold the
// sums of squares of 2.8e14 pixels; a caller takes the totals far more often than that.
struct PixelTotals {
  uint64_t pixels = 0;
  std::array<uint64_t, 3> sum{};
  std::array<uint64_t, 6> products{};  // rr gg bb rg rb gb
  std::array<std::array<uint64_t, 256>, 3> histogram{};
};

class GpuPixelStats {
 public:
  explicit GpuPixelStats(int device);  // throws gpuaug::Error(stage "device") without CUDA
  ~GpuPixelStats();
  GpuPixelStats(const GpuPixelStats&) = delete;
  GpuPixelStats& operator=(const GpuPixelStats&) = delete;

  // Adds interleaved RGB pixels (`pixels` of them, packed) already on the device. Asynchronous
  // on this object's stream: `rgb` must stay valid until take().
  void add(const uint8_t* rgb, size_t pixels);
  // Waits for the adds, returns their totals and starts again from zero.
  PixelTotals take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpuaug::plan
