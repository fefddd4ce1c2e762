// GpuImageDigest: for each 8-bit RGB image of a batch in GPU memory, the exact integer channel
// sums, sums of squares and the 9x8 cell sums of its gray shrink: the GPU side of `gpuaug clean`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace gpuaug::plan {

struct DeviceRgbImage {
  const uint8_t* rgb = nullptr;  // interleaved RGB, rows packed (pitch = width * 3)
  int width = 0;
  int height = 0;
};

// The same integers the CPU computes (jobs/near_duplicates.h dhash, jobs/clean.cpp moments):
// gray is Pillow's convert("L"); cells[r][c] is the fractionally weighted sum of the gray pixels
// cell (r, c) of 8 rows x 9 columns covers, in units of 1/72 pixel (dhash's weights).
struct ImageDigest {
  std::array<uint64_t, 3> sum{};
  std::array<uint64_t, 3> sum_sq{};
  std::array<std::array<uint64_t, 9>, 8> cells{};
};

class GpuImageDigest {
 public:
  explicit GpuImageDigest(int device);  // throws gpuaug::Error(stage "device") without CUDA
  ~GpuImageDigest();
  GpuImageDigest(const GpuImageDigest&) = delete;
  GpuImageDigest& operator=(const GpuImageDigest&) = delete;

  // Digests every image (each at least 9 wide and 8 high) and waits for the result; the images
  // must be ready on any stream (nvJPEG's decode() waits for its own).
  std::vector<ImageDigest> digest(std::span<const DeviceRgbImage> images);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpuaug::plan
