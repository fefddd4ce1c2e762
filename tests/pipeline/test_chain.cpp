// Chain::plan: deterministic per (key, index, copy), different for another copy, index or key;
// local_crops fans one image out to n plans with crop ids 1..n sharing the ops before it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/references.h"
#include "pipeline/chain.h"

namespace gpuaug::pipeline {
namespace {

using gpuaug_test::expect_error;

using gpuaug_test::same_drawn;

bool same_plan(const SamplePlan& a, const SamplePlan& b) {
  if (a.drawn.size() != b.drawn.size()) return false;
  for (size_t k = 0; k < a.drawn.size(); ++k)
    if (a.drawn[k].op != b.drawn[k].op || !same_drawn(a.drawn[k].drawn, b.drawn[k].drawn)) return false;
  const ops::Geometry &g = a.fold.geometry, &h = b.fold.geometry;
  if (g.separable != h.separable || g.out_w != h.out_w || g.out_h != h.out_h || g.m != h.m) return false;
  if (g.x.lo != h.x.lo || g.x.hi != h.x.hi || g.x.scale != h.x.scale || g.x.flip != h.x.flip) return false;
  if (g.y.lo != h.y.lo || g.y.hi != h.y.hi || g.y.scale != h.y.scale || g.y.flip != h.y.flip) return false;
  if (a.fold.pixels.size() != b.fold.pixels.size()) return false;
  for (size_t k = 0; k < a.fold.pixels.size(); ++k)
    if (a.fold.pixels[k].kind != b.fold.pixels[k].kind || a.fold.pixels[k].a != b.fold.pixels[k].a ||
        a.fold.pixels[k].rect != b.fold.pixels[k].rect)
      return false;
  return true;
}

const char* kRandomSpec =
    "ops:\n"
    "  - random_resized_crop: {size: [16, 12]}\n"
    "  - horizontal_flip: {}\n"
    "  - rotate: {degrees: 30, p: 0.5}\n"
    "  - color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}\n"
    "  - random_erasing: {p: 0.5}\n";

TEST(ChainPlan, SameInputsSamePlans) {
  const Chain chain(parse_spec(kRandomSpec, "r.yaml"));
  ASSERT_EQ(chain.size(), 5u);
  EXPECT_EQ(chain.samples_per_image(), 1);
  EXPECT_FALSE(chain.has_local_crops());
  const RandomKey key = RandomKey::from(42, 3);
  for (uint64_t index : {0ull, 1ull, 977ull, (1ull << 40) + 5}) {
    const auto a = chain.plan(key, index, 2, 500, 375);
    const auto b = chain.plan(key, index, 2, 500, 375);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_TRUE(same_plan(a[0], b[0])) << index;
    EXPECT_EQ(a[0].id.index, index);
    EXPECT_EQ(a[0].id.copy, 2u);
    EXPECT_EQ(a[0].id.crop, 0u);
    EXPECT_EQ(a[0].drawn.size(), 5u);
    EXPECT_EQ(a[0].fold.geometry.out_w, 12);
    EXPECT_EQ(a[0].fold.geometry.out_h, 16);
  }
}

TEST(ChainPlan, OtherCopyIndexOrKeyDraws) {
  const Chain chain(parse_spec(kRandomSpec, "r.yaml"));
  const RandomKey key = RandomKey::from(42, 3);
  const SamplePlan base = chain.plan(key, 10, 0, 500, 375).at(0);
  EXPECT_FALSE(same_plan(base, chain.plan(key, 10, 1, 500, 375).at(0)));
  EXPECT_FALSE(same_plan(base, chain.plan(key, 11, 0, 500, 375).at(0)));
  EXPECT_FALSE(same_plan(base, chain.plan(RandomKey::from(43, 3), 10, 0, 500, 375).at(0)));
  EXPECT_FALSE(same_plan(base, chain.plan(RandomKey::from(42, 4), 10, 0, 500, 375).at(0)));
  // Only the random_resized_crop box depends on the image size.
  const SamplePlan other_size = chain.plan(key, 10, 0, 640, 480).at(0);
  EXPECT_TRUE(same_drawn(base.drawn[1].drawn, other_size.drawn[1].drawn));
}

// Each op draws from its own counter: adding an op after it does not change what it drew.
TEST(ChainPlan, DrawsDoNotDependOnLaterOps) {
  const Chain full(parse_spec(kRandomSpec, "r.yaml"));
  const Chain prefix(parse_spec("ops:\n  - random_resized_crop: {size: [16, 12]}\n  - horizontal_flip: {}\n", "p.yaml"));
  const RandomKey key = RandomKey::from(5, 0);
  for (uint64_t index = 0; index < 20; ++index) {
    const auto a = full.plan(key, index, 0, 300, 200).at(0), b = prefix.plan(key, index, 0, 300, 200).at(0);
    for (size_t k = 0; k < 2; ++k) EXPECT_TRUE(same_drawn(a.drawn[k].drawn, b.drawn[k].drawn)) << index << " op " << k;
  }
}

TEST(ChainPlan, LocalCropsFanOutSharingTheOpsBefore) {
  const Chain chain(parse_spec(
      "ops:\n"
      "  - horizontal_flip: {}\n"
      "  - rotate: {degrees: 20}\n"
      "  - local_crops: {n: 5, size: 16}\n"
      "  - vertical_flip: {}\n",
      "local.yaml"));
  EXPECT_TRUE(chain.has_local_crops());
  EXPECT_EQ(chain.samples_per_image(), 5);
  const Chain before(parse_spec("ops:\n  - horizontal_flip: {}\n  - rotate: {degrees: 20}\n", "b.yaml"));
  const RandomKey key = RandomKey::from(9, 1);
  for (uint64_t index : {0ull, 7ull}) {
    const auto plans = chain.plan(key, index, 1, 200, 150);
    ASSERT_EQ(plans.size(), 5u);
    const SamplePlan shared = before.plan(key, index, 1, 200, 150).at(0);
    int distinct_boxes = 0;
    for (size_t j = 0; j < plans.size(); ++j) {
      EXPECT_EQ(plans[j].id.index, index);
      EXPECT_EQ(plans[j].id.copy, 1u);
      EXPECT_EQ(plans[j].id.crop, j + 1);
      ASSERT_EQ(plans[j].drawn.size(), 4u);
      // The ops before local_crops are drawn once, as a chain without local_crops draws them.
      EXPECT_TRUE(same_drawn(plans[j].drawn[0].drawn, shared.drawn[0].drawn));
      EXPECT_TRUE(same_drawn(plans[j].drawn[1].drawn, shared.drawn[1].drawn));
      EXPECT_EQ(plans[j].fold.geometry.out_w, 16);
      EXPECT_EQ(plans[j].fold.geometry.out_h, 16);
      if (j > 0 && !same_drawn(plans[j].drawn[2].drawn, plans[0].drawn[2].drawn)) ++distinct_boxes;
    }
    EXPECT_GE(distinct_boxes, 3) << "crops should draw their own boxes";
    // Deterministic too.
    const auto again = chain.plan(key, index, 1, 200, 150);
    for (size_t j = 0; j < plans.size(); ++j) EXPECT_TRUE(same_plan(plans[j], again[j]));
  }
}

TEST(ChainPlan, ReplayPlansOnlyRecordedSamples) {
  const Chain chain(parse_spec("ops:\n  - local_crops: {n: 3, size: 8}\n", "l.yaml"));
  const RandomKey key = RandomKey::from(1, 0);
  const auto drawn = chain.plan(key, 4, 0, 100, 80);
  std::vector<ops::Drawn> recorded{drawn[1].drawn[0].drawn};
  const ReplayLookup lookup = [&](const SampleId& id) -> const std::vector<ops::Drawn>* {
    return id.index == 4 && id.copy == 0 && id.crop == 2 ? &recorded : nullptr;
  };
  const auto replayed = chain.plan(RandomKey::from(777, 0), 4, 0, 100, 80, &lookup);
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].id.crop, 2u);
  EXPECT_TRUE(same_plan(replayed[0], drawn[1]));
  EXPECT_TRUE(chain.plan(key, 5, 0, 100, 80, &lookup).empty());
}

TEST(ChainErrors, OneLocalCropsPerChain) {
  const Error e = expect_error([] {
    Chain chain(parse_spec("ops:\n  - local_crops: {n: 2}\n  - local_crops: {n: 3}\n", "two.yaml"));
  });
  EXPECT_STREQ(e.what(), "two.yaml: spec: line 3: only one local_crops per chain");
}

// Borders one plan cannot hold are spec errors naming the ops, not a silently other image.
TEST(ChainErrors, APadBetweenTwoWarps) {
  const Error e = expect_error([] {
    Chain chain(parse_spec("ops:\n  - rotate: {degrees: 10}\n  - pad: {padding: 2, fill: 9}\n"
                           "  - random_affine: {degrees: 5}\n",
                           "warps.yaml"));
  });
  EXPECT_STREQ(e.what(),
               "warps.yaml: spec: line 4: pad (line 3) pads between rotate (line 2) and random_affine "
               "(line 4); two warps fold into one matrix, which leaves no image between them for the "
               "pad to surround; pad before rotate or after random_affine");
  // Without the pad (or with a random_crop that does not pad) the chain folds.
  Chain ok(parse_spec("ops:\n  - rotate: {degrees: 10}\n  - random_crop: {size: 8}\n  - random_affine: {degrees: 5}\n"
                      "  - pad: {padding: 2}\n",
                      "ok.yaml"));
  EXPECT_EQ(ok.plan(RandomKey::from(1, 0), 0, 0, 20, 16).size(), 1u);
}

TEST(ChainErrors, AMirroredPadBetweenTwoResamplings) {
  const Error e = expect_error([] {
    Chain chain(parse_spec("ops:\n  - resize: {size: 20}\n  - pad: {padding: 2, padding_mode: reflect}\n"
                           "  - rotate: {degrees: 5}\n",
                           "mirror.yaml"));
  });
  EXPECT_STREQ(e.what(),
               "mirror.yaml: spec: line 4: pad (line 3) mirrors between resize (line 2) and rotate (line 4); "
               "both resample in one step from the source, so no resampled image exists between them to "
               "mirror; mirror before resize or after rotate, or pad with a fill");
  const Error twice = expect_error([] {
    Chain chain(parse_spec("ops:\n  - random_resized_crop: {size: 20}\n"
                           "  - random_crop: {size: 20, padding: 2, padding_mode: edge}\n  - resize: {size: 9}\n",
                           "twice.yaml"));
  });
  EXPECT_NE(std::string(twice.what()).find("line 4: random_crop (line 3) mirrors between random_resized_crop "
                                           "(line 2) and resize (line 4)"),
            std::string::npos)
      << twice.what();
  // A fill between them, or a mirror on either side, folds.
  for (const char* ops : {"  - resize: {size: 20}\n  - pad: {padding: 2, fill: 3}\n  - rotate: {degrees: 5}\n",
                          "  - pad: {padding: 2, padding_mode: reflect}\n  - resize: {size: 20}\n  - rotate: {degrees: 5}\n",
                          "  - resize: {size: 20}\n  - rotate: {degrees: 5}\n  - pad: {padding: 2, padding_mode: edge}\n"}) {
    Chain chain(parse_spec(std::string("ops:\n") + ops, "ok.yaml"));
    EXPECT_EQ(chain.plan(RandomKey::from(1, 0), 0, 0, 30, 24).size(), 1u) << ops;
  }
}

TEST(ChainErrors, MoreBordersThanAPlanHolds) {
  std::string text = "ops:\n";
  for (int i = 0; i < 4; ++i) text += "  - pad: {padding: 1, fill: " + std::to_string(10 * i) + "}\n";
  Chain four(parse_spec(text, "four.yaml"));  // the most: every pad keeps its own fill
  const auto plans = four.plan(RandomKey::from(1, 0), 0, 0, 5, 5);
  EXPECT_EQ(plans[0].fold.geometry.fill_count, 4);  // 0 (the first pad's fill too) and 10, 20, 30
  const Error e = expect_error([&] { Chain chain(parse_spec(text + "  - center_crop: {size: 3}\n", "five.yaml")); });
  EXPECT_STREQ(e.what(),
               "five.yaml: spec: line 6: center_crop makes 5 pad and crop ops; a chain holds at most 4 "
               "(each keeps its own border rule and fill in the one resampling)");
  const Error w = expect_error([&] {
    Chain chain(parse_spec(text + "  - rotate: {degrees: 1}\n  - rotate: {degrees: 2}\n  - rotate: {degrees: 3}\n"
                                  "  - rotate: {degrees: 4}\n",
                           "warps.yaml"));
  });
  EXPECT_STREQ(w.what(),
               "warps.yaml: spec: line 9: rotate makes 8 pad, crop and warp ops, each with its own fill; "
               "a chain holds at most 7");
}

TEST(ChainErrors, ACropPastTheImageBetweenTwoWarpsNamesTheOp) {
  // Known only once the sizes are: the plan fails, naming the op and its line.
  Chain chain(parse_spec("ops:\n  - rotate: {degrees: 10}\n  - center_crop: {size: 30}\n  - rotate: {degrees: 5}\n",
                         "crop.yaml"));
  EXPECT_EQ(chain.plan(RandomKey::from(1, 0), 0, 0, 40, 40).size(), 1u);  // inside: folds
  const Error e = expect_error([&] { chain.plan(RandomKey::from(1, 0), 0, 0, 20, 20); });
  EXPECT_EQ(e.stage(), "plan");
  EXPECT_EQ(e.cause(),
            "line 4: rotate: a crop reaching past the image between two rotate/random_affine ops does not "
            "fold into one warp");
}

}  // namespace
}  // namespace gpuaug::pipeline
