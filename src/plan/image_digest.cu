// GpuImageDigest kernel: blocks of rows of one image; each warp takes a row, sums its gray
// pixels into the 9 column cells (lane-local, then across the warp) and adds the row's share to
// the 8x9 cells with one atomic per cell; channel sums per thread, one atomic per warp.
#include "plan/image_digest.h"

#include "core/cuda_check.h"
#include "core/cuda_memory.h"

namespace gpuaug::plan {

namespace {

constexpr int kCols = 9, kRows = 8;
constexpr int kMoments = 6;                     // 3 sums, 3 sums of squares
constexpr int kOut = kMoments + kRows * kCols;  // per image
constexpr int kThreads = 256;
constexpr int kRowsPerBlock = 64;

__device__ unsigned long long warp_sum(unsigned long long v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__global__ void digest_kernel(const DeviceRgbImage* __restrict__ images, unsigned long long* __restrict__ out) {
  const DeviceRgbImage image = images[blockIdx.x];
  const int n = image.width, h = image.height;
  unsigned long long* totals = out + size_t(blockIdx.x) * kOut;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  unsigned long long moments[kMoments] = {};
  // Blocks of kRowsPerBlock rows, strided over the grid's rows of blocks; a warp a row.
  for (int block_row = int(blockIdx.y) * kRowsPerBlock; block_row < h; block_row += int(gridDim.y) * kRowsPerBlock)
  for (int y = block_row + warp; y < min(h, block_row + kRowsPerBlock); y += kThreads / 32) {
    const uint8_t* row = image.rgb + size_t(y) * size_t(n) * 3;
    // A lane's pixels of one row weigh at most 9 · 255 each: 32 bits hold rows of 2^20 pixels a
    // lane, far beyond any row the pixel cap allows.
    unsigned int cell[kCols] = {};
    for (int x = lane; x < n; x += 32) {
      const unsigned r = row[3 * x], g = row[3 * x + 1], b = row[3 * x + 2];
      moments[0] += r, moments[1] += g, moments[2] += b;
      moments[3] += r * r, moments[4] += g * g, moments[5] += b * b;
      const unsigned gray = (19595u * r + 38470u * g + 7471u * b + 32768u) >> 16;
      // Pixel x spans [9x, 9x + 9) and cell i spans [i·n, (i + 1)·n): n >= 9, so at most two.
      const int lo = kCols * x, i0 = lo / n, boundary = (i0 + 1) * n;
      const unsigned w0 = unsigned(min(lo + kCols, boundary) - lo), w1 = unsigned(kCols) - w0;
#pragma unroll
      for (int i = 0; i < kCols; ++i) cell[i] += (i == i0 ? w0 : i == i0 + 1 ? w1 : 0u) * gray;
    }
    // Row y spans [8y, 8y + 8) and row cell j spans [j·h, (j + 1)·h): at most two.
    const int lo = kRows * y, j0 = lo / h, boundary = (j0 + 1) * h;
    const unsigned long long v0 = unsigned(min(lo + kRows, boundary) - lo), v1 = kRows - v0;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const unsigned long long s = warp_sum(cell[i]);
      if (lane == i) {
        atomicAdd(&totals[kMoments + j0 * kCols + i], v0 * s);
        if (v1) atomicAdd(&totals[kMoments + (j0 + 1) * kCols + i], v1 * s);
      }
    }
  }
#pragma unroll
  for (int k = 0; k < kMoments; ++k) {
    const unsigned long long s = warp_sum(moments[k]);
    if (lane == 0 && s) atomicAdd(&totals[k], s);
  }
}

}  // namespace

struct GpuImageDigest::Impl {
  int device = 0;
  CudaStream stream;
  DeviceBuffer jobs, totals;
  PinnedBuffer host_jobs, host_totals;
};

GpuImageDigest::GpuImageDigest(int device) {
  GPUAUG_CUDA_CHECK(cudaSetDevice(device), "device");
  impl_ = std::make_unique<Impl>();
  impl_->device = device;
}

GpuImageDigest::~GpuImageDigest() = default;

std::vector<ImageDigest> GpuImageDigest::digest(std::span<const DeviceRgbImage> images) {
  std::vector<ImageDigest> result(images.size());
  if (images.empty()) return result;
  GPUAUG_CUDA_CHECK(cudaSetDevice(impl_->device), "device");
  cudaStream_t stream = impl_->stream.get();
  const size_t job_bytes = images.size() * sizeof(DeviceRgbImage);
  const size_t out_bytes = images.size() * kOut * sizeof(unsigned long long);
  impl_->jobs.reserve(job_bytes, stream);
  impl_->totals.reserve(out_bytes, stream);
  impl_->host_jobs.reserve(job_bytes);
  impl_->host_totals.reserve(out_bytes);
  int tallest = 0;
  for (size_t k = 0; k < images.size(); ++k) {
    impl_->host_jobs.as<DeviceRgbImage>()[k] = images[k];
    tallest = std::max(tallest, images[k].height);
  }
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(impl_->jobs.get(), impl_->host_jobs.get(), job_bytes, cudaMemcpyHostToDevice, stream),
                    "device copy");
  GPUAUG_CUDA_CHECK(cudaMemsetAsync(impl_->totals.get(), 0, out_bytes, stream), "device");
  const dim3 grid(unsigned(images.size()), unsigned(std::min((tallest + kRowsPerBlock - 1) / kRowsPerBlock, 1024)));
  digest_kernel<<<grid, kThreads, 0, stream>>>(impl_->jobs.as<DeviceRgbImage>(),
                                               impl_->totals.as<unsigned long long>());
  GPUAUG_CUDA_CHECK(cudaGetLastError(), "digest kernel");
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(impl_->host_totals.get(), impl_->totals.get(), out_bytes, cudaMemcpyDeviceToHost, stream),
                    "device copy");
  impl_->stream.synchronize();
  const auto* t = impl_->host_totals.as<const unsigned long long>();
  for (size_t k = 0; k < images.size(); ++k, t += kOut) {
    for (int c = 0; c < 3; ++c) result[k].sum[c] = t[c], result[k].sum_sq[c] = t[3 + c];
    for (int r = 0; r < kRows; ++r)
      for (int i = 0; i < kCols; ++i) result[k].cells[r][i] = t[kMoments + r * kCols + i];
  }
  return result;
}

}  // namespace gpuaug::plan
