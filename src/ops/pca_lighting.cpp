// pca_lighting: descriptor, the components (given or read from a stats file), the draw and
// the fold into a normalize step.
#include "ops/pca_lighting.h"

#include <array>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace gpuaug::ops {

namespace {

// ImageNet's, as fb.resnet.torch (datasets/imagenet.lua) and timm give them.
const std::vector<double> kImageNetEigval{0.2175, 0.0188, 0.0045};
const std::vector<double> kImageNetEigvec{-0.5675, 0.7192, 0.4009,   //
                                          -0.5808, -0.0045, -0.8140,  //
                                          -0.5836, -0.6948, 0.4203};

class PcaLighting final : public Op {
 public:
  explicit PcaLighting(const OpArgs& args)
      : alphastd_(args.number("alphastd", 0.0, 10.0)), p_(args.number("p", 0.0, 1.0)) {
    if (args.value("stats").kind == ParamValue::Kind::kString) {
      read_stats(args, args.value("stats").text);
    } else {
      const std::vector<double> eigval = args.numbers("eigval", 3, 3, 0.0, 1e3);
      const std::vector<double> eigvec = args.numbers("eigvec", 9, 9, -1e3, 1e3);
      for (int i = 0; i < 3; ++i) {
        eigval_[i] = eigval[i];
        for (int j = 0; j < 3; ++j) eigvec_[i][j] = eigvec[size_t(i) * 3 + j];
      }
    }
  }

  Drawn draw(RandomStream& rng, const SampleFold& fold) const override {
    Drawn d;
    if (!rng.bernoulli(p_) || fold.channels() != 3) {
      d.applied = false;
      return d;
    }
    const double alpha[3] = {rng.normal() * alphastd_, rng.normal() * alphastd_, rng.normal() * alphastd_};
    d.set("alpha", {alpha[0], alpha[1], alpha[2]});
    const std::array<double, 3> o = offset(alpha);
    d.set("offset", {o[0], o[1], o[2]});
    return d;
  }

  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    const Drawn::Entry* alpha = d.find("alpha");
    if (alpha == nullptr || alpha->n != 3) return;
    const std::array<double, 3> o = offset(alpha->v.data());
    fold.require_float(index());
    PixelOp op;
    op.kind = PixelKind::kNormalize;  // (x - (-o)) / 1 = x + o, exactly
    op.op_index = index();
    for (int c = 0; c < 3; ++c) op.a[c] = -static_cast<float>(o[c]), op.a[3 + c] = 1.0f;
    fold.pixel(op);
  }

 private:
  // offset_i = sum_j eigvec[i][j] * alpha_j * eigval_j: component i of the colour shift, the
  // eigenvectors being eigvec's columns (fb.resnet.torch's Lighting).
  std::array<double, 3> offset(const double* alpha) const {
    std::array<double, 3> o{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) o[i] += eigvec_[i][j] * alpha[j] * eigval_[j];
    return o;
  }

  // A `gpuaug stats` file: pca.eigenvalues (descending) and pca.eigenvectors (rows).
  void read_stats(const OpArgs& args, const std::string& path) {
    std::ifstream in(path);
    if (!in) args.fail("stats", "cannot read " + path);
    try {
      const nlohmann::json j = nlohmann::json::parse(in);
      const auto values = j.at("pca").at("eigenvalues").get<std::array<double, 3>>();
      const auto vectors = j.at("pca").at("eigenvectors").get<std::array<std::array<double, 3>, 3>>();
      for (int k = 0; k < 3; ++k) {
        eigval_[k] = std::sqrt(std::max(values[k], 0.0));
        for (int i = 0; i < 3; ++i) eigvec_[i][k] = vectors[k][i];  // rows become columns
      }
    } catch (const nlohmann::json::exception& e) {
      args.fail("stats", path + " is not a gpuaug stats file with a pca section (" + e.what() + ")");
    }
  }

  double alphastd_;
  double p_;
  double eigval_[3] = {};
  double eigvec_[3][3] = {};
};

}  // namespace

const OpDescriptor& pca_lighting_descriptor() {
  static const OpDescriptor descriptor{
      "pca_lighting",
      "AlexNet's PCA lighting noise: every pixel shifted by eigvec @ (alpha * eigval), alpha ~ N(0, alphastd)",
      "fb.resnet.torch / timm Lighting (AlexNet, Krizhevsky et al. 2012)",
      {{"alphastd", "float", ParamValue::of(0.1), "standard deviation of each component's alpha"},
       {"eigval", "[float, float, float]", ParamValue::of(kImageNetEigval),
        "scale of each principal component, on the [0, 1] scale (default: ImageNet's)"},
       {"eigvec", "[float x 9]", ParamValue::of(kImageNetEigvec),
        "principal components as the columns of a row-major 3x3 matrix (default: ImageNet's)"},
       {"stats", "null | string", ParamValue::null(),
        "a gpuaug stats file: its PCA, sqrt of each eigenvalue as the scale (instead of eigval/eigvec)"},
       p_param(1.0)},
      {"alpha", "offset"},
      [](const OpArgs& args) { return std::make_unique<PcaLighting>(args); }};
  return descriptor;
}

}  // namespace gpuaug::ops
