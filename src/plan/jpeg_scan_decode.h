// ScanDecoding and the IDCT launch: the GPU side of exact JPEG decoding, shared by GpuPixelStats
// (stats) and GpuJpegDecoder (the pipelines): the chunked Huffman decoder's passes over a batch
// of baseline scans (codec/jpeg_huffman.h), then libjpeg-turbo's IDCT (codec/jpeg_idct.h).
// For CUDA sources only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/jpeg_huffman.h"
#include "codec/jpeg_idct.h"
#include "core/cuda_memory.h"

namespace gpuaug::plan {

// One scan of a batch: read_entropy's buffer, staged on the device, and the buffer (device,
// scan.layout.bytes, zeroed by the caller) its blocks go to.
struct DeviceScan {
  codec::JpegScan scan;
  const uint8_t* buffer = nullptr;
  uint8_t* coefficients = nullptr;
};

// The decoder's scratch (device and page-locked), grown to the largest batch. Enqueue a batch
// only after the stream has finished the one before (its descriptors are reused).
class ScanDecoding {
 public:
  // Enqueues the passes over `scans` (at most kMaxScans) on `stream`. Scan i's two status words
  // (status(i), on the device) then say where its last block ended and, in [1], whether it was
  // declined: its blocks are then not libjpeg's (damaged data: decode it with libjpeg). The
  // batch's status words lie one after the other.
  static constexpr size_t kMaxScans = 256;
  void enqueue(cudaStream_t stream, std::span<const DeviceScan> scans);
  const uint32_t* status(size_t i) const;

 private:
  DeviceBuffer scratch_, descriptors_;
  PinnedBuffer host_;
  size_t status_at_ = 0;
};

// Whether a scan's status words say declined; no status: not a scan.
__device__ inline bool declined(const uint32_t* status) { return status != nullptr && status[1] != 0; }

// A JPEG's coefficients (codec::JpegCoefficients' layout, on the device) and where its planes go.
struct IdctImage {
  const uint8_t* coefficients = nullptr;
  uint8_t* planes = nullptr;
  codec::JpegCoefficients layout{};
  unsigned blocks = 0;               // of all components
  const uint32_t* status = nullptr;  // of its scan's decode, if it was one: skipped where declined
};

// Enqueues the IDCT of `count` images whose descriptors are on the device, one thread an 8x8
// block; `most_blocks`: the most blocks any of them has.
void enqueue_idct(cudaStream_t stream, const IdctImage* images, size_t count, size_t most_blocks);

}  // namespace gpuaug::plan
