// resize: descriptor, output-size rule and fold.
#include "ops/resize.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace gpuaug::ops {

std::pair<int, int> short_side_size(int height, int width, int64_t size, int64_t max_size) {
  const int64_t short_side = std::min(height, width), long_side = std::max(height, width);
  int64_t new_short = size;
  auto new_long = static_cast<int64_t>(double(size) * long_side / short_side);
  if (max_size > 0 && new_long > max_size) {
    new_short = static_cast<int64_t>(double(max_size) * new_short / new_long);
    new_long = max_size;
  }
  new_short = std::max<int64_t>(new_short, 1);
  // A thin image's long side at size 65536 passes an int (1 x 40000 -> 2.6e9).
  if (new_long > (int64_t(1) << 24))
    throw Error("", "plan",
                fmt::format("a short side of {} makes the long side {} pixels (at most {})", size, new_long,
                            int64_t(1) << 24));
  return height <= width ? std::pair<int, int>{int(new_short), int(new_long)}
                         : std::pair<int, int>{int(new_long), int(new_short)};
}

namespace {

class Resize final : public Op {
 public:
  explicit Resize(const OpArgs& args)
      : interp_(args.interpolation("interpolation")), antialias_(args.boolean("antialias")) {
    const ParamValue& size = args.value("size");
    if (size.kind == ParamValue::Kind::kNumber ||
        (size.kind == ParamValue::Kind::kList && size.list.size() == 1)) {
      short_side_ = args.int_pair("size", 1, 1 << 16).first;
    } else {
      const auto [h, w] = args.int_pair("size", 1, 1 << 16);
      height_ = int(h);
      width_ = int(w);
    }
    if (!args.is_null("max_size")) {
      max_size_ = args.integer("max_size", 1, 1 << 16);
      if (short_side_ == 0) args.fail("max_size", "only allowed when size is one number");
      if (max_size_ <= short_side_) args.fail("max_size", "must be larger than size");
    }
  }

  Drawn draw(RandomStream&, const SampleFold& fold) const override {
    const auto [h, w] = short_side_ > 0
                            ? short_side_size(fold.height(), fold.width(), short_side_, max_size_)
                            : std::pair<int, int>{height_, width_};
    Drawn d;
    d.set("size", {double(h), double(w)});
    return d;
  }

  GeometryRole geometry_role() const override { return GeometryRole::kResize; }

  void fold(const Drawn& d, SampleFold& fold) const override {
    const Drawn::Entry* size = d.find("size");
    fold.resize(int(size->v[0]), int(size->v[1]), interp_, antialias_);
  }

 private:
  int64_t short_side_ = 0;
  int64_t max_size_ = 0;
  int height_ = 0;
  int width_ = 0;
  Interp interp_;
  bool antialias_;
};

}  // namespace

const OpDescriptor& resize_descriptor() {
  static const OpDescriptor descriptor{
      "resize",
      "Resize to [height, width], or the shorter side to `size` keeping the aspect ratio",
      "torchvision.transforms.v2.functional.resize",
      {{"size", "int | [int, int]", ParamValue::null(),
        "short side (one number) or [height, width]"},
       interpolation_param("bilinear"),
       {"max_size", "int | null", ParamValue::null(), "cap on the long side when size is one number"},
       {"antialias", "bool", ParamValue::of(true), "low-pass filter when shrinking"}},
      {"size"},
      [](const OpArgs& args) { return std::make_unique<Resize>(args); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
