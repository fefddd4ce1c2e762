// grayscale: 0.2989 R + 0.587 G + 0.114 B into every output channel.
// Matches torchvision.transforms.v2.Grayscale (p = 1) and RandomGrayscale (p < 1) through
// functional.rgb_to_grayscale: float32 weighted sum, truncated on uint8 (so white becomes 254,
// as torchvision; formula in plan/pixel_math.h). A 1-channel input is left as it is (and
// repeated when 3 channels are asked for), as torchvision clones / repeats it.
//
// Output channels: with p = 1, num_output_channels (1 or 3); with p < 1 the output keeps the
// input's channel count whether or not the sample is converted (RandomGrayscale), and
// num_output_channels is not used, so that every sample of a batch has the same shape.
//
// Support: uint8 and float domains; 1 or 3 input channels.
// Records: num_output_channels (the functional's argument: the input's channel count when
// p < 1).
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& grayscale_descriptor();

}  // namespace gpuaug::ops
