// random_erasing: descriptor, torchvision's rectangle draw, fold into an erase step.
#include "ops/random_erasing.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"

namespace gpuaug::ops {

namespace {

std::pair<double, double> both(double v) { return {v, v}; }

class RandomErasing final : public Op {
 public:
  explicit RandomErasing(const OpArgs& args)
      : p_(args.number("p", 0.0, 1.0)),
        scale_(args.range("scale", 0.0, 1.0, both)),
        ratio_(args.range("ratio", 1e-6, 1e6, both)) {
    if (args.value("value").kind == ParamValue::Kind::kString) {
      args.choice("value", {"random"});
      random_ = true;
    } else {
      const std::vector<double> v = args.numbers("value", 1, 3, -1e6, 1e6);
      if (v.size() == 2) args.fail("value", "expected one value or three (R, G, B)");
      count_ = static_cast<int>(v.size());
      for (int c = 0; c < 3; ++c) value_[c] = v[v.size() == 1 ? 0 : c];
    }
  }

  Drawn draw(RandomStream& rng, const SampleFold& fold) const override {
    Drawn d;
    if (!rng.bernoulli(p_)) {
      d.applied = false;
      return d;
    }
    const int height = fold.height(), width = fold.width();
    if (!random_ && count_ == 3 && fold.channels() == 1)
      throw Error("", "plan",
                  "random_erasing.value: 3 values given for a 1-channel image; give one value");
    const double area = double(height) * width;
    const float log_lo = std::log(float(ratio_.first)), log_hi = std::log(float(ratio_.second));
    int64_t top = 0, left = 0, h = 0, w = 0;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase_area = area * rng.uniform(scale_.first, scale_.second);
      const double aspect = std::exp(double(float(rng.uniform(log_lo, log_hi))));
      const auto th = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
      const auto tw = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
      if (!(th < height && tw < width)) continue;
      top = rng.randint(0, height - th + 1);
      left = rng.randint(0, width - tw + 1);
      h = th;
      w = tw;
      break;
    }
    d.set("i", double(top));
    d.set("j", double(left));
    d.set("h", double(h));
    d.set("w", double(w));
    if (!random_) {
      if (count_ == 1)
        d.set("v", value_[0]);
      else
        d.set("v", {value_[0], value_[1], value_[2]});
    }
    return d;
  }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    const auto h = static_cast<int32_t>(d.get("h")), w = static_cast<int32_t>(d.get("w"));
    if (h <= 0 || w <= 0) return;  // no try fitted: nothing erased
    PixelOp op;
    op.kind = PixelKind::kErase;
    op.op_index = index();
    op.rect = {static_cast<int32_t>(d.get("i")), static_cast<int32_t>(d.get("j")), h, w};
    if (random_) {
      op.a[3] = 1.0f;
    } else {
      const Drawn::Entry* v = d.find("v");
      for (int c = 0; c < 3; ++c) {
        double value = value_[c];
        if (v != nullptr && v->n > 0) value = v->v[v->n == 1 ? 0 : std::min<int>(c, v->n - 1)];
        // Assigning into a uint8 tensor truncates; we also clamp instead of wrapping.
        if (fold.uint8_domain()) value = std::fmin(std::fmax(std::trunc(value), 0.0), 255.0);
        op.a[c] = static_cast<float>(value);
      }
    }
    fold.pixel(op);
  }

 private:
  double p_;
  std::pair<double, double> scale_;
  std::pair<double, double> ratio_;
  bool random_ = false;
  int count_ = 1;
  std::array<double, 3> value_{0, 0, 0};
};

}  // namespace

const OpDescriptor& random_erasing_descriptor() {
  static const OpDescriptor descriptor{
      "random_erasing",
      "Erase a random rectangle with a value or with Gaussian noise",
      "torchvision.transforms.v2.RandomErasing / functional.erase",
      {p_param(0.5),
       {"scale", "[float, float]", ParamValue::of(std::vector<double>{0.02, 0.33}),
        "range of the erased area as a fraction of the image"},
       {"ratio", "[float, float]", ParamValue::of(std::vector<double>{0.3, 3.3}),
        "range of the erased rectangle's aspect ratio (height / width), drawn log-uniformly"},
       {"value", "float | [float, float, float] | random", ParamValue::of(0.0),
        "erasing value in the image's scale at this point (0..255 on uint8, [0, 1] on float), "
        "or \"random\" for per-pixel Gaussian noise"}},
      {"i", "j", "h", "w", "v"},
      [](const OpArgs& args) { return std::make_unique<RandomErasing>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
