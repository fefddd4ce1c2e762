// libFuzzer target: PNG through peek_image (IHDR and the chunk walk to an eXIf), decode_png and
// decode_image with a small pixel cap. Checked: only gpuaug::Error escapes; the orientation is
// 1..8; a decode is whole-image 8-bit RGB of the header's size, and decode_image's is that image
// turned upright by the orientation.
#include "codec/decoder.h"
#include "codec/image_info.h"
#include "codec/orientation.h"
#include "codec/png_decoder.h"
#include "core/error.h"
#include "fuzz_common.h"

namespace gpuaug::fuzz {

constexpr uint64_t kPngMaxPixels = 1u << 20;

inline int png_one_input(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    const codec::ImageInfo info = codec::peek_image(bytes, kPngMaxPixels);
    if (info.format != codec::ImageFormat::kPng) return 0;  // fuzz_jpeg covers JPEG
    GPUAUG_FUZZ_CHECK(info.orientation >= 1 && info.orientation <= 8);
    const Image image = codec::decode_png(bytes, kPngMaxPixels);
    GPUAUG_FUZZ_CHECK(image.channels == 3);
    GPUAUG_FUZZ_CHECK(image.width == info.width && image.height == info.height);
    GPUAUG_FUZZ_CHECK(image.pixels.size() == size_t(image.width) * image.height * 3);
    const codec::DecodedImage decoded = codec::decode_image(bytes, {});
    GPUAUG_FUZZ_CHECK(decoded.image.width == info.oriented_width());
    GPUAUG_FUZZ_CHECK(decoded.image.height == info.oriented_height());
    GPUAUG_FUZZ_CHECK(decoded.image.pixels == codec::apply_orientation(image, info.orientation).pixels);
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace gpuaug::fuzz

#ifndef GPUAUG_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gpuaug::fuzz::png_one_input(data, size);
}
#endif
