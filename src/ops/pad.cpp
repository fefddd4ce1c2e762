// pad: descriptor, padding argument forms and fold.
#include "ops/pad.h"

namespace gpuaug::ops {

std::array<int64_t, 4> read_padding(const OpArgs& args, std::string_view name) {
  const std::vector<double> xs = args.numbers(name, 1, 4, 0, 1 << 16);
  if (xs.size() == 3) args.fail(name, "expected 1, 2 or 4 values");
  std::array<int64_t, 4> p{};
  for (size_t i = 0; i < 4; ++i) {
    const double x = xs.size() == 1 ? xs[0] : xs.size() == 2 ? xs[i % 2] : xs[i];
    if (x != static_cast<double>(static_cast<int64_t>(x))) args.fail(name, "expected integers");
    p[i] = static_cast<int64_t>(x);
  }
  return p;
}

Border read_padding_mode(const OpArgs& args, std::string_view name) {
  const std::string mode = args.choice(name, {"constant", "edge", "reflect", "symmetric"});
  if (mode == "edge") return Border::kEdge;
  if (mode == "reflect") return Border::kReflect;
  return mode == "symmetric" ? Border::kSymmetric : Border::kConstant;
}

ParamSpec padding_mode_param() {
  return {"padding_mode", "constant | edge | reflect | symmetric", ParamValue::of(std::string("constant")),
          "how padded pixels are made (as numpy.pad names them)"};
}

namespace {

class Pad final : public Op {
 public:
  explicit Pad(const OpArgs& args)
      : padding_(read_padding(args, "padding")),
        fill_(args.fill("fill")),
        mode_(read_padding_mode(args, "padding_mode")) {}

  Drawn draw(RandomStream&, const SampleFold&) const override {
    Drawn d;
    d.set("padding", {double(padding_[0]), double(padding_[1]), double(padding_[2]), double(padding_[3])});
    return d;
  }

  GeometryRole geometry_role() const override {
    if (!padding_[0] && !padding_[1] && !padding_[2] && !padding_[3]) return GeometryRole::kNone;
    return mode_ == Border::kConstant ? GeometryRole::kPad : GeometryRole::kMirrorPad;
  }

  void fold(const Drawn&, SampleFold& fold) const override {
    fold.pad(int(padding_[0]), int(padding_[1]), int(padding_[2]), int(padding_[3]), mode_, fill_);
  }

 private:
  std::array<int64_t, 4> padding_;
  std::array<float, 3> fill_;
  Border mode_;
};

}  // namespace

const OpDescriptor& pad_descriptor() {
  static const OpDescriptor descriptor{
      "pad", "Add borders around the image", "torchvision.transforms.v2.functional.pad",
      {{"padding", "int | [int, int] | [int, int, int, int]", ParamValue::null(),
        "all sides, [left/right, top/bottom], or [left, top, right, bottom]"},
       fill_param(), padding_mode_param()},
      {"padding"},
      [](const OpArgs& args) { return std::make_unique<Pad>(args); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
