// gaussian_noise: descriptor and folding into the pixel program (noise drawn per pixel there).
#include "ops/gaussian_noise.h"

namespace gpuaug::ops {

namespace {

class GaussianNoise final : public Op {
 public:
  explicit GaussianNoise(const OpArgs& args)
      : mean_(args.number("mean", -1e6, 1e6)),
        sigma_(args.number("sigma", 0.0, 1e6)),
        clip_(args.boolean("clip")),
        p_(args.number("p", 0.0, 1.0)) {}

  Drawn draw(RandomStream& rng, const SampleFold&) const override {
    Drawn d;
    if (!rng.bernoulli(p_)) {
      d.applied = false;
      return d;
    }
    d.set("mean", mean_);
    d.set("sigma", sigma_);
    d.set("clip", clip_ ? 1.0 : 0.0);
    return d;
  }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    fold.require_float(index());
    PixelOp op;
    op.kind = PixelKind::kNoise;
    op.op_index = index();
    op.a[0] = static_cast<float>(d.get("mean", mean_));
    op.a[1] = static_cast<float>(d.get("sigma", sigma_));
    op.a[2] = d.get("clip", clip_ ? 1.0 : 0.0) != 0.0 ? 1.0f : 0.0f;
    fold.pixel(op);
  }

 private:
  double mean_;
  double sigma_;
  bool clip_;
  double p_;
};

}  // namespace

const OpDescriptor& gaussian_noise_descriptor() {
  static const OpDescriptor descriptor{
      "gaussian_noise",
      "Add Gaussian noise (float images in [0, 1]; uint8 images are converted first)",
      "torchvision.transforms.v2.GaussianNoise / functional.gaussian_noise",
      {{"mean", "float", ParamValue::of(0.0), "mean of the noise, on the [0, 1] scale"},
       {"sigma", "float", ParamValue::of(0.1),
        "standard deviation of the noise, on the [0, 1] scale"},
       {"clip", "bool", ParamValue::of(true), "clamp the result to [0, 1]"},
       p_param(1.0)},
      {"mean", "sigma", "clip"},
      [](const OpArgs& args) { return std::make_unique<GaussianNoise>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
