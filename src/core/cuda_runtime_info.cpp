// Build features and GPU discovery; without CUDA this reports none.
#include "core/cuda_runtime_info.h"

#include <unistd.h>

#include <fstream>

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

size_t device_memory_used(int device) {
#if GPUAUG_HAVE_CUDA
  int previous = 0;
  if (cudaGetDevice(&previous) != cudaSuccess || cudaSetDevice(device) != cudaSuccess) return 0;
  size_t free_bytes = 0, total_bytes = 0;
  const bool ok = cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess;
  cudaSetDevice(previous);
  return ok ? total_bytes - free_bytes : 0;
#else
  (void)device;
  return 0;
#endif
}

size_t host_resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

}  // namespace gpuaug
