// content_hash: XXH64 over bytes, and the pixel hash that says two images hold the same pixels.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/tensor.h"

namespace gpuaug {

// XXH64 as specified in xxHash's doc/xxhash_spec.md (Collet), written out here rather than
// taken as a dependency for these forty lines; tests check the specification's test vectors.
// Fast (several GB/s) and well mixed, which is all exact-duplicate search needs: it is not
// a cryptographic hash.
inline uint64_t xxh64(std::span<const uint8_t> bytes, uint64_t seed = 0) {
  constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL, kP2 = 0xC2B2AE3D27D4EB4FULL,
                     kP3 = 0x165667B19E3779F9ULL, kP4 = 0x85EBCA77C2B2AE63ULL,
                     kP5 = 0x27D4EB2F165667C5ULL;
  auto read64 = [](const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
  };
  auto read32 = [](const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
    return uint64_t(v);
  };
  auto round = [](uint64_t acc, uint64_t lane) { return std::rotl(acc + lane * kP2, 31) * kP1; };
  auto merge = [&](uint64_t acc, uint64_t v) { return (acc ^ round(0, v)) * kP1 + kP4; };

  const uint8_t* p = bytes.data();
  const uint8_t* const end = p + bytes.size();
  uint64_t h;
  if (bytes.size() >= 32) {
    uint64_t v1 = seed + kP1 + kP2, v2 = seed + kP2, v3 = seed, v4 = seed - kP1;
    for (; end - p >= 32; p += 32) {
      v1 = round(v1, read64(p));
      v2 = round(v2, read64(p + 8));
      v3 = round(v3, read64(p + 16));
      v4 = round(v4, read64(p + 24));
    }
    h = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = seed + kP5;
  }
  h += uint64_t(bytes.size());
  for (; end - p >= 8; p += 8) h = std::rotl(h ^ round(0, read64(p)), 27) * kP1 + kP4;
  if (end - p >= 4) {
    h = std::rotl(h ^ (read32(p) * kP1), 23) * kP2 + kP3;
    p += 4;
  }
  for (; p < end; ++p) h = std::rotl(h ^ (uint64_t(*p) * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

// Same value <=> same decoded pixels (up to 2^-64): width and height are the seed, so a 2x6
// and a 3x4 image with the same bytes differ; the channel count follows from the byte count,
// which XXH64 mixes in.
inline uint64_t pixel_hash(const Image& image) {
  const uint64_t seed = (uint64_t(uint32_t(image.width)) << 32) | uint32_t(image.height);
  return xxh64(std::span<const uint8_t>(image.pixels.data(), image.pixels.size()), seed);
}

}  // namespace gpuaug
