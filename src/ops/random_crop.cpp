// random_crop: descriptor, draw and fold.
#include "ops/random_crop.h"

#include <fmt/format.h>

#include "core/error.h"
#include "ops/pad.h"
#include "ops/random_resized_crop.h"

namespace gpuaug::ops {

namespace {

class RandomCrop final : public Op {
 public:
  explicit RandomCrop(const OpArgs& args)
      : size_(read_output_size(args, "size")),
        pad_if_needed_(args.boolean("pad_if_needed")),
        fill_(args.fill("fill")),
        mode_(read_padding_mode(args, "padding_mode")) {
    if (!args.is_null("padding")) padding_ = read_padding(args, "padding");
  }

  Drawn draw(RandomStream& rng, const SampleFold& fold) const override {
    std::array<int64_t, 4> pad = padding_;  // left, top, right, bottom
    const int64_t w = fold.width() + pad[0] + pad[2];
    const int64_t h = fold.height() + pad[1] + pad[3];
    if (pad_if_needed_ && w < size_.second) {
      const int64_t extra = size_.second - w;
      pad[0] += extra;
      pad[2] += extra;
    }
    if (pad_if_needed_ && h < size_.first) {
      const int64_t extra = size_.first - h;
      pad[1] += extra;
      pad[3] += extra;
    }
    const int64_t padded_w = fold.width() + pad[0] + pad[2];
    const int64_t padded_h = fold.height() + pad[1] + pad[3];
    if (padded_w < size_.second || padded_h < size_.first)
      throw Error("", "plan",
                  fmt::format("random_crop: crop {}x{} is larger than the (padded) image {}x{}; "
                              "set pad_if_needed: true",
                              size_.second, size_.first, padded_w, padded_h));
    Drawn d;
    d.set("top", double(rng.randint(0, padded_h - size_.first + 1)));
    d.set("left", double(rng.randint(0, padded_w - size_.second + 1)));
    d.set("height", size_.first);
    d.set("width", size_.second);
    d.set("padding", {double(pad[0]), double(pad[1]), double(pad[2]), double(pad[3])});
    return d;
  }

  // Its crop stays inside the padded image (draw refuses one that would not).
  GeometryRole geometry_role() const override {
    if (!pad_if_needed_ && !padding_[0] && !padding_[1] && !padding_[2] && !padding_[3]) return GeometryRole::kNone;
    return mode_ == Border::kConstant ? GeometryRole::kPad : GeometryRole::kMirrorPad;
  }

  void fold(const Drawn& d, SampleFold& fold) const override {
    const Drawn::Entry* pad = d.find("padding");
    if (pad != nullptr && (pad->v[0] != 0 || pad->v[1] != 0 || pad->v[2] != 0 || pad->v[3] != 0))
      fold.pad(int(pad->v[0]), int(pad->v[1]), int(pad->v[2]), int(pad->v[3]), mode_, fill_);
    fold.crop(int64_t(d.get("top")), int64_t(d.get("left")), size_.first, size_.second);
  }

 private:
  std::pair<int, int> size_;
  std::array<int64_t, 4> padding_{};
  bool pad_if_needed_;
  std::array<float, 3> fill_;
  Border mode_;
};

}  // namespace

const OpDescriptor& random_crop_descriptor() {
  static const OpDescriptor descriptor{
      "random_crop", "Crop `size` at a random position, after optional padding",
      "torchvision.transforms.v2.RandomCrop / functional.crop",
      {{"size", "int | [int, int]", ParamValue::null(), "s -> s x s, or [height, width]"},
       {"padding", "null | int | [int, int] | [int, int, int, int]", ParamValue::null(),
        "padding added first, as pad's padding"},
       {"pad_if_needed", "bool", ParamValue::of(false), "pad sides smaller than the crop"},
       fill_param(), padding_mode_param()},
      {"top", "left", "height", "width", "padding"},
      [](const OpArgs& args) { return std::make_unique<RandomCrop>(args); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
