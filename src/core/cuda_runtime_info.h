// What this build and machine offer: CUDA compiled in, nvJPEG found, GPUs visible.
#pragma once

#include <string>
#include <vector>

namespace gpuaug {

struct DeviceInfo {
  int index = 0;
  std::string name;
  size_t memory_bytes = 0;
  int compute_major = 0;
  int compute_minor = 0;
};

bool built_with_cuda();
bool built_with_nvjpeg();
// Visible GPUs; empty where the build has no CUDA or the machine has no GPU or driver.
std::vector<DeviceInfo> cuda_devices();

}  // namespace gpuaug
