// GpuJpegDecoder for builds without CUDA: constructing one says why it cannot run.
#if !GPUAUG_HAVE_CUDA
#include "codec/jpeg_decoder.h"
#include "core/error.h"
#include "plan/gpu_jpeg_decoder.h"

namespace gpuaug::plan {

struct GpuJpegDecoder::Impl {};

GpuJpegDecoder::GpuJpegDecoder(int) {
  throw Error("", "device", "this gpuaug was built without CUDA; rebuild where nvcc is installed");
}
GpuJpegDecoder::~GpuJpegDecoder() = default;
bool GpuJpegDecoder::exact() { return codec::libjpeg_idct_is_ported(); }
std::vector<std::optional<codec::GpuDecoded>> GpuJpegDecoder::decode(std::span<const JpegScanInput>) { return {}; }

}  // namespace gpuaug::plan
#endif
