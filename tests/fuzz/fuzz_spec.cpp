// libFuzzer target: spec text through parse_spec, Chain construction and planning one image.
// Checked: only gpuaug::Error escapes (YAML errors included, translated by the parser); a
// chain that builds plans every sample of a small image with finite geometry, and the decode
// region those plans ask for lies inside it.
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "fuzz_common.h"
#include "pipeline/chain.h"
#include "pipeline/spec.h"
#include "plan/plan.h"

namespace gpuaug::fuzz {

inline int spec_one_input(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const pipeline::Chain chain(pipeline::parse_spec(text, "fuzz.yaml"));
    GPUAUG_FUZZ_CHECK(chain.samples_per_image() >= 1);
    // Image size from the text's length, so mutations reach 1x1 and odd sizes.
    const int width = 1 + int(size % 61), height = 1 + int((size / 61) % 47);
    const RandomKey key = RandomKey::from(chain.spec().seed, 0);
    const auto plans = chain.plan(key, size, 0, width, height);
    GPUAUG_FUZZ_CHECK(plans.size() == size_t(chain.samples_per_image()));
    std::vector<const ops::FoldResult*> folds;
    for (const auto& p : plans) {
      GPUAUG_FUZZ_CHECK(p.drawn.size() == chain.size());
      const ops::Geometry& g = p.fold.geometry;
      GPUAUG_FUZZ_CHECK(g.out_w > 0 && g.out_h > 0);
      // Finite geometry: a NaN or infinite matrix would sample nothing (a silent fill image).
      for (double v : g.m) GPUAUG_FUZZ_CHECK(std::isfinite(v));
      for (const ops::Axis* a : {&g.x, &g.y})
        GPUAUG_FUZZ_CHECK(std::isfinite(a->scale) && std::isfinite(a->shift) &&
                          std::isfinite(a->lo) && std::isfinite(a->hi));
      folds.push_back(&p.fold);
    }
    // The decode request the plans make: a region inside the image, a DCT scale libjpeg has.
    const plan::DecodeNeeds needs =
        plan::decode_needs(folds, width, height, chain.spec().decode.dct_scaling);
    const int s = needs.scale_denom;
    GPUAUG_FUZZ_CHECK(s == 1 || s == 2 || s == 4 || s == 8);
    const codec::Rect& r = needs.region;
    GPUAUG_FUZZ_CHECK(r.width == 0 || (r.x >= 0 && r.y >= 0 && r.width > 0 && r.height > 0 &&
                                       r.x + r.width <= width && r.y + r.height <= height));
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace gpuaug::fuzz

#ifndef GPUAUG_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gpuaug::fuzz::spec_one_input(data, size);
}
#endif
