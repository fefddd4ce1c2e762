// gaussian_blur: descriptor, sigma draw, fold into a blur pass of the pixel program.
#include "ops/gaussian_blur.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"

namespace gpuaug::ops {

namespace {

std::pair<double, double> both(double v) { return {v, v}; }

class GaussianBlur final : public Op {
 public:
  explicit GaussianBlur(const OpArgs& args)
      : kernel_(args.int_pair("kernel_size", 1, 1 << 15)),
        sigma_(args.range("sigma", 0.0, 1e6, both)),
        p_(args.number("p", 0.0, 1.0)) {
    for (int64_t k : {kernel_.first, kernel_.second})
      if (k % 2 == 0) args.fail("kernel_size", fmt::format("must be odd and positive, got {}", k));
    if (!(sigma_.first > 0.0)) args.fail("sigma", "must be positive");
  }

  Drawn draw(RandomStream& rng, const SampleFold&) const override {
    Drawn d;
    if (!rng.bernoulli(p_)) {
      d.applied = false;
      return d;
    }
    const double sigma = double(float(rng.uniform(sigma_.first, sigma_.second)));
    d.set("kernel_size", {double(kernel_.first), double(kernel_.second)});
    d.set("sigma", {sigma, sigma});
    return d;
  }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    const Drawn::Entry* kernel = d.find("kernel_size");
    const Drawn::Entry* sigma = d.find("sigma");
    // A replayed record may say anything: torchvision refuses these values, and a blur without
    // them came out black (or was skipped when a key was missing).
    if (kernel == nullptr || kernel->n != 2 || sigma == nullptr || sigma->n != 2)
      throw Error("", "plan", "gaussian_blur: kernel_size and sigma need two values each");
    for (int i = 0; i < 2; ++i) {
      if (!(sigma->v[i] > 0.0 && std::isfinite(sigma->v[i])))
        throw Error("", "plan", fmt::format("gaussian_blur: sigma {:g} must be positive", sigma->v[i]));
      if (!(kernel->v[i] >= 1 && kernel->v[i] <= (1 << 16) && std::fmod(kernel->v[i], 2.0) == 1.0))
        throw Error("", "plan", fmt::format("gaussian_blur: kernel_size {:g} must be odd and positive", kernel->v[i]));
    }
    PixelOp op;
    op.kind = PixelKind::kBlur;
    op.op_index = index();
    op.rect = {static_cast<int32_t>(kernel->v[0]), static_cast<int32_t>(kernel->v[1]), 0, 0};
    op.a[0] = static_cast<float>(sigma->v[0]);
    op.a[1] = static_cast<float>(sigma->v[1]);
    fold.pixel(op);
  }

 private:
  std::pair<int64_t, int64_t> kernel_;
  std::pair<double, double> sigma_;
  double p_;
};

}  // namespace

const OpDescriptor& gaussian_blur_descriptor() {
  static const OpDescriptor descriptor{
      "gaussian_blur",
      "Blur with a Gaussian kernel of random sigma",
      "torchvision.transforms.v2.GaussianBlur / functional.gaussian_blur",
      {{"kernel_size", "int | [int, int]", ParamValue::null(),
        "kernel size k -> k x k, or [kx, ky]; odd and positive"},
       {"sigma", "float | [float, float]", ParamValue::of(std::vector<double>{0.1, 2.0}),
        "sigma s, or [min, max] to draw it from uniformly; positive"},
       p_param(1.0)},
      {"kernel_size", "sigma"},
      [](const OpArgs& args) { return std::make_unique<GaussianBlur>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
