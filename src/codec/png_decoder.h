// decode_png: libpng decode of a whole PNG to 8-bit RGB.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace gpuaug::codec {

// 8-bit RGB as Pillow's Image.open(...).convert("RGB") gives for 8-bit and RGB(A) 16-bit
// files: 16-bit samples keep their high byte (png_set_strip_16; for 16-bit gray Pillow
// instead clips I;16 at 255, which we do not copy), palettes expand, 1/2/4-bit gray scales to
// 0..255, gray is replicated, alpha is dropped without compositing, tRNS is ignored, Adam7
// interlacing is undone. No gamma, sBIT or colour-profile transform: every ancillary chunk but
// tRNS is skipped unread (its CRC still checked; a bad one only warns), so a chunk's claimed
// length never sizes an allocation. Reads through IEND.
// Throws gpuaug::Error with an empty file, stage "decode" and libpng's message as the cause
// (bad CRC in a critical chunk, truncated data, zlib errors), or the max_pixels cause of
// check_image_size before any pixel buffer is allocated.
Image decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels);

}  // namespace gpuaug::codec
