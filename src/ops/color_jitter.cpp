// color_jitter: descriptor, torchvision's parameter draw, fold into colour steps.
#include "ops/color_jitter.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <fmt/format.h>

namespace gpuaug::ops {

namespace {

using Range = std::pair<double, double>;

constexpr const char* kFactorKeys[4] = {"brightness_factor", "contrast_factor", "saturation_factor",
                                        "hue_factor"};
constexpr PixelKind kKinds[4] = {PixelKind::kBrightness, PixelKind::kContrast,
                                 PixelKind::kSaturation, PixelKind::kHue};

// torchvision's ColorJitter._check_input: v -> [centre - v, centre + v] (first clipped at 0
// for the multiplicative factors), or [min, max]; the centre alone means "off".
std::optional<Range> read_jitter(const OpArgs& args, const char* name, double centre, double lo,
                                 double hi, bool clip_first_at_zero) {
  const ParamValue& v = args.value(name);
  if (v.kind == ParamValue::Kind::kNumber && v.number < 0)
    args.fail(name, fmt::format("a single value must be non-negative, got {:g}", v.number));
  const Range r = args.range(name, lo, hi, [&](double x) {
    return Range{clip_first_at_zero ? std::max(centre - x, 0.0) : centre - x, centre + x};
  });
  if (r.first == centre && r.second == centre) return std::nullopt;
  return r;
}

class ColorJitter final : public Op {
 public:
  explicit ColorJitter(const OpArgs& args) : p_(args.number("p", 0.0, 1.0)) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    ranges_[0] = read_jitter(args, "brightness", 1.0, 0.0, kInf, true);
    ranges_[1] = read_jitter(args, "contrast", 1.0, 0.0, kInf, true);
    ranges_[2] = read_jitter(args, "saturation", 1.0, 0.0, kInf, true);
    ranges_[3] = read_jitter(args, "hue", 0.0, -0.5, 0.5, false);
  }

  Drawn draw(RandomStream& rng, const SampleFold&) const override {
    Drawn d;
    if (!rng.bernoulli(p_)) {
      d.applied = false;
      return d;
    }
    // torch.randperm(4), as a Fisher-Yates shuffle of our stream.
    int order[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.randint(0, i + 1)]);
    d.set("order", {double(order[0]), double(order[1]), double(order[2]), double(order[3])});
    for (int id = 0; id < 4; ++id) {
      if (!ranges_[id]) continue;
      // float32, as torch.empty(1).uniform_(lo, hi).item(): the applied value is the recorded one.
      d.set(kFactorKeys[id], double(float(rng.uniform(ranges_[id]->first, ranges_[id]->second))));
    }
    return d;
  }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    const Drawn::Entry* order = d.find("order");
    if (order == nullptr) return;
    for (uint8_t k = 0; k < order->n; ++k) {
      const int id = static_cast<int>(order->v[k]);
      if (id < 0 || id > 3) continue;
      const Drawn::Entry* factor = d.find(kFactorKeys[id]);
      if (factor == nullptr || factor->n == 0) continue;  // disabled adjustment
      PixelOp op;
      op.kind = kKinds[id];
      op.op_index = index();
      op.a[0] = static_cast<float>(factor->v[0]);  // contrast: a[1] = mean, set by the executor
      fold.pixel(op);
    }
  }

 private:
  double p_;
  std::optional<Range> ranges_[4];
};

}  // namespace

const OpDescriptor& color_jitter_descriptor() {
  static const OpDescriptor descriptor{
      "color_jitter",
      "Randomly change brightness, contrast, saturation and hue, in a random order",
      "torchvision.transforms.v2.ColorJitter / functional.adjust_{brightness,contrast,"
      "saturation,hue}",
      {{"brightness", "float | [float, float]", ParamValue::of(0.0),
        "brightness factor range: v -> [max(0, 1 - v), 1 + v], or [min, max]; 0 = off"},
       {"contrast", "float | [float, float]", ParamValue::of(0.0),
        "contrast factor range: v -> [max(0, 1 - v), 1 + v], or [min, max]; 0 = off"},
       {"saturation", "float | [float, float]", ParamValue::of(0.0),
        "saturation factor range: v -> [max(0, 1 - v), 1 + v], or [min, max]; 0 = off"},
       {"hue", "float | [float, float]", ParamValue::of(0.0),
        "hue shift range: h -> [-h, h] with h <= 0.5, or [min, max] in [-0.5, 0.5]; 0 = off"},
       p_param(1.0)},
      {"order", "brightness_factor", "contrast_factor", "saturation_factor", "hue_factor"},
      [](const OpArgs& args) { return std::make_unique<ColorJitter>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
