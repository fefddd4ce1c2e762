// libFuzzer target: exif_orientation on an APP1 payload. Checked: it returns 1..8, never
// throws, and (ASan) never reads outside the span. Inputs not starting "Exif\0\0" get it
// prepended half the time, so the fuzzer spends its effort on the TIFF structure.
#include <vector>

#include "codec/exif.h"
#include "fuzz_common.h"

namespace gpuaug::fuzz {

inline int exif_one_input(const uint8_t* data, size_t size) {
  const int direct = gpuaug::codec::exif_orientation({data, size});
  GPUAUG_FUZZ_CHECK(direct >= 1 && direct <= 8);
  if (size > 0 && (data[0] & 1)) {
    // An exact-size copy, so ASan sees a read one byte past the payload.
    std::vector<uint8_t> payload = {'E', 'x', 'i', 'f', 0, 0};
    payload.insert(payload.end(), data + 1, data + size);
    const int o = gpuaug::codec::exif_orientation(payload);
    GPUAUG_FUZZ_CHECK(o >= 1 && o <= 8);
  }
  return 0;
}

}  // namespace gpuaug::fuzz

#ifndef GPUAUG_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gpuaug::fuzz::exif_one_input(data, size);
}
#endif
