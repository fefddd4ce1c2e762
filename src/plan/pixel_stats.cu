// GpuPixelStats kernel: grid-stride over the pixels, histograms in shared memory, sums per thread
// reduced across the warp, then one atomic per warp (sums) and per bin and block (histograms).
#include "plan/pixel_stats.h"

#include "core/cuda_check.h"
#include "core/cuda_memory.h"

namespace gpuaug::plan {

namespace {

constexpr int kSums = 9;  // 3 sums, 6 products
constexpr int kTotals = kSums + 3 * 256;
constexpr int kThreads = 256;

__global__ void pixel_stats_kernel(const uint8_t* __restrict__ rgb, size_t pixels,
                                   unsigned long long* __restrict__ totals) {
  __shared__ unsigned int histogram[3 * 256];
  for (int i = threadIdx.x; i < 3 * 256; i += blockDim.x) histogram[i] = 0;
  __syncthreads();
  unsigned long long s[kSums] = {};
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < pixels; i += size_t(gridDim.x) * blockDim.x) {
    const unsigned r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    s[0] += r, s[1] += g, s[2] += b;
    s[3] += r * r, s[4] += g * g, s[5] += b * b, s[6] += r * g, s[7] += r * b, s[8] += g * b;
    atomicAdd(&histogram[r], 1u);
    atomicAdd(&histogram[256 + g], 1u);
    atomicAdd(&histogram[512 + b], 1u);
  }
  for (int k = 0; k < kSums; ++k) {
    for (int offset = 16; offset > 0; offset /= 2) s[k] += __shfl_down_sync(0xffffffffu, s[k], offset);
    if ((threadIdx.x & 31) == 0 && s[k]) atomicAdd(&totals[k], s[k]);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < 3 * 256; i += blockDim.x)
    if (histogram[i]) atomicAdd(&totals[kSums + i], (unsigned long long)histogram[i]);
}

}  // namespace

struct GpuPixelStats::Impl {
  int device = 0;
  int blocks_per_image = 0;
  CudaStream stream;
  DeviceBuffer totals;
  PinnedBuffer host;
  uint64_t pixels = 0;
};

GpuPixelStats::GpuPixelStats(int device) {
  GPUAUG_CUDA_CHECK(cudaSetDevice(device), "device");
  impl_ = std::make_unique<Impl>();
  impl_->device = device;
  int sms = 0;
  GPUAUG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "device");
  impl_->blocks_per_image = sms * 2;
  impl_->totals.reserve(kTotals * sizeof(unsigned long long), impl_->stream.get());
  impl_->host.reserve(kTotals * sizeof(unsigned long long));
  GPUAUG_CUDA_CHECK(cudaMemsetAsync(impl_->totals.get(), 0, kTotals * sizeof(unsigned long long), impl_->stream.get()),
                    "device");
}

GpuPixelStats::~GpuPixelStats() = default;

void GpuPixelStats::add(const uint8_t* rgb, size_t pixels) {
  if (pixels == 0) return;
  GPUAUG_CUDA_CHECK(cudaSetDevice(impl_->device), "device");
  const size_t needed = (pixels + kThreads - 1) / kThreads;
  const int blocks = int(needed < size_t(impl_->blocks_per_image) ? needed : size_t(impl_->blocks_per_image));
  pixel_stats_kernel<<<blocks, kThreads, 0, impl_->stream.get()>>>(rgb, pixels,
                                                                   impl_->totals.as<unsigned long long>());
  GPUAUG_CUDA_CHECK(cudaGetLastError(), "stats kernel");
  impl_->pixels += pixels;
}

PixelTotals GpuPixelStats::take() {
  GPUAUG_CUDA_CHECK(cudaSetDevice(impl_->device), "device");
  const size_t bytes = kTotals * sizeof(unsigned long long);
  cudaStream_t stream = impl_->stream.get();
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(impl_->host.get(), impl_->totals.get(), bytes, cudaMemcpyDeviceToHost, stream),
                    "device copy");
  GPUAUG_CUDA_CHECK(cudaMemsetAsync(impl_->totals.get(), 0, bytes, stream), "device");
  impl_->stream.synchronize();
  const auto* t = static_cast<const unsigned long long*>(impl_->host.get());
  PixelTotals out;
  out.pixels = impl_->pixels;
  impl_->pixels = 0;
  for (int k = 0; k < 3; ++k) out.sum[k] = t[k];
  for (int k = 0; k < 6; ++k) out.products[k] = t[3 + k];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) out.histogram[c][v] = t[kSums + c * 256 + v];
  return out;
}

}  // namespace gpuaug::plan
