// What this build and machine offer: CUDA compiled in, nvJPEG found, GPUs visible.
#pragma once

#include <cstddef>
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

// Memory in use on a GPU (total minus free, all processes), 0 without CUDA; and this
// process' resident set on the host (/proc/self/statm). For the soak benchmark.
size_t device_memory_used(int device);
size_t host_resident_bytes();

}  // namespace gpuaug
