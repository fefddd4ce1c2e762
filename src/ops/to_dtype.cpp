// to_dtype: descriptor and folding into the pixel program's casts.
#include "ops/to_dtype.h"

namespace gpuaug::ops {

namespace {

class ToDtype final : public Op {
 public:
  explicit ToDtype(const OpArgs& args) {
    const std::string name = args.choice("dtype", {"uint8", "float32", "float16", "bfloat16"});
    if (!args.boolean("scale"))
      args.fail("scale",
                "scale=false is not supported: it would keep uint8 values 0..255 in a float "
                "tensor (or truncate floats to 0 and 1); use scale=true");
    dtype_ = *parse_dtype(name);
  }

  Drawn draw(RandomStream&, const SampleFold&) const override { return {}; }

  void fold(const Drawn&, SampleFold& fold) const override {
    const bool to_uint8 = dtype_ == DType::kUInt8;
    if (to_uint8 != fold.uint8_domain()) {
      PixelOp op;
      op.kind = to_uint8 ? PixelKind::kToUInt8 : PixelKind::kToFloat;
      op.op_index = index();
      fold.pixel(op);
    }
    fold.set_output_dtype(dtype_);
  }

 private:
  DType dtype_ = DType::kFloat32;
};

}  // namespace

const OpDescriptor& to_dtype_descriptor() {
  static const OpDescriptor descriptor{
      "to_dtype",
      "Convert to uint8, float32, float16 or bfloat16, scaling 0..255 <-> [0, 1]",
      "torchvision.transforms.v2.ToDtype(scale=True) / functional.to_dtype",
      {{"dtype", "uint8 | float32 | float16 | bfloat16", ParamValue::of(std::string("float32")),
        "element type of the output"},
       {"scale", "bool", ParamValue::of(true),
        "scale values between 0..255 and [0, 1]; must be true"}},
      {},
      [](const OpArgs& args) { return std::make_unique<ToDtype>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
