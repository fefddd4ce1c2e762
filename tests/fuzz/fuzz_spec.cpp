// libFuzzer target: spec text through parse_spec, Chain construction and planning one image.
// Checked: only gpuaug::Error escapes (YAML errors included, translated by the parser); a
// chain that builds plans every sample of a small image with finite geometry.
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/random.h"
#include "fuzz_common.h"
#include "pipeline/chain.h"
#include "pipeline/spec.h"

using namespace gpuaug;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const pipeline::Chain chain(pipeline::parse_spec(text, "fuzz.yaml"));
    GPUAUG_FUZZ_CHECK(chain.samples_per_image() >= 1);
    // Image size from the text's length, so mutations reach 1x1 and odd sizes.
    const int width = 1 + int(size % 61), height = 1 + int((size / 61) % 47);
    const RandomKey key = RandomKey::from(chain.spec().seed, 0);
    const auto plans = chain.plan(key, size, 0, width, height);
    GPUAUG_FUZZ_CHECK(plans.size() == size_t(chain.samples_per_image()));
    for (const auto& p : plans) GPUAUG_FUZZ_CHECK(p.drawn.size() == chain.size());
  } catch (const Error&) {
  }
  return 0;
}
