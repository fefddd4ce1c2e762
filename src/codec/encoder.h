// encode_png and encode_jpeg: deterministic in-memory encoders for offline job outputs.
#pragma once

#include <cstdint>
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

}  // namespace gpuaug::codec
