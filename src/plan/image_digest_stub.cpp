// GpuImageDigest for builds without CUDA: constructing one says why it cannot run.
#if !GPUAUG_HAVE_CUDA
#include "core/error.h"
#include "plan/image_digest.h"

namespace gpuaug::plan {

struct GpuImageDigest::Impl {};

GpuImageDigest::GpuImageDigest(int) {
  throw Error("", "device", "this gpuaug was built without CUDA; rebuild where nvcc is installed");
}
GpuImageDigest::~GpuImageDigest() = default;
std::vector<ImageDigest> GpuImageDigest::digest(std::span<const DeviceRgbImage>) { return {}; }

}  // namespace gpuaug::plan
#endif
