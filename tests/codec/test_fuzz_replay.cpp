// Replays the committed inputs of the codec fuzzers (tests/fuzz/regressions/ and the seed
// corpora) through their harnesses, built here with the project's compiler: every input that
// once crashed stays a test. A harness invariant becomes a gtest failure instead of an abort.
#include <gtest/gtest.h>

#define GPUAUG_FUZZ_CHECK(cond) EXPECT_TRUE(cond) << #cond
#define GPUAUG_FUZZ_REPLAY 1
#include "../common/fuzz_inputs.h"
#include "../fuzz/fuzz_exif.cpp"
#include "../fuzz/fuzz_jpeg.cpp"
#include "../fuzz/fuzz_png.cpp"

namespace {

using gpuaug_test::fuzz_inputs;

void replay(const std::string& target, int (*one_input)(const uint8_t*, size_t)) {
  const auto inputs = fuzz_inputs(target);
  ASSERT_FALSE(inputs.empty()) << "no committed inputs for " << target;
  for (const auto& input : inputs) {
    SCOPED_TRACE(input.name);
    one_input(input.bytes.data(), input.bytes.size());
  }
}

TEST(FuzzReplay, Jpeg) { replay("fuzz_jpeg", gpuaug::fuzz::jpeg_one_input); }
TEST(FuzzReplay, Png) { replay("fuzz_png", gpuaug::fuzz::png_one_input); }
TEST(FuzzReplay, Exif) { replay("fuzz_exif", gpuaug::fuzz::exif_one_input); }

}  // namespace
