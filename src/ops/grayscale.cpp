// grayscale: descriptor and folding into the pixel program.
#include "ops/grayscale.h"

namespace gpuaug::ops {

namespace {

class Grayscale final : public Op {
 public:
  explicit Grayscale(const OpArgs& args)
      : num_output_channels_(static_cast<int>(args.integer("num_output_channels", 1, 3))),
        p_(args.number("p", 0.0, 1.0)) {
    if (num_output_channels_ == 2) args.fail("num_output_channels", "expected 1 or 3, got 2");
  }

  Drawn draw(RandomStream& rng, const SampleFold& fold) const override {
    Drawn d;
    if (!rng.bernoulli(p_)) {
      d.applied = false;
      return d;
    }
    d.set("num_output_channels", double(p_ < 1.0 ? fold.channels() : num_output_channels_));
    return d;
  }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    PixelOp op;
    op.kind = PixelKind::kGrayscale;
    op.op_index = index();
    fold.pixel(op);  // records the input's channel count: a 1-channel input is left unchanged
    const int channels = static_cast<int>(d.get("num_output_channels", fold.channels()));
    if (channels == 1 || channels == 3) fold.set_grayscale_channels(channels);
  }

 private:
  int num_output_channels_;
  double p_;
};

}  // namespace

const OpDescriptor& grayscale_descriptor() {
  static const OpDescriptor descriptor{
      "grayscale",
      "Convert to grayscale (0.2989 R + 0.587 G + 0.114 B); with p < 1, RandomGrayscale",
      "torchvision.transforms.v2.Grayscale / RandomGrayscale / functional.rgb_to_grayscale",
      {{"num_output_channels", "int", ParamValue::of(1.0),
        "1 or 3 output channels (p = 1 only; with p < 1 the input's channel count is kept)"},
       p_param(1.0)},
      {"num_output_channels"},
      [](const OpArgs& args) { return std::make_unique<Grayscale>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
