// DeviceRgbSources: the launch that turns images in GPU memory into packed RGB sources (8-bit
// or float, as the image); the per-pixel rule is image_source.h's rgb_value, shared with the
// CPU copies.
#include <algorithm>

#include "core/cuda_memory.h"
#include "core/error.h"
#include "plan/image_source.h"

namespace gpuaug::plan {

namespace {

template <class T>
__device__ void copy_rgb(const StridedImage& s, int x, int y, void* to) {
  T* d = static_cast<T*>(to);
  for (int c = 0; c < 3; ++c) d[c] = rgb_value<T>(s, x, y, c);
}

// One thread a pixel; images along grid y (striding past the grid's 65535 limit). `offsets` in
// bytes.
__global__ void to_rgb_kernel(const StridedImage* images, const size_t* offsets, int count,
                              uint8_t* out) {
  for (int n = blockIdx.y; n < count; n += gridDim.y) {
    const StridedImage& s = images[n];
    const int64_t pixel = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (pixel >= int64_t(s.width) * s.height) continue;
    const int y = int(pixel / s.width), x = int(pixel % s.width);
    if (s.is_float) copy_rgb<float>(s, x, y, out + offsets[n] + size_t(pixel) * 3 * sizeof(float));
    else copy_rgb<uint8_t>(s, x, y, out + offsets[n] + size_t(pixel) * 3);
  }
}

}  // namespace

struct DeviceRgbSources::Impl {
  int device = 0;
  CudaStream stream;
  DeviceBuffer converted, descriptors, offsets;
};

// The device is checked (and named in the error) by the CudaExecutor made beside it.
DeviceRgbSources::DeviceRgbSources(int device) {
  GPUAUG_CUDA_CHECK(cudaSetDevice(device), "device");
  impl_ = std::make_unique<Impl>();
  impl_->device = device;
}

DeviceRgbSources::~DeviceRgbSources() = default;

std::vector<const uint8_t*> DeviceRgbSources::prepare(std::span<const StridedImage> images) {
  Impl& m = *impl_;
  GPUAUG_CUDA_CHECK(cudaSetDevice(m.device), "device");
  GPUAUG_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy), "device");
  std::vector<const uint8_t*> out(images.size(), nullptr);
  std::vector<StridedImage> convert;
  std::vector<size_t> offsets;
  std::vector<size_t> which;
  size_t bytes = 0;
  int64_t max_pixels = 1;
  for (size_t i = 0; i < images.size(); ++i) {
    const StridedImage& s = images[i];
    if (is_packed_rgb(s)) {
      out[i] = s.data;
      continue;
    }
    convert.push_back(s);
    offsets.push_back(bytes);
    which.push_back(i);
    // Each copy starts 16-byte aligned (float ones need 4).
    bytes += (size_t(s.width) * s.height * 3 * (s.is_float ? sizeof(float) : 1) + 15) / 16 * 16;
    max_pixels = std::max<int64_t>(max_pixels, int64_t(s.width) * s.height);
  }
  if (convert.empty()) return out;
  cudaStream_t stream = m.stream.get();
  m.converted.reserve(std::max<size_t>(bytes, 1), stream);
  m.descriptors.reserve(convert.size() * sizeof(StridedImage), stream);
  m.offsets.reserve(offsets.size() * sizeof(size_t), stream);
  GPUAUG_CUDA_CHECK(
      cudaMemcpyAsync(m.descriptors.get(), convert.data(), convert.size() * sizeof(StridedImage),
                      cudaMemcpyHostToDevice, stream),
      "upload");
  GPUAUG_CUDA_CHECK(
      cudaMemcpyAsync(m.offsets.get(), offsets.data(), offsets.size() * sizeof(size_t),
                      cudaMemcpyHostToDevice, stream),
      "upload");
  constexpr int kThreads = 256;
  const dim3 grid(unsigned((max_pixels + kThreads - 1) / kThreads),
                  unsigned(std::min<size_t>(convert.size(), 65535)));
  to_rgb_kernel<<<grid, kThreads, 0, stream>>>(m.descriptors.as<StridedImage>(),
                                               m.offsets.as<size_t>(), int(convert.size()),
                                               m.converted.as<uint8_t>());
  GPUAUG_CUDA_CHECK(cudaGetLastError(), "kernel");
  m.stream.synchronize();
  for (size_t k = 0; k < which.size(); ++k) out[which[k]] = m.converted.as<uint8_t>() + offsets[k];
  return out;
}

}  // namespace gpuaug::plan
