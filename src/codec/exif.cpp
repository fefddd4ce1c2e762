// exif_orientation: a bounds-checked walk of IFD0 for tag 0x0112.
#include "codec/exif.h"

#include <algorithm>

namespace gpuaug::codec {

int exif_orientation(std::span<const uint8_t> app1_payload) {
  constexpr uint8_t kExifId[6] = {'E', 'x', 'i', 'f', 0, 0};
  if (app1_payload.size() < 6 || !std::equal(kExifId, kExifId + 6, app1_payload.begin())) return 1;
  return tiff_orientation(app1_payload.subspan(6));
}

int tiff_orientation(std::span<const uint8_t> tiff) {
  if (tiff.size() < 8) return 1;
  bool big_endian;
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    big_endian = false;
  } else if (tiff[0] == 'M' && tiff[1] == 'M') {
    big_endian = true;
  } else {
    return 1;
  }
  // Callers guarantee offset + n <= tiff.size().
  auto read = [&](size_t offset, int n) {
    uint32_t value = 0;
    for (int i = 0; i < n; ++i) {
      const uint8_t byte = tiff[offset + (big_endian ? i : n - 1 - i)];
      value = value << 8 | byte;
    }
    return value;
  };
  if (read(2, 2) != 42) return 1;
  const uint64_t ifd = read(4, 4);
  if (ifd + 2 > tiff.size()) return 1;
  const uint32_t entries = read(size_t(ifd), 2);
  for (uint32_t i = 0; i < entries; ++i) {
    const uint64_t entry = ifd + 2 + uint64_t(i) * 12;
    if (entry + 12 > tiff.size()) return 1;
    if (read(size_t(entry), 2) != 0x0112) continue;
    const uint32_t type = read(size_t(entry) + 2, 2), count = read(size_t(entry) + 4, 4);
    if (count != 1) return 1;
    uint32_t value;
    if (type == 3) {
      value = read(size_t(entry) + 8, 2);  // SHORT: left-justified in the value field
    } else if (type == 4) {
      value = read(size_t(entry) + 8, 4);
    } else {
      return 1;
    }
    return value >= 1 && value <= 8 ? int(value) : 1;
  }
  return 1;
}

}  // namespace gpuaug::codec
