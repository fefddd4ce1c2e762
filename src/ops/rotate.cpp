// rotate: descriptor, draw, expand size and fold as a warp.
#include "ops/rotate.h"

#include <algorithm>
#include <cmath>

#include "ops/random_affine.h"

namespace gpuaug::ops {

std::pair<int, int> expanded_size(const std::array<double, 6>& m, int width, int height) {
  // float32 as torchvision's theta tensor.
  const float half_w = 0.5f * width, half_h = 0.5f * height;
  const float pts[4][2] = {{-half_w, -half_h}, {-half_w, half_h}, {half_w, half_h}, {half_w, -half_h}};
  float min_x = INFINITY, min_y = INFINITY, max_x = -INFINITY, max_y = -INFINITY;
  for (const auto& p : pts) {
    const float x = float(m[0]) * p[0] + float(m[1]) * p[1] + float(m[2]);
    const float y = float(m[3]) * p[0] + float(m[4]) * p[1] + float(m[5]);
    min_x = std::min(min_x, x), max_x = std::max(max_x, x);
    min_y = std::min(min_y, y), max_y = std::max(max_y, y);
  }
  const auto trunc_tol = [](float v) { return std::trunc(v * 1e4f) * 1e-4f; };
  const float w = std::ceil(trunc_tol(max_x + half_w)) - std::floor(trunc_tol(min_x + half_w));
  const float h = std::ceil(trunc_tol(max_y + half_h)) - std::floor(trunc_tol(min_y + half_h));
  return {std::max(1, int(w)), std::max(1, int(h))};
}

namespace {

class Rotate final : public Op {
 public:
  explicit Rotate(const OpArgs& args)
      : degrees_(args.range("degrees", -360, 360, [](double v) { return std::pair{-v, v}; })),
        interp_(args.interpolation("interpolation")),
        expand_(args.boolean("expand")),
        fill_(args.fill("fill")),
        center_(args.value("center")),
        p_(args.number("p", 0, 1)) {
    if (center_.kind != ParamValue::Kind::kNull) args.numbers("center", 2, 2, -1e9, 1e9);
  }

  Drawn draw(RandomStream& rng, const SampleFold&) const override {
    Drawn d;
    d.applied = rng.bernoulli(p_);
    if (d.applied) d.set("angle", rng.uniform(degrees_.first, degrees_.second));
    return d;
  }

  GeometryRole geometry_role() const override { return GeometryRole::kWarp; }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    const auto [cx, cy] = relative_center(center_, fold.width(), fold.height());
    const auto m = inverse_affine_matrix(cx, cy, -d.get("angle"), 0, 0, 1.0, 0, 0);
    int out_w = fold.width(), out_h = fold.height();
    if (expand_) std::tie(out_w, out_h) = expanded_size(m, fold.width(), fold.height());
    fold_affine(fold, m, out_w, out_h, interp_, fill_);
  }

 private:
  std::pair<double, double> degrees_;
  Interp interp_;
  bool expand_;
  std::array<float, 3> fill_;
  ParamValue center_;
  double p_;
};

}  // namespace

const OpDescriptor& rotate_descriptor() {
  static const OpDescriptor descriptor{
      "rotate", "Rotate by a random angle in `degrees`, counter-clockwise",
      "torchvision.transforms.v2.RandomRotation / functional.rotate",
      {{"degrees", "float | [float, float]", ParamValue::null(), "angle range; d -> [-d, d]"},
       interpolation_param("nearest"),
       {"expand", "bool", ParamValue::of(false), "grow the output to hold the whole rotated image"},
       {"center", "null | [float, float]", ParamValue::null(), "pivot in pixels; null: the centre"},
       fill_param(), p_param(1.0)},
      {"angle"},
      [](const OpArgs& args) { return std::make_unique<Rotate>(args); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
