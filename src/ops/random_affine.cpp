// random_affine: descriptor, torchvision's draws and inverse matrix, fold as a warp.
#include "ops/random_affine.h"

#include <cmath>

namespace gpuaug::ops {

std::array<double, 6> inverse_affine_matrix(double cx, double cy, double angle_deg, double tx,
                                            double ty, double scale, double shear_x_deg,
                                            double shear_y_deg) {
  constexpr double kDegToRad = 3.14159265358979323846 / 180.0;
  const double rot = angle_deg * kDegToRad;
  const double sx = shear_x_deg * kDegToRad, sy = shear_y_deg * kDegToRad;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m{d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0};
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

void fold_affine(SampleFold& fold, const std::array<double, 6>& m, int out_w, int out_h,
                 Interp interp, std::array<float, 3> fill) {
  // torchvision samples input = M * (p - out/2) + in/2 in pixel-centre coordinates.
  const double half_in_w = fold.width() * 0.5, half_in_h = fold.height() * 0.5;
  const double half_out_w = out_w * 0.5, half_out_h = out_h * 0.5;
  const std::array<double, 6> inverse{
      m[0], m[1], half_in_w + m[2] - m[0] * half_out_w - m[1] * half_out_h,
      m[3], m[4], half_in_h + m[5] - m[3] * half_out_w - m[4] * half_out_h};
  fold.warp(inverse, out_w, out_h, interp, fill);
}

std::pair<double, double> relative_center(const ParamValue& center, int width, int height) {
  if (center.kind != ParamValue::Kind::kList || center.list.size() != 2) return {0.0, 0.0};
  return {center.list[0] - width * 0.5, center.list[1] - height * 0.5};
}

namespace {

class RandomAffine final : public Op {
 public:
  explicit RandomAffine(const OpArgs& args)
      : degrees_(args.range("degrees", -360, 360, [](double v) { return std::pair{-v, v}; })),
        interp_(args.interpolation("interpolation")),
        fill_(args.fill("fill")),
        center_(args.value("center")),
        p_(args.number("p", 0, 1)) {
    if (!args.is_null("translate")) {
      const auto t = args.numbers("translate", 2, 2, 0.0, 1.0);
      translate_ = {t[0], t[1]};
      has_translate_ = true;
    }
    if (!args.is_null("scale")) {
      const auto s = args.numbers("scale", 2, 2, 1e-6, 1e6);
      if (s[0] > s[1]) args.fail("scale", "expected [min, max] with min <= max");
      scale_ = {s[0], s[1]};
      has_scale_ = true;
    }
    if (!args.is_null("shear")) {
      const auto s = args.numbers("shear", 1, 4, -180, 180);
      if (s.size() == 3) args.fail("shear", "expected 1, 2 or 4 values");
      if (s.size() == 1) shear_ = {-std::abs(s[0]), std::abs(s[0]), 0, 0};
      else if (s.size() == 2) shear_ = {s[0], s[1], 0, 0};
      else shear_ = {s[0], s[1], s[2], s[3]};
      has_shear_ = true;
    }
    if (center_.kind != ParamValue::Kind::kNull) args.numbers("center", 2, 2, -1e9, 1e9);
  }

  Drawn draw(RandomStream& rng, const SampleFold& fold) const override {
    Drawn d;
    d.applied = rng.bernoulli(p_);
    if (!d.applied) return d;
    const double angle = rng.uniform(degrees_.first, degrees_.second);
    double tx = 0, ty = 0;
    if (has_translate_) {
      const double max_dx = translate_[0] * fold.width(), max_dy = translate_[1] * fold.height();
      tx = std::nearbyint(rng.uniform(-max_dx, max_dx));
      ty = std::nearbyint(rng.uniform(-max_dy, max_dy));
    }
    const double scale = has_scale_ ? rng.uniform(scale_[0], scale_[1]) : 1.0;
    double shear_x = 0, shear_y = 0;
    if (has_shear_) {
      shear_x = rng.uniform(shear_[0], shear_[1]);
      if (shear_[2] != 0 || shear_[3] != 0) shear_y = rng.uniform(shear_[2], shear_[3]);
    }
    d.set("angle", angle);
    d.set("translate", {tx, ty});
    d.set("scale", scale);
    d.set("shear", {shear_x, shear_y});
    return d;
  }

  GeometryRole geometry_role() const override { return GeometryRole::kWarp; }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    const auto [cx, cy] = relative_center(center_, fold.width(), fold.height());
    const Drawn::Entry* t = d.find("translate");
    const Drawn::Entry* s = d.find("shear");
    const auto m = inverse_affine_matrix(cx, cy, d.get("angle"), t->v[0], t->v[1],
                                         d.get("scale", 1.0), s->v[0], s->v[1]);
    fold_affine(fold, m, fold.width(), fold.height(), interp_, fill_);
  }

 private:
  std::pair<double, double> degrees_;
  std::array<double, 2> translate_{};
  std::array<double, 2> scale_{1, 1};
  std::array<double, 4> shear_{};
  bool has_translate_ = false, has_scale_ = false, has_shear_ = false;
  Interp interp_;
  std::array<float, 3> fill_;
  ParamValue center_;
  double p_;
};

}  // namespace

const OpDescriptor& random_affine_descriptor() {
  static const OpDescriptor descriptor{
      "random_affine", "Random rotation, translation, scale and shear about the centre",
      "torchvision.transforms.v2.RandomAffine / functional.affine",
      {{"degrees", "float | [float, float]", ParamValue::of(0.0), "angle range; d -> [-d, d]"},
       {"translate", "null | [float, float]", ParamValue::null(),
        "largest shift as a fraction of width and height"},
       {"scale", "null | [float, float]", ParamValue::null(), "scale range"},
       {"shear", "null | float | [float, float] | [float, float, float, float]", ParamValue::null(),
        "shear angle range in degrees: s -> x in [-s, s]; 4 values add a y range"},
       interpolation_param("nearest"), fill_param(),
       {"center", "null | [float, float]", ParamValue::null(), "pivot in pixels; null: the centre"},
       p_param(1.0)},
      {"angle", "translate", "scale", "shear"},
      [](const OpArgs& args) { return std::make_unique<RandomAffine>(args); },
      true};
  return descriptor;
}

}  // namespace gpuaug::ops
