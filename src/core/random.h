// RandomStream: the per-(sample, stream, operator) sequence of parameter draws, from Philox.
#pragma once

#include <cstdint>

#include "core/philox.h"

namespace gpuaug {

// Key words from (seed, epoch): the seed's two halves are folded so that a 64-bit seed counts.
struct RandomKey {
  uint32_t k0;
  uint32_t k1;
  static RandomKey from(uint64_t seed, uint64_t epoch) {
    return RandomKey{static_cast<uint32_t>(seed) ^ static_cast<uint32_t>(epoch >> 32),
                     static_cast<uint32_t>(epoch) ^ (static_cast<uint32_t>(seed >> 32) * 0x9E3779B9u)};
  }
};

// Identifies one output sample: its dataset index and the stream (copy and local crop).
struct SampleId {
  uint64_t index = 0;
  uint32_t copy = 0;
  uint32_t crop = 0;  // 0 where the chain has no local_crops; crop j is j + 1
  uint32_t stream() const { return (copy << 8) | (crop & 0xFFu); }
};

// Parameter draws of one operator for one sample. Counter = (index, stream, op, draw): the
// same sample gets the same parameters whatever the thread count, batch or device.
class RandomStream {
 public:
  RandomStream(RandomKey key, uint64_t index, uint32_t stream, uint32_t op_index)
      : key_(key),
        counter_{{static_cast<uint32_t>(index), stream ^ static_cast<uint32_t>(index >> 32) << 24,
                  op_index, 0}} {}

  uint32_t next_u32();
  double uniform();                          // [0, 1), 53 bits
  double uniform(double lo, double hi);      // [lo, hi)
  int64_t randint(int64_t lo, int64_t hi);   // [lo, hi), like torch.randint
  double normal();                           // standard normal, Box-Muller
  bool bernoulli(double p) { return uniform() < p; }

 private:
  RandomKey key_;
  Philox4 counter_;
  Philox4 block_{};
  int used_ = 4;
};

}  // namespace gpuaug
