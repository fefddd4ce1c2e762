// to_dtype: the output's element type, with values scaled between the uint8 and float scales.
// Matches torchvision.transforms.v2.ToDtype(dtype, scale=True) / functional.to_dtype:
// uint8 -> float: x * float(1/255) (not x / 255, which differs in the last bit);
// float -> uint8: trunc(x * 255.999). torchvision does not clamp there (values outside
// [0, 1], e.g. after normalize, wrap around); we clamp to [0, 1] first.
// float16 and bfloat16 are float32 in the pixel program, rounded (to nearest even) when the
// output is written.
//
// scale=false is refused: it would leave uint8 values 0..255 in a float tensor (or truncate
// float values to 0 and 1), which the rest of the chain cannot tell apart from scaled values.
// Support: uint8 and float domains; 1 or 3 channels. Records nothing (no draws).
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& to_dtype_descriptor();

}  // namespace gpuaug::ops
