// GpuPixelStats and PinnedSlots for builds without CUDA: constructing a GpuPixelStats says why it
// cannot run, and PinnedSlots never has a slot.
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
std::vector<PixelTotals> GpuPixelStats::measure(std::span<const HostPixels>) { return {}; }

struct PinnedSlots::Slot {};
PinnedSlots::PinnedSlots(int device, size_t, size_t budget_bytes) : device_(device), budget_(budget_bytes) {}
PinnedSlots::~PinnedSlots() = default;
std::optional<size_t> PinnedSlots::try_acquire(size_t) { return std::nullopt; }
uint8_t* PinnedSlots::data(size_t) const { return nullptr; }
void PinnedSlots::release(size_t) {}

}  // namespace gpuaug::plan
#endif
