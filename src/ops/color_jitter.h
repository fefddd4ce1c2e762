// color_jitter: brightness, contrast, saturation and hue by random factors, in random order.
// Matches torchvision.transforms.v2.ColorJitter (parameters drawn as its make_params does:
// torch.randperm(4) first, then the factors of the enabled adjustments, uniform, in the order
// brightness, contrast, saturation, hue) and applies, in the drawn order,
//   brightness  functional.adjust_brightness: x * f
//   contrast    functional.adjust_contrast:   x * f + mean * (1 - f), mean of the gray image
//   saturation  functional.adjust_saturation: x * f + gray * (1 - f)
//   hue         functional.adjust_hue:        HSV hue shifted by f (mod 1)
// each clamped to the value range and truncated on uint8 (formulas in plan/pixel_math.h).
// Our draws come from Philox, not torch's generator; each factor is drawn and rounded to
// float32 (torchvision also draws float32 factors), so the recorded value is exactly the one
// applied. `p` (ours; torchvision uses RandomApply) is drawn before everything else.
//
// Parameters: brightness, contrast, saturation: v -> [max(0, 1 - v), 1 + v], or [min, max]
// with 0 <= min <= max; hue: h -> [-h, h] with 0 <= h <= 0.5, or [min, max] inside
// [-0.5, 0.5]. A range equal to its centre ([1, 1]; [0, 0] for hue; the default 0) disables
// that adjustment, as torchvision's _check_input returns None.
//
// Support: uint8 and float domains; 1 or 3 channels (saturation and hue leave 1-channel
// images unchanged, as torchvision). Contrast needs the image mean: it ends a fused segment.
//
// Records: order (the full permutation of ids 0 brightness, 1 contrast, 2 saturation, 3 hue;
// torchvision's fn_idx: disabled ids are skipped when applying), brightness_factor,
// contrast_factor, saturation_factor, hue_factor (only the enabled ones).
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& color_jitter_descriptor();

}  // namespace gpuaug::ops
