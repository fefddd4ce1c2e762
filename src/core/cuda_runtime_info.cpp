// Build features and GPU discovery; without CUDA this reports none.
#include "core/cuda_runtime_info.h"

#if GPUAUG_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace gpuaug {

bool built_with_cuda() { return GPUAUG_HAVE_CUDA != 0; }
bool built_with_nvjpeg() { return GPUAUG_HAVE_NVJPEG != 0; }

std::vector<DeviceInfo> cuda_devices() {
  std::vector<DeviceInfo> devices;
#if GPUAUG_HAVE_CUDA
  int count = 0;
  // No driver or no GPU is not an error here: the CPU path serves.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return devices;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    devices.push_back({i, prop.name, prop.totalGlobalMem, prop.major, prop.minor});
  }
#endif
  return devices;
}

}  // namespace gpuaug
