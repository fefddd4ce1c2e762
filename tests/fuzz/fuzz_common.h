// Helpers shared by the libFuzzer targets: the input split into parameters and payload, and
// the invariant check that turns a broken promise into a crash libFuzzer reports. Each target
// defines gpuaug::fuzz::<name>_one_input, and LLVMFuzzerTestOneInput calling it unless
// GPUAUG_FUZZ_REPLAY is defined (the gtests that replay the committed inputs include the
// target's source with it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace gpuaug::fuzz {

// A contract broken without a sanitizer noticing (a wrong size, a region not covered): abort
// with the reason, so libFuzzer saves the input like any crash. The gtest replay
// (tests/codec/test_fuzz_replay.cpp) defines it first, as a gtest expectation.
#ifndef GPUAUG_FUZZ_CHECK
#define GPUAUG_FUZZ_CHECK(cond)                                                               \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
#endif

// The first n bytes of the input steer the call (scale, region); the rest is the file.
struct Split {
  std::span<const uint8_t> params;
  std::span<const uint8_t> payload;
};

inline Split split(const uint8_t* data, size_t size, size_t n) {
  if (size < n) return {{}, {}};
  return {{data, n}, {data + n, size - n}};
}

}  // namespace gpuaug::fuzz
