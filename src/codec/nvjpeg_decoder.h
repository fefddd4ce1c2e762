// NvjpegDecoder: batched JPEG decode on the GPU with nvJPEG (the hardware decoder where the GPU
// has one, with the region of interest; the CUDA backend otherwise), into device memory.
// Builds without nvJPEG get a decoder that reports itself unavailable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "codec/image_info.h"

namespace gpuaug::codec {

struct GpuDecodeRequest {
  std::span<const uint8_t> bytes;
  Rect region;  // stored-image pixels (orientation 1 only); width 0 = whole image
};

struct GpuDecoded {
  const uint8_t* device_rgb = nullptr;  // interleaved RGB, rows packed (pitch = width * 3)
  int width = 0;
  int height = 0;
  int origin_x = 0;  // the decoded part's top-left in the full image
  int origin_y = 0;
};

class NvjpegDecoder {
 public:
  static bool built();  // this build has nvJPEG
  explicit NvjpegDecoder(int device);
  ~NvjpegDecoder();
  NvjpegDecoder(const NvjpegDecoder&) = delete;
  NvjpegDecoder& operator=(const NvjpegDecoder&) = delete;

  bool hardware() const;
  // What the header says nvJPEG can take: baseline Huffman JPEG, 1 or 3 components, no EXIF
  // rotation. The decoder may still refuse an image; decode() then returns nullopt for it.
  static bool suits(const ImageInfo& info);
  // suits(info), and the file is whole (ends in EOI), defines the quantization tables its frame
  // uses, and holds at least 2 bits of scan a block: nvJPEG may decode a truncated JPEG, one
  // without its DQT, or one whose SOF claims more pixels than its data holds without a word,
  // so those stay with the CPU decoder, which names the fault.
  static bool takes(std::span<const uint8_t> bytes, const ImageInfo& info);
  // Decodes on the decoder's own stream and waits for it, so the outputs are ready for any
  // stream. They live in the decoder's memory until the next call. nullopt where nvJPEG
  // refused or failed that image: the caller decodes it on the CPU.
  std::vector<std::optional<GpuDecoded>> decode(std::span<const GpuDecodeRequest> batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpuaug::codec
