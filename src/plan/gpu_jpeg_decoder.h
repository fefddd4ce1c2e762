// GpuJpegDecoder: baseline JPEGs decoded on the GPU to libjpeg-turbo's RGB exactly, from their
// scans as JpegPlaneReader::read_entropy lays them out: the pipelines' third decoder, beside
// nvJPEG (whose pixels differ) and the CPU threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "codec/jpeg_huffman.h"
#include "codec/nvjpeg_decoder.h"

namespace gpuaug::plan {

// A JPEG's scan in host memory (read_entropy's buffer and layout).
struct JpegScanInput {
  std::span<const uint8_t> buffer;
  codec::JpegScan scan;
};

class GpuJpegDecoder {
 public:
  explicit GpuJpegDecoder(int device);  // throws gpuaug::Error(stage "device") without CUDA
  ~GpuJpegDecoder();
  GpuJpegDecoder(const GpuJpegDecoder&) = delete;
  GpuJpegDecoder& operator=(const GpuJpegDecoder&) = delete;

  // Whether this process's libjpeg runs the IDCT the GPU ports (codec::libjpeg_idct_is_ported):
  // only then are the GPU's pixels the CPU decoder's.
  static bool exact();

  // Every scan decoded to interleaved RGB on the device, whole and at full scale: decode_jpeg's
  // pixels bit for bit (Huffman decoding, libjpeg-turbo's IDCT, fancy upsampling, colour
  // conversion). nullopt where the decoder declines the data (damaged: libjpeg says what is
  // wrong). Waits; the pixels stay valid until the next call.
  std::vector<std::optional<codec::GpuDecoded>> decode(std::span<const JpegScanInput> scans);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpuaug::plan
