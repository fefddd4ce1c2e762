// GpuPixelStats: per-channel sums, cross products and 256-bin histograms of 8-bit RGB images in
// GPU memory, as 64-bit integers on the device: the GPU side of `gpuaug stats`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "codec/jpeg_huffman.h"
#include "codec/jpeg_idct.h"
#include "codec/jpeg_planes.h"

namespace gpuaug::plan {

// Exact integer totals; the caller widens them (stats keeps 128-bit sums). 64 bits hold the
// sums of squares of 2.8e14 pixels; a caller takes the totals far more often than that.
struct PixelTotals {
  uint64_t pixels = 0;
  std::array<uint64_t, 3> sum{};
  std::array<uint64_t, 6> products{};  // rr gg bb rg rb gb
  std::array<std::array<uint64_t, 256>, 3> histogram{};
  // measure(): a JPEG given as its scan that the GPU's Huffman decoder declined (damaged data, or
  // data it cannot be sure libjpeg reads alike). Its totals are zero: measure it on the CPU.
  bool declined = false;
};

// An image in page-locked host memory (a PinnedSlots slot): interleaved RGB pixels; or where
// planes.components > 0 a JPEG's planes, which the GPU finishes to libjpeg-turbo's RGB first
// (codec::jpeg_planes_rgb); or where coefficients.planes.components > 0 its quantized DCT
// coefficients, which the GPU turns into those planes first (codec::idct_block, libjpeg-turbo's
// IDCT bit for bit); or where scan.layout.planes.components > 0 its entropy-coded scan
// (JpegPlaneReader::read_entropy), which the GPU Huffman-decodes into those coefficients first
// (codec/jpeg_huffman.h, libjpeg's blocks bit for bit, or declined).
struct HostPixels {
  const uint8_t* data = nullptr;
  size_t pixels = 0;
  codec::JpegPlanes planes{};
  codec::JpegCoefficients coefficients{};
  codec::JpegScan scan{};

  // The bytes at `data`, which measure() copies up.
  size_t bytes() const {
    if (scan.layout.planes.components > 0) return scan.bytes;
    if (coefficients.planes.components > 0) return coefficients.bytes;
    return planes.components > 0 ? planes.bytes : 3 * pixels;
  }
  // What measure() holds on the device for it: the copy, and the coefficients a scan decodes into
  // and the planes either's IDCT writes (about 4.5 bytes a pixel at 4:2:0, from a scan).
  size_t device_bytes() const {
    if (scan.layout.planes.components > 0) return bytes() + scan.layout.bytes + scan.layout.planes.bytes;
    if (coefficients.planes.components > 0) return bytes() + coefficients.planes.bytes;
    return bytes();
  }
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
  // Each image's own totals, in order (apart from add's): copies the images up on this object's
  // stream, measures them in one launch and waits. At most kMaxMeasured images a call.
  static constexpr size_t kMaxMeasured = 256;
  std::vector<PixelTotals> measure(std::span<const HostPixels> images);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Page-locked host buffers that CPU threads decode images into, for GpuPixelStats::measure: a
// copy from pageable memory would be a CPU copy on the GPU's one thread. A slot grows to the
// image it is given (rounded up to 256 KiB) while the slots together stay within a budget;
// try_acquire never waits, so a caller that finds none measures the image itself. Thread-safe;
// the memory is allocated (cudaMallocHost, with `device` current) by the thread that acquires.
class PinnedSlots {
 public:
  PinnedSlots(int device, size_t count, size_t budget_bytes);
  ~PinnedSlots();
  PinnedSlots(const PinnedSlots&) = delete;
  PinnedSlots& operator=(const PinnedSlots&) = delete;

  // A free slot of at least `bytes`, or nullopt: none is free, the budget would be passed, or
  // allocating failed. Without CUDA always nullopt.
  std::optional<size_t> try_acquire(size_t bytes);
  uint8_t* data(size_t slot) const;
  void release(size_t slot);

 private:
  struct Slot;
  int device_;
  size_t budget_;
  size_t allocated_ = 0;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<size_t> free_;
};

}  // namespace gpuaug::plan
