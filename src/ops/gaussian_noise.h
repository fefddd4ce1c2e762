// gaussian_noise: x + mean + sigma * n per element, n standard normal, clamped to [0, 1] when
// `clip`. Matches torchvision.transforms.v2.GaussianNoise / functional.gaussian_noise on float
// images (noise = mean + randn * sigma; out = x + noise). Float domain only, as torchvision
// had it until pytorch/vision#9169 (which adds int16-truncated noise to uint8 tensors): images
// still in uint8 are first converted as to_dtype(float32, scale=True) would.
//
// n comes from Philox per pixel (plan/pixel_math.h pixel_normals: key (seed, epoch), counter
// (sample, stream, op index | 0x80000000, y * width + x), three normals by Box-Muller from one
// block), not from torch.randn: the same sample gets the same noise on CPU and GPU, and the
// parity with torchvision is in distribution (mean 0, std 1 per element, clipped at 5.77).
// A 1-channel image gets one normal per pixel.
//
// Support: float domain (uint8 converted first); 1 or 3 channels.
// Records: mean, sigma, clip (the functional's arguments; the noise itself is replayed from
// the seed, epoch and sample index).
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& gaussian_noise_descriptor();

}  // namespace gpuaug::ops
