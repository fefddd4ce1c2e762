// Replays the committed inputs of the spec fuzzer (tests/fuzz/regressions/fuzz_spec/ and its
// seed corpus) through its harness: parse, build the chain, plan a small image; only
// gpuaug::Error may come out. A harness invariant becomes a gtest failure instead of an abort.
#include <gtest/gtest.h>

#define GPUAUG_FUZZ_CHECK(cond) EXPECT_TRUE(cond) << #cond
#define GPUAUG_FUZZ_REPLAY 1
#include "../common/fuzz_inputs.h"
#include "../fuzz/fuzz_spec.cpp"

namespace {

TEST(FuzzReplay, Spec) {
  const auto inputs = gpuaug_test::fuzz_inputs("fuzz_spec");
  ASSERT_FALSE(inputs.empty());
  for (const auto& input : inputs) {
    SCOPED_TRACE(input.name);
    gpuaug::fuzz::spec_one_input(input.bytes.data(), input.bytes.size());
  }
}

}  // namespace
