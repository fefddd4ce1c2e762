// local_crops: descriptor; draws like random_resized_crop, fans out to n samples.
#include "ops/local_crops.h"

#include "ops/random_resized_crop.h"

namespace gpuaug::ops {

namespace {

class LocalCrops final : public Op {
 public:
  explicit LocalCrops(const OpArgs& args)
      : n_(int(args.integer("n", 1, 255))),
        size_(read_output_size(args, "size")),
        scale_(args.range("scale", 0.0, 1.0, [](double v) { return std::pair{v, v}; })),
        ratio_(args.range("ratio", 1e-6, 1e6, [](double v) { return std::pair{v, v}; })),
        interp_(args.interpolation("interpolation")),
        antialias_(args.boolean("antialias")) {}

  int fanout() const override { return n_; }

  Drawn draw(RandomStream& rng, const SampleFold& fold) const override {
    const CropBox box = draw_resized_crop_box(rng, fold.width(), fold.height(), scale_, ratio_);
    Drawn d;
    d.set("top", double(box.top));
    d.set("left", double(box.left));
    d.set("height", double(box.height));
    d.set("width", double(box.width));
    d.set("size", {double(size_.first), double(size_.second)});
    return d;
  }

  GeometryRole geometry_role() const override { return GeometryRole::kResize; }

  void fold(const Drawn& d, SampleFold& fold) const override {
    fold.crop(int64_t(d.get("top")), int64_t(d.get("left")), int64_t(d.get("height")),
              int64_t(d.get("width")));
    fold.resize(size_.first, size_.second, interp_, antialias_);
  }

 private:
  int n_;
  std::pair<int, int> size_;
  std::pair<double, double> scale_;
  std::pair<double, double> ratio_;
  Interp interp_;
  bool antialias_;
};

}  // namespace

const OpDescriptor& local_crops_descriptor() {
  static const OpDescriptor descriptor{
      "local_crops", "n random resized crops of one image, each its own output sample",
      "multi-crop (DINO) local views; each crop as torchvision.transforms.v2.RandomResizedCrop",
      {{"n", "int", ParamValue::of(6.0), "number of crops per image"},
       {"size", "int | [int, int]", ParamValue::of(96.0), "output size of each crop"},
       {"scale", "[float, float]", ParamValue::of(std::vector<double>{0.05, 0.4}),
        "range of each crop's area as a fraction of the image"},
       {"ratio", "[float, float]", ParamValue::of(std::vector<double>{3.0 / 4.0, 4.0 / 3.0}),
        "range of aspect ratios (width / height)"},
       interpolation_param("bilinear"),
       {"antialias", "bool", ParamValue::of(true), "low-pass filter when shrinking"}},
      {"top", "left", "height", "width", "size"},
      [](const OpArgs& args) { return std::make_unique<LocalCrops>(args); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
