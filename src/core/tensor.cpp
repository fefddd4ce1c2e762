// Names and sizes of dtypes and layouts.
#include "core/tensor.h"

namespace gpuaug {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kUInt8: return 1;
    case DType::kFloat32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
  }
  return 1;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kUInt8: return "uint8";
    case DType::kFloat32: return "float32";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
  }
  return "uint8";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType d : {DType::kUInt8, DType::kFloat32, DType::kFloat16, DType::kBFloat16})
    if (dtype_name(d) == name) return d;
  return std::nullopt;
}

std::string_view layout_name(Layout layout) { return layout == Layout::kHWC ? "HWC" : "CHW"; }

std::optional<Layout> parse_layout(std::string_view name) {
  if (name == "HWC" || name == "hwc") return Layout::kHWC;
  if (name == "CHW" || name == "chw") return Layout::kCHW;
  return std::nullopt;
}

}  // namespace gpuaug
