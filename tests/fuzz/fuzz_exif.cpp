// libFuzzer target: exif_orientation on an APP1 payload and tiff_orientation on a PNG eXIf
// chunk's data. Checked: both return 1..8, never throw, and (ASan) never read outside the span.
// Half the inputs also get "Exif\0\0" prepended to all but their first byte, so the fuzzer
// spends its effort on the TIFF structure; the APP1 reading of that must equal the TIFF one.
#include <vector>

#include "codec/exif.h"
#include "fuzz_common.h"

namespace gpuaug::fuzz {

inline int exif_one_input(const uint8_t* data, size_t size) {
  const int direct = gpuaug::codec::exif_orientation({data, size});
  GPUAUG_FUZZ_CHECK(direct >= 1 && direct <= 8);
  const int tiff = gpuaug::codec::tiff_orientation({data, size});
  GPUAUG_FUZZ_CHECK(tiff >= 1 && tiff <= 8);
  if (size > 0 && (data[0] & 1)) {
    // Exact-size copies, so ASan sees a read one byte past the payload.
    std::vector<uint8_t> payload = {'E', 'x', 'i', 'f', 0, 0};
    payload.insert(payload.end(), data + 1, data + size);
    const int o = gpuaug::codec::exif_orientation(payload);
    GPUAUG_FUZZ_CHECK(o >= 1 && o <= 8);
    const std::vector<uint8_t> rest(data + 1, data + size);
    GPUAUG_FUZZ_CHECK(gpuaug::codec::tiff_orientation(rest) == o);
  }
  return 0;
}

}  // namespace gpuaug::fuzz

#ifndef GPUAUG_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gpuaug::fuzz::exif_one_input(data, size);
}
#endif
