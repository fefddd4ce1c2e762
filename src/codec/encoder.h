// encode_png and encode_jpeg: deterministic encoders for offline job outputs, whole in memory or
// a few rows at a time to a sink (RowEncoder: tile writes an output larger than memory so).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace gpuaug::codec {

// 1 (gray), 3 (RGB) or 4 (RGBA) channels, 8-bit. zlib level 1 (speed over size) with
// libpng's default adaptive filtering; the same image gives the same bytes for a given
// libpng and zlib. Throws gpuaug::Error with an empty file and stage "encode".
std::vector<uint8_t> encode_png(const Image& image);

// 1 (gray) or 3 (RGB) channels; quality 1..100 with the IJG tables (as Pillow's quality=),
// JFIF, baseline, 4:2:0, Huffman optimisation off, JDCT_ISLOW: deterministic for a given
// libjpeg. Throws gpuaug::Error with an empty file and stage "encode".
std::vector<uint8_t> encode_jpeg(const Image& image, int quality);

// The bytes of encode_png or encode_jpeg for an image given a few rows at a time, handed to
// `sink` as they are made (from write and finish, a few KiB at a time), so that neither the
// image nor its file is held whole. An exception from the sink ends the encoding and comes out
// of write or finish as it was thrown; the encoder's own failures throw gpuaug::Error with an
// empty file and stage "encode".
class RowEncoder {
 public:
  enum class Format { kPng, kJpeg };
  using Sink = std::function<void(const uint8_t* data, size_t size)>;

  // Checks as encode_png / encode_jpeg do (channels, size, quality) and starts the file.
  RowEncoder(Format format, int width, int height, int channels, int jpeg_quality, Sink sink);
  ~RowEncoder();
  RowEncoder(const RowEncoder&) = delete;
  RowEncoder& operator=(const RowEncoder&) = delete;

  // The next `count` rows, each width * channels bytes; no more than the height in all.
  void write(const uint8_t* const* rows, int count);
  // Ends the file once every row is written.
  void finish();
  int rows_written() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gpuaug::codec
