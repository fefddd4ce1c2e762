// CPU passes of the pixel program that need more than one pixel: the image mean of contrast
// and the Gaussian blur. `rgb` is interleaved, 3 floats per pixel, rows packed; a 1-channel
// image holds its gray value in all three (as in pixel_math.h).
#pragma once

#include <vector>

#include "codec/image_info.h"
#include "ops/fold.h"

namespace gpuaug::plan {

// The mean that torchvision.transforms.v2.functional.adjust_contrast blends with: the mean over
// all pixels of 0.2989 R + 0.587 G + 0.114 B (gray_of), floored per pixel in the uint8 domain
// and unfloored in the float domain; for 1-channel images (op.channels == 1) the mean of the
// channel itself. Accumulated in double, returned as float32 (torch sums in float32 with
// cascade summation: the two agree to ~1e-6 relative). Store it in contrast_op.a[1].
float image_gray_mean(const float* rgb, int width, int height, const ops::PixelOp& contrast_op);

// torchvision's Gaussian kernel of `size` taps (odd): w_i = exp(-((i - c) / sigma)^2 / 2),
// c = (size - 1) / 2, normalized to sum 1. Evaluated in double and rounded to float32;
// torchvision evaluates the same formula in float32 (linspace, softmax), within a few ulps.
// The CUDA blur should use these weights so that both paths stay identical.
std::vector<float> gaussian_kernel1d(int size, float sigma);

// Reflect-101 index (torch's "reflect" padding, edge not repeated: -1 -> 1, n -> n - 2),
// repeated for offsets beyond one image width (torchvision refuses padding >= the size;
// we keep reflecting). n == 1 -> 0.
int reflect_101(int i, int n);

// torchvision.transforms.v2.functional.gaussian_blur, in place: kernel sizes rect[0] (x) and
// rect[1] (y), sigmas a[0] (x) and a[1] (y), reflect-101 padding, then in the uint8 domain
// the result rounded half to even (and clamped to 0..255).
//
// Separable: a horizontal pass then a vertical pass, each accumulating in float32 in tap
// order, instead of torchvision's one 2-D conv2d with the outer-product kernel. Tolerance
// against the exact 2-D convolution (and so against torchvision), as the tests check: float
// domain |diff| <= 1e-5 (values on the [0, 1] scale); uint8 domain equal except where the
// exact value lies within 1e-3 of k + 0.5, where the rounding may go either way (differs by
// 1). Measured against torchvision 0.26 on the CPU (256x192 random image, kernel 5x7,
// sigma 1.3): uint8 equal everywhere, float |diff| <= 3.6e-7; our weights are within 2 ulps
// of its float32 kernel.
void gaussian_blur(float* rgb, int width, int height, const ops::PixelOp& blur_op);

// The same blur of a `width` x `height` image, computed only for the pixels of `target`, from a
// buffer that holds only the pixels of `held` (rows packed, `held.width` pixels a row). Reflection
// is about the whole image's edges, and each output pixel's sums run as gaussian_blur's do,
// so that a tile of an image, blurred with the kernel's radius around it (blur_halo), equals
// the same pixels of the whole image blurred (plan/tiling.h). `held` must contain every pixel
// the target's taps read; pixels of `held` outside `target` keep their values.
void gaussian_blur_window(float* rgb, const codec::Rect& held, int width, int height, const codec::Rect& target,
                          const ops::PixelOp& blur_op);

}  // namespace gpuaug::plan
