// Replays the committed inputs of the tar fuzzer (tests/fuzz/regressions/fuzz_tar/ and its seed
// corpus) through its harness: list, group, rewrite, list again; only gpuaug::Error may come
// out. A harness invariant becomes a gtest failure instead of an abort.
#include <gtest/gtest.h>

#define GPUAUG_FUZZ_CHECK(cond) EXPECT_TRUE(cond) << #cond
#define GPUAUG_FUZZ_REPLAY 1
#include "../common/fuzz_inputs.h"
#include "../fuzz/fuzz_tar.cpp"

namespace {

TEST(FuzzReplay, Tar) {
  const auto inputs = gpuaug_test::fuzz_inputs("fuzz_tar");
  ASSERT_FALSE(inputs.empty());
  for (const auto& input : inputs) {
    SCOPED_TRACE(input.name);
    gpuaug::fuzz::tar_one_input(input.bytes.data(), input.bytes.size());
  }
}

}  // namespace
