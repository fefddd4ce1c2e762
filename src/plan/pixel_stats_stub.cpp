// GpuPixelStats for builds without CUDA: constructing one says why it cannot run.
#if !GPUAUG_HAVE_CUDA
#include "core/error.h"
#include "plan/pixel_stats.h"

namespace gpuaug::plan {

struct GpuPixelStats::Impl {};

GpuPixelStats::GpuPixelStats(int) {
  throw Error("", "device", "this gpuaug was built without CUDA; rebuild where nvcc is installed");
}
GpuPixelStats::~GpuPixelStats() = default;
void GpuPixelStats::add(const uint8_t*, size_t) {}
PixelTotals GpuPixelStats::take() { return {}; }

}  // namespace gpuaug::plan
#endif
