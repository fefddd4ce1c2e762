// CudaExecutor for builds without CUDA: constructing one says why it cannot run.
#if !GPUAUG_HAVE_CUDA
#include "core/error.h"
#include "plan/cuda_executor.h"

namespace gpuaug::plan {

struct CudaExecutor::Impl {};

bool cuda_device_available() { return false; }

CudaExecutor::CudaExecutor(int) {
  throw Error("", "device", "this gpuaug was built without CUDA; rebuild where nvcc is installed");
}
CudaExecutor::~CudaExecutor() = default;
int CudaExecutor::device() const { return -1; }
void CudaExecutor::upload_sources(std::span<const Image* const>) {}
const DeviceBatch& CudaExecutor::run(std::span<const SampleJob>, Layout, const OutputTarget*, ThreadPool*) {
  throw Error("", "device", "no CUDA in this build");
}
const DeviceBatch& CudaExecutor::submit(std::span<const SampleJob>, Layout, const OutputTarget*, ThreadPool*) {
  throw Error("", "device", "no CUDA in this build");
}
void CudaExecutor::wait() {}
std::vector<Tensor> CudaExecutor::run_to_host(std::span<const SampleJob>, Layout, ThreadPool*) {
  throw Error("", "device", "no CUDA in this build");
}
float CudaExecutor::last_kernel_ms() const { return 0.0f; }
double CudaExecutor::total_kernel_ms() const { return 0.0; }
const CudaExecutor::ResampleReport& CudaExecutor::last_resample() const {
  static const ResampleReport none;
  return none;
}

struct DeviceSlots::State {};
DeviceSlots::DeviceSlots(int) {
  throw Error("", "device", "this gpuaug was built without CUDA; rebuild where nvcc is installed");
}
DeviceSlots::~DeviceSlots() = default;
std::shared_ptr<void> DeviceSlots::take(size_t) { return nullptr; }
size_t DeviceSlots::blocks() const { return 0; }

}  // namespace gpuaug::plan
#endif
