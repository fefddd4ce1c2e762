// Tests for the pointwise operators' draws, folds and argument errors: color_jitter, grayscale,
// gaussian_noise, gaussian_blur, random_erasing, to_dtype.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "ops/color_jitter.h"
#include "ops/gaussian_blur.h"
#include "ops/gaussian_noise.h"
#include "ops/grayscale.h"
#include "ops/op.h"
#include "ops/random_erasing.h"
#include "ops/to_dtype.h"

namespace gpuaug::ops {
namespace {

using Given = std::vector<std::pair<std::string, ParamValue>>;

constexpr uint16_t kOpIndex = 2;

std::unique_ptr<Op> make(const OpDescriptor& descriptor, Given given, int line = 1) {
  std::unique_ptr<Op> op = descriptor.make(OpArgs(descriptor, std::move(given), line));
  op->bind(&descriptor, kOpIndex);
  return op;
}

Drawn draw(const Op& op, const SampleFold& fold, uint64_t index, uint64_t seed = 42) {
  RandomStream rng(RandomKey::from(seed, 0), index, 0, op.index());
  return op.draw(rng, fold);
}

ParamValue list(std::vector<double> xs) { return ParamValue::of(std::move(xs)); }
ParamValue num(double x) { return ParamValue::of(x); }

void expect_same(const Drawn& a, const Drawn& b) {
  ASSERT_EQ(a.applied, b.applied);
  ASSERT_EQ(a.count, b.count);
  for (uint8_t i = 0; i < a.count; ++i) {
    EXPECT_STREQ(a.entries[i].key, b.entries[i].key);
    ASSERT_EQ(a.entries[i].n, b.entries[i].n);
    for (uint8_t k = 0; k < a.entries[i].n; ++k) EXPECT_EQ(a.entries[i].v[k], b.entries[i].v[k]);
  }
}

// The error names the op, the parameter and the spec line.
void expect_spec_error(const OpDescriptor& descriptor, Given given, const std::string& param,
                       const std::string& cause_part) {
  try {
    make(descriptor, std::move(given), 7);
    FAIL() << "no error for " << descriptor.name << "." << param;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("line 7"), std::string::npos) << what;
    EXPECT_NE(what.find(descriptor.name + "." + param), std::string::npos) << what;
    EXPECT_NE(what.find(cause_part), std::string::npos) << what;
  }
}

std::vector<PixelOp> fold_pixels(const Op& op, const Drawn& d, SampleFold fold) {
  op.fold(d, fold);
  return fold.finish().pixels;
}

// --- shared behaviour: determinism and p ------------------------------------------------------

struct PCase {
  const OpDescriptor& (*descriptor)();
  Given given;
};

class EveryRandomOp : public ::testing::TestWithParam<PCase> {};

TEST_P(EveryRandomOp, SameSeedSameDrawAndPControlsApplied) {
  const PCase& tc = GetParam();
  const SampleFold fold(64, 48);
  auto op = make(tc.descriptor(), tc.given);
  for (uint64_t index : {0u, 1u, 977u}) expect_same(draw(*op, fold, index), draw(*op, fold, index));

  Given never = tc.given;
  never.emplace_back("p", num(0.0));
  auto off = make(tc.descriptor(), never);
  for (uint64_t index = 0; index < 50; ++index) {
    const Drawn d = draw(*off, fold, index);
    EXPECT_FALSE(d.applied);
    EXPECT_TRUE(fold_pixels(*off, d, fold).empty());
  }
  Given always = tc.given;
  always.emplace_back("p", num(1.0));
  auto on = make(tc.descriptor(), always);
  for (uint64_t index = 0; index < 50; ++index) EXPECT_TRUE(draw(*on, fold, index).applied);

  Given half = tc.given;
  half.emplace_back("p", num(0.5));
  auto coin = make(tc.descriptor(), half);
  int applied = 0;
  for (uint64_t index = 0; index < 1000; ++index) applied += draw(*coin, fold, index).applied;
  EXPECT_GT(applied, 400);
  EXPECT_LT(applied, 600);
}

INSTANTIATE_TEST_SUITE_P(
    Ops, EveryRandomOp,
    ::testing::Values(PCase{color_jitter_descriptor, {{"brightness", num(0.4)}, {"hue", num(0.1)}}},
                      PCase{grayscale_descriptor, {}}, PCase{gaussian_noise_descriptor, {}},
                      PCase{gaussian_blur_descriptor, {{"kernel_size", num(5)}}},
                      PCase{random_erasing_descriptor, {}}));

// --- color_jitter -----------------------------------------------------------------------------

TEST(ColorJitter, FactorsInTheirRangesAndOrderIsAPermutation) {
  auto op = make(color_jitter_descriptor(), {{"brightness", num(0.4)},
                                             {"contrast", list({0.5, 1.5})},
                                             {"saturation", num(2.0)},
                                             {"hue", num(0.1)}});
  const SampleFold fold(32, 32);
  std::set<std::vector<int>> orders;
  for (uint64_t index = 0; index < 2000; ++index) {
    const Drawn d = draw(*op, fold, index);
    ASSERT_TRUE(d.applied);
    const Drawn::Entry* order = d.find("order");
    ASSERT_NE(order, nullptr);
    ASSERT_EQ(order->n, 4);
    std::vector<int> ids(order->v.begin(), order->v.end());
    orders.insert(ids);
    std::sort(ids.begin(), ids.end());
    ASSERT_EQ(ids, (std::vector<int>{0, 1, 2, 3}));
    // Ranges widened by one float32 ulp: factors are drawn in float32, as torchvision does.
    const auto in = [&](const char* key, double lo, double hi) {
      const double f = d.get(key, -99.0);
      EXPECT_GE(f, lo - 1e-7 * std::max(1.0, std::fabs(lo))) << key;
      EXPECT_LE(f, hi + 1e-7 * std::max(1.0, std::fabs(hi))) << key;
      EXPECT_EQ(f, double(float(f))) << key << " is float32-representable";
    };
    in("brightness_factor", 0.6, 1.4);
    in("contrast_factor", 0.5, 1.5);
    in("saturation_factor", 0.0, 3.0);  // max(0, 1 - 2) = 0
    in("hue_factor", -0.1, 0.1);
  }
  EXPECT_EQ(orders.size(), 24u) << "every permutation of 4 occurs";
}

TEST(ColorJitter, FoldsEnabledAdjustmentsInTheDrawnOrder) {
  auto op = make(color_jitter_descriptor(), {{"contrast", num(0.3)}, {"hue", list({-0.2, 0.2})}});
  const SampleFold fold(16, 16);
  for (uint64_t index = 0; index < 20; ++index) {
    const Drawn d = draw(*op, fold, index);
    EXPECT_EQ(d.find("brightness_factor"), nullptr);
    EXPECT_EQ(d.find("saturation_factor"), nullptr);
    std::vector<PixelKind> expected;
    for (uint8_t k = 0; k < 4; ++k) {
      const int id = int(d.find("order")->v[k]);
      if (id == 1) expected.push_back(PixelKind::kContrast);
      if (id == 3) expected.push_back(PixelKind::kHue);
    }
    const std::vector<PixelOp> pixels = fold_pixels(*op, d, fold);
    ASSERT_EQ(pixels.size(), 2u);
    for (size_t i = 0; i < pixels.size(); ++i) {
      EXPECT_EQ(pixels[i].kind, expected[i]);
      EXPECT_EQ(pixels[i].op_index, kOpIndex);
      EXPECT_TRUE(pixels[i].uint8_domain);
      const char* key = pixels[i].kind == PixelKind::kHue ? "hue_factor" : "contrast_factor";
      EXPECT_EQ(pixels[i].a[0], float(d.get(key)));
    }
  }
}

TEST(ColorJitter, DefaultsAndCentreRangesAreOff) {
  auto op = make(color_jitter_descriptor(), {{"brightness", list({1.0, 1.0})}});
  const SampleFold fold(8, 8);
  const Drawn d = draw(*op, fold, 3);
  EXPECT_TRUE(d.applied);
  EXPECT_NE(d.find("order"), nullptr);  // torchvision draws randperm(4) regardless
  EXPECT_EQ(d.count, 1);
  EXPECT_TRUE(fold_pixels(*op, d, fold).empty());
}

TEST(ColorJitter, ArgumentErrors) {
  expect_spec_error(color_jitter_descriptor(), {{"hue", num(0.7)}}, "hue", "[-0.5, 0.5]");
  expect_spec_error(color_jitter_descriptor(), {{"hue", list({-0.6, 0.1})}}, "hue", "[-0.5, 0.5]");
  expect_spec_error(color_jitter_descriptor(), {{"hue", num(-0.1)}}, "hue", "non-negative");
  expect_spec_error(color_jitter_descriptor(), {{"brightness", num(-0.5)}}, "brightness",
                    "non-negative");
  expect_spec_error(color_jitter_descriptor(), {{"contrast", list({1.5, 0.5})}}, "contrast",
                    "min <= max");
  expect_spec_error(color_jitter_descriptor(), {{"saturation", ParamValue::of(std::string("x"))}},
                    "saturation", "expected a number or [min, max]");
  expect_spec_error(color_jitter_descriptor(), {{"p", num(1.5)}}, "p", "outside [0, 1]");
}

// --- grayscale --------------------------------------------------------------------------------

TEST(Grayscale, OutputChannels) {
  const SampleFold rgb(10, 10);
  auto one = make(grayscale_descriptor(), {});
  SampleFold a = rgb;
  const Drawn d1 = draw(*one, a, 0);
  EXPECT_EQ(d1.get("num_output_channels"), 1.0);
  one->fold(d1, a);
  EXPECT_EQ(a.channels(), 1);
  const FoldResult r1 = a.finish();
  ASSERT_EQ(r1.pixels.size(), 1u);
  EXPECT_EQ(r1.pixels[0].kind, PixelKind::kGrayscale);
  EXPECT_EQ(r1.pixels[0].channels, 3);  // the step sees the RGB input
  EXPECT_EQ(r1.channels, 1);

  auto three = make(grayscale_descriptor(), {{"num_output_channels", num(3)}});
  SampleFold b = rgb;
  three->fold(draw(*three, b, 0), b);
  EXPECT_EQ(b.channels(), 3);

  // RandomGrayscale: p < 1 keeps the input's 3 channels, converted or not.
  auto random = make(grayscale_descriptor(), {{"p", num(0.5)}});
  int converted = 0;
  for (uint64_t index = 0; index < 100; ++index) {
    SampleFold c = rgb;
    const Drawn d = draw(*random, c, index);
    random->fold(d, c);
    EXPECT_EQ(c.channels(), 3);
    if (d.applied) {
      ++converted;
      EXPECT_EQ(d.get("num_output_channels"), 3.0);
      EXPECT_EQ(c.finish().pixels.size(), 1u);
    } else {
      EXPECT_TRUE(c.finish().pixels.empty());
    }
  }
  EXPECT_GT(converted, 0);

  // A 1-channel image asked for 3 channels: the step is a no-op (channels 1), output 3.
  SampleFold gray = rgb;
  gray.set_grayscale_channels(1);
  three->fold(draw(*three, gray, 0), gray);
  EXPECT_EQ(gray.channels(), 3);
  EXPECT_EQ(gray.finish().pixels[0].channels, 1);
}

TEST(Grayscale, ArgumentErrors) {
  expect_spec_error(grayscale_descriptor(), {{"num_output_channels", num(2)}},
                    "num_output_channels", "expected 1 or 3");
  expect_spec_error(grayscale_descriptor(), {{"num_output_channels", num(4)}},
                    "num_output_channels", "outside");
}

// --- gaussian_noise ---------------------------------------------------------------------------

TEST(GaussianNoise, ConvertsUint8ToFloatFirst) {
  auto op =
      make(gaussian_noise_descriptor(), {{"sigma", num(0.2)}, {"clip", ParamValue::of(false)}});
  SampleFold fold(8, 8);
  const Drawn d = draw(*op, fold, 5);
  EXPECT_EQ(d.get("sigma"), 0.2);
  EXPECT_EQ(d.get("clip", -1), 0.0);
  op->fold(d, fold);
  const FoldResult r = fold.finish();
  ASSERT_EQ(r.pixels.size(), 2u);
  EXPECT_EQ(r.pixels[0].kind, PixelKind::kToFloat);
  EXPECT_EQ(r.pixels[1].kind, PixelKind::kNoise);
  EXPECT_FALSE(r.pixels[1].uint8_domain);
  EXPECT_EQ(r.pixels[1].op_index, kOpIndex);
  EXPECT_EQ(r.pixels[1].a[0], 0.0f);
  EXPECT_EQ(r.pixels[1].a[1], 0.2f);
  EXPECT_EQ(r.pixels[1].a[2], 0.0f);
  EXPECT_EQ(r.dtype, DType::kFloat32);
}

TEST(GaussianNoise, ArgumentErrors) {
  expect_spec_error(gaussian_noise_descriptor(), {{"sigma", num(-0.1)}}, "sigma", "outside");
  expect_spec_error(gaussian_noise_descriptor(), {{"clip", num(1)}}, "clip", "true or false");
}

// --- gaussian_blur ----------------------------------------------------------------------------

TEST(GaussianBlur, DrawsOneSigmaForBothAxes) {
  auto op = make(gaussian_blur_descriptor(),
                 {{"kernel_size", list({5, 3})}, {"sigma", list({0.5, 1.5})}});
  const SampleFold fold(20, 20);
  for (uint64_t index = 0; index < 200; ++index) {
    const Drawn d = draw(*op, fold, index);
    const Drawn::Entry* sigma = d.find("sigma");
    ASSERT_NE(sigma, nullptr);
    ASSERT_EQ(sigma->n, 2);
    EXPECT_EQ(sigma->v[0], sigma->v[1]);
    EXPECT_GE(sigma->v[0], 0.5);
    EXPECT_LE(sigma->v[0], 1.5);
    const Drawn::Entry* kernel = d.find("kernel_size");
    ASSERT_NE(kernel, nullptr);
    EXPECT_EQ(kernel->v[0], 5.0);  // x first, as torchvision
    EXPECT_EQ(kernel->v[1], 3.0);
    const std::vector<PixelOp> pixels = fold_pixels(*op, d, fold);
    ASSERT_EQ(pixels.size(), 1u);
    EXPECT_EQ(pixels[0].kind, PixelKind::kBlur);
    EXPECT_EQ(pixels[0].rect[0], 5);
    EXPECT_EQ(pixels[0].rect[1], 3);
    EXPECT_EQ(pixels[0].a[0], float(sigma->v[0]));
    EXPECT_EQ(pixels[0].a[1], float(sigma->v[0]));
  }
  // A single sigma is fixed.
  auto fixed = make(gaussian_blur_descriptor(), {{"kernel_size", num(3)}, {"sigma", num(0.8)}});
  EXPECT_EQ(draw(*fixed, fold, 1).get("sigma"), double(0.8f));
}

TEST(GaussianBlur, ArgumentErrors) {
  expect_spec_error(gaussian_blur_descriptor(), {{"kernel_size", num(4)}}, "kernel_size", "odd");
  expect_spec_error(gaussian_blur_descriptor(), {{"kernel_size", list({3, 6})}}, "kernel_size",
                    "odd");
  expect_spec_error(gaussian_blur_descriptor(), {{"kernel_size", num(-3)}}, "kernel_size",
                    "must be an integer in");
  expect_spec_error(gaussian_blur_descriptor(), {}, "kernel_size", "got null");
  expect_spec_error(gaussian_blur_descriptor(), {{"kernel_size", num(3)}, {"sigma", num(0)}},
                    "sigma", "positive");
  expect_spec_error(gaussian_blur_descriptor(),
                    {{"kernel_size", num(3)}, {"sigma", list({2.0, 1.0})}}, "sigma", "min <= max");
}

// --- random_erasing ---------------------------------------------------------------------------

TEST(RandomErasing, RectangleFitsAndFollowsScale) {
  auto op = make(random_erasing_descriptor(), {{"p", num(1.0)}, {"value", list({10.7, 20, 300})}});
  const SampleFold fold(40, 30);  // W 40, H 30
  int erased = 0;
  for (uint64_t index = 0; index < 500; ++index) {
    const Drawn d = draw(*op, fold, index);
    ASSERT_TRUE(d.applied);
    const double i = d.get("i"), j = d.get("j"), h = d.get("h"), w = d.get("w");
    if (h == 0) continue;  // no try fitted
    ++erased;
    EXPECT_LT(h, 30);
    EXPECT_LT(w, 40);
    EXPECT_GE(i, 0);
    EXPECT_GE(j, 0);
    EXPECT_LE(i + h, 30);
    EXPECT_LE(j + w, 40);
    // Area within scale up to the rounding of h and w (each by at most 0.5):
    // |h w - A| <= (h + w + 1) / 2 + 1/4.
    EXPECT_LE(h * w, 0.33 * 1200 + (h + w) / 2 + 1);
    EXPECT_GE(h * w, 0.02 * 1200 - (h + w) / 2 - 1);
    const std::vector<PixelOp> pixels = fold_pixels(*op, d, fold);
    ASSERT_EQ(pixels.size(), 1u);
    EXPECT_EQ(pixels[0].kind, PixelKind::kErase);
    EXPECT_EQ(pixels[0].rect,
              (std::array<int32_t, 4>{int32_t(i), int32_t(j), int32_t(h), int32_t(w)}));
    // uint8 domain: truncated and clamped like an assignment into a uint8 tensor.
    EXPECT_EQ(pixels[0].a[0], 10.0f);
    EXPECT_EQ(pixels[0].a[1], 20.0f);
    EXPECT_EQ(pixels[0].a[2], 255.0f);
    EXPECT_EQ(pixels[0].a[3], 0.0f);
    const Drawn::Entry* v = d.find("v");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->n, 3);
    EXPECT_EQ(v->v[0], 10.7);
  }
  EXPECT_GT(erased, 400);
}

TEST(RandomErasing, ValueIsInTheImagesOwnScale) {
  auto op = make(random_erasing_descriptor(), {{"p", num(1.0)}, {"value", num(0.5)}});
  SampleFold fold(40, 30);
  Drawn d;
  for (uint64_t index = 0; d.get("h") == 0; ++index) d = draw(*op, fold, index);
  // Float domain: 0.5 as given.
  SampleFold as_float = fold;
  as_float.require_float(0);
  std::vector<PixelOp> pixels = fold_pixels(*op, d, as_float);
  ASSERT_EQ(pixels.size(), 2u);
  EXPECT_EQ(pixels[1].a[0], 0.5f);
  EXPECT_EQ(pixels[1].a[2], 0.5f);
  // uint8 domain: 0.5 truncates to 0, as torchvision's assignment does.
  pixels = fold_pixels(*op, d, fold);
  EXPECT_EQ(pixels[0].a[0], 0.0f);
  EXPECT_EQ(d.get("v", -1), 0.5);
}

TEST(RandomErasing, RandomValueAndNoFit) {
  auto random = make(random_erasing_descriptor(),
                     {{"p", num(1.0)}, {"value", ParamValue::of(std::string("random"))}});
  const SampleFold fold(40, 30);
  Drawn d;
  for (uint64_t index = 0; d.get("h") == 0; ++index) d = draw(*random, fold, index);
  EXPECT_EQ(d.find("v"), nullptr);
  const std::vector<PixelOp> pixels = fold_pixels(*random, d, fold);
  ASSERT_EQ(pixels.size(), 1u);
  EXPECT_EQ(pixels[0].a[3], 1.0f);

  // Scale near 1 on a 10 x 10 image: h = w = 10 never fits (h < H needed): nothing erased.
  auto big = make(random_erasing_descriptor(),
                  {{"p", num(1.0)}, {"scale", list({0.95, 1.0})}, {"ratio", list({1.0, 1.0})}});
  const SampleFold small(10, 10);
  const Drawn none = draw(*big, small, 0);
  EXPECT_TRUE(none.applied);
  EXPECT_EQ(none.get("h", -1), 0.0);
  EXPECT_EQ(none.get("w", -1), 0.0);
  EXPECT_TRUE(fold_pixels(*big, none, small).empty());
}

TEST(RandomErasing, ArgumentErrors) {
  expect_spec_error(random_erasing_descriptor(), {{"value", ParamValue::of(std::string("noise"))}},
                    "value", "expected one of random");
  expect_spec_error(random_erasing_descriptor(), {{"value", list({1, 2})}}, "value",
                    "one value or three");
  expect_spec_error(random_erasing_descriptor(), {{"scale", list({0.5, 1.5})}}, "scale",
                    "must lie in [0, 1]");
  // Three values on a 1-channel image: refused when drawn (torchvision raises too).
  auto op = make(random_erasing_descriptor(), {{"p", num(1.0)}, {"value", list({1, 2, 3})}});
  SampleFold gray(8, 8);
  gray.set_grayscale_channels(1);
  try {
    draw(*op, gray, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("random_erasing.value"), std::string::npos) << e.what();
  }
}

// --- to_dtype ---------------------------------------------------------------------------------

TEST(ToDtype, AppendsTheCastsAndSetsTheOutputDtype) {
  const std::vector<std::pair<std::string, DType>> cases = {
      {"float32", DType::kFloat32}, {"float16", DType::kFloat16}, {"bfloat16", DType::kBFloat16}};
  for (const auto& [name, dtype] : cases) {
    auto op = make(to_dtype_descriptor(), {{"dtype", ParamValue::of(name)}});
    SampleFold fold(4, 4);
    EXPECT_TRUE(draw(*op, fold, 0).applied);
    op->fold(draw(*op, fold, 0), fold);
    const FoldResult r = fold.finish();
    ASSERT_EQ(r.pixels.size(), 1u) << name;
    EXPECT_EQ(r.pixels[0].kind, PixelKind::kToFloat);
    EXPECT_EQ(r.dtype, dtype) << name;
  }
  // Back to uint8 from the float domain; no step when already there.
  auto to_u8 = make(to_dtype_descriptor(), {{"dtype", ParamValue::of(std::string("uint8"))}});
  SampleFold f(4, 4);
  f.require_float(0);
  to_u8->fold({}, f);
  FoldResult r = f.finish();
  ASSERT_EQ(r.pixels.size(), 2u);
  EXPECT_EQ(r.pixels[1].kind, PixelKind::kToUInt8);
  EXPECT_EQ(r.dtype, DType::kUInt8);
  SampleFold u(4, 4);
  to_u8->fold({}, u);
  EXPECT_TRUE(u.finish().pixels.empty());
  // float32 on a float image: no step.
  auto to_f32 = make(to_dtype_descriptor(), {});
  SampleFold g(4, 4);
  g.require_float(0);
  to_f32->fold({}, g);
  EXPECT_EQ(g.finish().pixels.size(), 1u);
}

TEST(ToDtype, ArgumentErrors) {
  expect_spec_error(to_dtype_descriptor(), {{"scale", ParamValue::of(false)}}, "scale",
                    "scale=false is not supported");
  expect_spec_error(to_dtype_descriptor(), {{"dtype", ParamValue::of(std::string("int16"))}},
                    "dtype", "expected one of uint8, float32, float16, bfloat16");
}

// --- descriptors ----------------------------------------------------------------------------

TEST(PixelOpDescriptors, NamesAndRecordedKeys) {
  EXPECT_EQ(color_jitter_descriptor().name, "color_jitter");
  EXPECT_EQ(color_jitter_descriptor().drawn,
            (std::vector<std::string>{"order", "brightness_factor", "contrast_factor",
                                      "saturation_factor", "hue_factor"}));
  EXPECT_EQ(grayscale_descriptor().name, "grayscale");
  EXPECT_EQ(gaussian_noise_descriptor().name, "gaussian_noise");
  EXPECT_EQ(gaussian_blur_descriptor().drawn, (std::vector<std::string>{"kernel_size", "sigma"}));
  EXPECT_EQ(random_erasing_descriptor().drawn, (std::vector<std::string>{"i", "j", "h", "w", "v"}));
  EXPECT_EQ(to_dtype_descriptor().name, "to_dtype");
  for (const OpDescriptor* d :
       {&color_jitter_descriptor(), &grayscale_descriptor(), &gaussian_noise_descriptor(),
        &gaussian_blur_descriptor(), &random_erasing_descriptor(), &to_dtype_descriptor()}) {
    EXPECT_FALSE(d->summary.empty()) << d->name;
    EXPECT_NE(d->reference.find("torchvision"), std::string::npos) << d->name;
    for (const ParamSpec& p : d->params) EXPECT_FALSE(p.doc.empty()) << d->name << "." << p.name;
  }
}

}  // namespace
}  // namespace gpuaug::ops
