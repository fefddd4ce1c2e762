// normalize: descriptor and folding into the pixel program.
#include "ops/normalize.h"

#include "core/error.h"

namespace gpuaug::ops {

namespace {

class Normalize final : public Op {
 public:
  explicit Normalize(const OpArgs& args) {
    const auto mean = args.numbers("mean", 1, 3, -1e6, 1e6);
    const auto std = args.numbers("std", 1, 3, 1e-12, 1e6);
    if (mean.size() == 2) args.fail("mean", "expected one value or three");
    if (std.size() == 2) args.fail("std", "expected one value or three");
    three_ = mean.size() == 3 || std.size() == 3;
    for (int c = 0; c < 3; ++c) {
      mean_[c] = float(mean[mean.size() == 1 ? 0 : c]);
      std_[c] = float(std[std.size() == 1 ? 0 : c]);
    }
  }

  Drawn draw(RandomStream&, const SampleFold&) const override { return {}; }

  void fold(const Drawn&, SampleFold& fold) const override {
    // torchvision's normalize fails on a 1-channel image given three; the first alone was used.
    if (three_ && fold.channels() == 1)
      throw Error("", "plan", "normalize: 3 means or stds given for a 1-channel image (after grayscale with "
                              "num_output_channels 1?); give one value");
    fold.require_float(index());
    PixelOp op;
    op.kind = PixelKind::kNormalize;
    op.op_index = index();
    op.a = {mean_[0], mean_[1], mean_[2], std_[0], std_[1], std_[2]};
    fold.pixel(op);
    fold.note_normalize(mean_, std_);
  }

 private:
  std::array<float, 3> mean_{};
  std::array<float, 3> std_{};
  bool three_ = false;
};

}  // namespace

const OpDescriptor& normalize_descriptor() {
  static const OpDescriptor descriptor{
      "normalize",
      "Subtract a per-channel mean and divide by a per-channel std (float images in [0, 1])",
      "torchvision.transforms.v2.functional.normalize",
      {{"mean", "[float, float, float]", ParamValue::of(std::vector<double>{0.485, 0.456, 0.406}),
        "per-channel mean, on the [0, 1] scale"},
       {"std", "[float, float, float]", ParamValue::of(std::vector<double>{0.229, 0.224, 0.225}),
        "per-channel standard deviation, on the [0, 1] scale"}},
      {},
      [](const OpArgs& args) { return std::make_unique<Normalize>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
