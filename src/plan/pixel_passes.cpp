// CPU passes of the pixel program: contrast's image mean and the separable Gaussian blur.
#include "plan/pixel_passes.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "plan/pixel_math.h"

namespace gpuaug::plan {

float image_gray_mean(const float* rgb, int width, int height, const ops::PixelOp& contrast_op) {
  const size_t count = size_t(width > 0 ? width : 0) * size_t(height > 0 ? height : 0);
  if (count == 0) return 0.0f;
  double sum = 0.0;
  if (contrast_op.channels == 1) {
    for (size_t i = 0; i < count; ++i) sum += rgb[3 * i];
  } else {
    for (size_t i = 0; i < count; ++i)
      sum += gray_of(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], contrast_op.uint8_domain);
  }
  return static_cast<float>(sum / static_cast<double>(count));
}

std::vector<float> gaussian_kernel1d(int size, float sigma) {
  std::vector<double> exact(size_t(size > 0 ? size : 0));
  const double centre = (size - 1) / 2.0;
  double total = 0.0;
  for (int i = 0; i < size; ++i) {
    const double x = (i - centre) / double(sigma);
    exact[size_t(i)] = std::exp(-0.5 * x * x);
    total += exact[size_t(i)];
  }
  std::vector<float> weights(exact.size());
  for (size_t i = 0; i < exact.size(); ++i) weights[i] = static_cast<float>(exact[i] / total);
  return weights;
}

int reflect_101(int i, int n) {
  if (n <= 1) return 0;
  const int period = 2 * (n - 1);
  int m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

void gaussian_blur(float* rgb, int width, int height, const ops::PixelOp& blur_op) {
  const codec::Rect whole{0, 0, width, height};
  gaussian_blur_window(rgb, whole, width, height, whole, blur_op);
}

void gaussian_blur_window(float* rgb, const codec::Rect& held, int width, int height, const codec::Rect& target,
                          const ops::PixelOp& blur_op) {
  if (width <= 0 || height <= 0 || target.width <= 0 || target.height <= 0) return;
  const int kx = blur_op.rect[0] > 0 ? blur_op.rect[0] : 1;
  const int ky = blur_op.rect[1] > 0 ? blur_op.rect[1] : 1;
  const std::vector<float> wx = gaussian_kernel1d(kx, blur_op.a[0]);
  const std::vector<float> wy = gaussian_kernel1d(ky, blur_op.a[1]);
  const int rx = kx / 2, ry = ky / 2;
  const int channels = blur_op.channels == 1 ? 1 : 3;  // a gray image: blur once, copy
  // Pixel (x, y) of the image in the held buffer.
  const auto at = [&held](int y, int x) { return (size_t(y - held.y) * held.width + (x - held.x)) * 3; };

  // Source columns of each target column, so the inner loops do no index arithmetic.
  std::vector<int> cols(size_t(target.width) * kx);
  for (int x = 0; x < target.width; ++x)
    for (int i = 0; i < kx; ++i) cols[size_t(x) * kx + i] = reflect_101(target.x + x + i - rx, width);

  // The horizontal pass over the rows the vertical taps read: [row_lo, row_hi].
  int row_lo = height, row_hi = -1;
  for (int y = target.y; y < target.y + target.height; ++y)
    for (int j = 0; j < ky; ++j) {
      const int r = reflect_101(y + j - ry, height);
      row_lo = std::min(row_lo, r), row_hi = std::max(row_hi, r);
    }
  const auto h_at = [&](int y, int x) { return (size_t(y - row_lo) * target.width + x) * 3; };
  std::vector<float> horizontal(size_t(row_hi - row_lo + 1) * target.width * 3);
  for (int y = row_lo; y <= row_hi; ++y) {
    for (int x = 0; x < target.width; ++x) {
      const int* src = &cols[size_t(x) * kx];
      for (int c = 0; c < channels; ++c) {
        float sum = 0.0f;
        for (int i = 0; i < kx; ++i) sum += wx[size_t(i)] * rgb[at(y, src[i]) + c];
        horizontal[h_at(y, x) + c] = sum;
      }
    }
  }

  std::vector<int> rows(static_cast<size_t>(ky));
  for (int y = target.y; y < target.y + target.height; ++y) {
    for (int j = 0; j < ky; ++j) rows[size_t(j)] = reflect_101(y + j - ry, height);
    for (int x = 0; x < target.width; ++x) {
      float* out = &rgb[at(y, target.x + x)];
      for (int c = 0; c < channels; ++c) {
        float sum = 0.0f;
        for (int j = 0; j < ky; ++j) sum += wy[size_t(j)] * horizontal[h_at(rows[size_t(j)], x) + c];
        out[c] =
            blur_op.uint8_domain ? std::nearbyint(std::fmin(std::fmax(sum, 0.0f), 255.0f)) : sum;
      }
      if (channels == 1) out[1] = out[2] = out[0];
    }
  }
}

}  // namespace gpuaug::plan
