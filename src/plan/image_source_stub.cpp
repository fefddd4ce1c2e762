// DeviceRgbSources for builds without CUDA: constructing one says why it cannot run.
#if !GPUAUG_HAVE_CUDA
#include "core/error.h"
#include "plan/image_source.h"

namespace gpuaug::plan {

struct DeviceRgbSources::Impl {};

DeviceRgbSources::DeviceRgbSources(int) {
  throw Error("", "device", "this gpuaug was built without CUDA; rebuild where nvcc is installed");
}
DeviceRgbSources::~DeviceRgbSources() = default;
std::vector<const uint8_t*> DeviceRgbSources::prepare(std::span<const StridedImage>) {
  throw Error("", "device", "no CUDA in this build");
}

}  // namespace gpuaug::plan
#endif
