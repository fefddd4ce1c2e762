// random_erasing: overwrite a random rectangle with a value or with noise.
// Parameters drawn as torchvision.transforms.v2.RandomErasing.make_params does (see shared
// notes "Noise, blur, erasing"): skipped unless U < p; up to 10 tries of
// A = H * W * U(scale), ratio = exp(U(log ratio)) (log ratio in float32),
// h = rne(sqrt(A * ratio)), w = rne(sqrt(A / ratio)) (the opposite of random_resized_crop),
// accepted when h < H and w < W; then i = randint(0, H - h + 1), j = randint(0, W - w + 1).
// If no try fits, nothing is erased (torchvision returns v = None); we record h = w = 0. Draws
// come from our Philox stream, not torch's generator. Then functional.erase sets
// image[..., i:i+h, j:j+w] = value.
//
// value: a number, 3 numbers (R, G, B), or "random". As in torchvision, a numeric value is in
// the image's own scale at this point of the chain: 0..255 in the uint8 domain (where it is
// truncated toward zero and clamped to 0..255, as assigning it into a uint8 tensor truncates),
// [0, 1] (or the normalized scale, after normalize) in the float domain. "random" writes
// per-pixel standard normals from Philox (plan/pixel_math.h: counter word 2 = op index |
// 0xC0000000), clamp(trunc(n * 255), 0, 255) in the uint8 domain (torchvision assigns the raw
// normal, which truncates to 0 or wraps; we scale and clamp).
//
// The rectangle is in the coordinates of the image as the chain has it at this op (the output
// image, when no geometric op follows).
// Support: uint8 and float domains; 1 or 3 channels (one value for a 1-channel image).
// Records: i, j, h, w (functional.erase's argument names: top row, left column, height,
// width), and v (the value, 1 or 3 numbers) when it is numeric.
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& random_erasing_descriptor();

}  // namespace gpuaug::ops
