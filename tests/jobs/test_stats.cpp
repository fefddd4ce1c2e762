// stats' arithmetic: integer sums that merge exactly, moments equal a direct float64
// computation, the 3x3 eigen solver against known decompositions, and reduce's size rule.
#include <gtest/gtest.h>

#include <cmath>

#include "../common/references.h"
#include "jobs/reduce.h"
#include "jobs/stats.h"

namespace gpuaug::jobs {
namespace {

TEST(PixelSums, MergeOfPartsEqualsTheWholeAndSurvivesJson) {
  const Image a = gpuaug_test::make_image(31, 17, 3, 1), b = gpuaug_test::make_image(5, 40, 3, 2);
  PixelSums whole, part_a, part_b;
  whole.add(a);
  whole.add(b);
  part_a.add(a);
  part_b.add(b);
  PixelSums merged = PixelSums::from_json(part_b.to_json());
  merged.merge(part_a);
  EXPECT_EQ(merged.to_json(), whole.to_json());
  EXPECT_EQ(whole.pixels, 31u * 17 + 5 * 40);
}

TEST(PixelSums, MomentsEqualDirectFloat64) {
  const Image image = gpuaug_test::make_image(64, 48, 3, 3);
  PixelSums sums;
  sums.add(image);
  const ChannelMoments m = channel_moments(sums);
  const size_t n = size_t(image.width) * image.height;
  double mean[3] = {0, 0, 0};
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) mean[c] += image.pixels[i * 3 + c] / 255.0;
  for (double& v : mean) v /= double(n);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(m.mean[i], mean[i], 1e-12);
    for (int j = 0; j < 3; ++j) {
      double cov = 0;
      for (size_t k = 0; k < n; ++k)
        cov += (image.pixels[k * 3 + i] / 255.0 - mean[i]) * (image.pixels[k * 3 + j] / 255.0 - mean[j]);
      EXPECT_NEAR(m.covariance[i][j], cov / double(n), 1e-12);
    }
    EXPECT_NEAR(m.std[i], std::sqrt(m.covariance[i][i]), 1e-15);
  }
}

TEST(PixelSums, ConstantImageHasZeroSpread) {
  Image image(7, 3, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = uint8_t(i % 3 == 0 ? 200 : 10);
  PixelSums sums;
  sums.add(image);
  const ChannelMoments m = channel_moments(sums);
  EXPECT_DOUBLE_EQ(m.mean[0], 200.0 / 255.0);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(m.std[c], 0.0);
  EXPECT_EQ(sums.histogram[0][200], 21u);
}

TEST(SymmetricEigen3, RecoversAKnownDecomposition) {
  // Q diag(5, 2, 0.5) Q^T for a rotation Q.
  const double c = std::cos(0.7), s = std::sin(0.7), c2 = std::cos(-1.1), s2 = std::sin(-1.1);
  const double q1[3][3] = {{c, -s, 0}, {s, c, 0}, {0, 0, 1}}, q2[3][3] = {{1, 0, 0}, {0, c2, -s2}, {0, s2, c2}};
  double q[3][3] = {};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) q[i][j] += q1[i][k] * q2[k][j];
  const double d[3] = {5, 2, 0.5};
  std::array<std::array<double, 3>, 3> a{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) a[i][j] += q[i][k] * d[k] * q[j][k];
  std::array<double, 3> values{};
  std::array<std::array<double, 3>, 3> vectors{};
  symmetric_eigen3(a, values, vectors);
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(values[k], d[k], 1e-12);
    double dot = 0;
    for (int i = 0; i < 3; ++i) dot += vectors[k][i] * q[i][k];
    EXPECT_NEAR(std::fabs(dot), 1.0, 1e-12);
  }
}

TEST(SymmetricEigen3, DiagonalAndRepeatedValues) {
  std::array<double, 3> values{};
  std::array<std::array<double, 3>, 3> vectors{};
  symmetric_eigen3({{{1, 0, 0}, {0, 3, 0}, {0, 0, 3}}}, values, vectors);
  EXPECT_EQ(values, (std::array<double, 3>{3, 3, 1}));
  EXPECT_EQ(vectors[2], (std::array<double, 3>{1, 0, 0}));
}

TEST(ReducedSize, MaxSideTruncatesTheShortSideAndNeverEnlarges) {
  EXPECT_EQ(reduced_size(200, 300, 100, 0), (std::pair<int, int>{100, 66}));  // (h, w)
  EXPECT_EQ(reduced_size(400, 90, 64, 0), (std::pair<int, int>{14, 64}));
  EXPECT_EQ(reduced_size(60, 50, 64, 0), (std::pair<int, int>{50, 60}));
  EXPECT_EQ(reduced_size(1000, 1, 64, 0), (std::pair<int, int>{1, 64}));
  EXPECT_EQ(reduced_size(257, 129, 0, 0.5), (std::pair<int, int>{64, 128}));
  EXPECT_EQ(reduced_size(1, 3, 0, 0.25), (std::pair<int, int>{1, 1}));
}

}  // namespace
}  // namespace gpuaug::jobs
