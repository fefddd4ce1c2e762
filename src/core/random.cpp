// RandomStream: buffered Philox draws turned into uniforms, integers and normals.
#include "core/random.h"

#include <cmath>

namespace gpuaug {

uint32_t RandomStream::next_u32() {
  if (used_ == 4) {
    block_ = philox4x32_10(counter_, key_.k0, key_.k1);
    ++counter_.v[3];
    used_ = 0;
  }
  return block_.v[used_++];
}

double RandomStream::uniform() {
  const uint64_t hi = next_u32() >> 5;  // 27 bits
  const uint64_t lo = next_u32() >> 6;  // 26 bits
  return static_cast<double>((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

double RandomStream::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t RandomStream::randint(int64_t lo, int64_t hi) {
  if (hi <= lo + 1) return lo;
  const auto span = static_cast<uint64_t>(hi - lo);
  // Rejection keeps the draw unbiased for any span.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  uint64_t bits;
  do {
    bits = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
  } while (bits >= limit);
  return lo + static_cast<int64_t>(bits % span);
}

double RandomStream::normal() {
  constexpr double kTwoPi = 6.283185307179586;
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

}  // namespace gpuaug
