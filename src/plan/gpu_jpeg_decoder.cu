// GpuJpegDecoder: scans packed into page-locked staging and copied up at once, the chunked
// Huffman decoder and the IDCT (plan/jpeg_scan_decode.h), then a kernel that finishes the planes
// to interleaved RGB (codec::jpeg_planes_rgb).
#include "plan/gpu_jpeg_decoder.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "codec/jpeg_decoder.h"
#include "codec/jpeg_planes.h"
#include "core/cuda_check.h"
#include "core/cuda_memory.h"
#include "core/error.h"
#include "plan/jpeg_scan_decode.h"

namespace gpuaug::plan {

namespace {

struct RgbImage {
  codec::JpegPlanes planes;
  const uint8_t* plane_data = nullptr;
  uint8_t* rgb = nullptr;
  const uint32_t* status = nullptr;
};

// Image blockIdx.y's pixels, one a thread, grid-stride.
__global__ void planes_to_rgb_kernel(const RgbImage* __restrict__ images) {
  const RgbImage& image = images[blockIdx.y];
  if (declined(image.status)) return;
  const unsigned width = unsigned(image.planes.width);
  const unsigned pixels = width * unsigned(image.planes.height);
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < pixels; i += gridDim.x * blockDim.x) {
    int rgb[3];
    codec::jpeg_planes_rgb(image.planes, image.plane_data, int(i % width), int(i / width), rgb);
    uint8_t* out = image.rgb + size_t(i) * 3;
    out[0] = uint8_t(rgb[0]), out[1] = uint8_t(rgb[1]), out[2] = uint8_t(rgb[2]);
  }
}

size_t rounded_256(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

struct GpuJpegDecoder::Impl {
  int device = 0;
  CudaStream stream;
  CudaEvent done{cudaEventBlockingSync | cudaEventDisableTiming};
  PinnedBuffer staging_host, descriptors_host;
  DeviceBuffer staging, coefficients, planes, rgb, descriptors;
  ScanDecoding scans;
};

GpuJpegDecoder::GpuJpegDecoder(int device) {
  GPUAUG_CUDA_CHECK(cudaSetDevice(device), "device");
  impl_ = std::make_unique<Impl>();
  impl_->device = device;
}

GpuJpegDecoder::~GpuJpegDecoder() = default;

bool GpuJpegDecoder::exact() { return codec::libjpeg_idct_is_ported(); }

std::vector<std::optional<codec::GpuDecoded>> GpuJpegDecoder::decode(std::span<const JpegScanInput> scans) {
  std::vector<std::optional<codec::GpuDecoded>> out(scans.size());
  if (scans.empty()) return out;
  GPUAUG_CUDA_CHECK(cudaSetDevice(impl_->device), "device");
  Impl& m = *impl_;
  cudaStream_t stream = m.stream.get();
  // Room for all of them (the pixels of every one stay until the next call); the decoder's
  // passes run ScanDecoding::kMaxScans at a time.
  std::vector<size_t> staged(scans.size()), coefficients_at(scans.size()), planes_at(scans.size()),
      rgb_at(scans.size());
  size_t staged_bytes = 0, coefficient_bytes = 0, planes_bytes = 0, rgb_bytes = 0;
  for (size_t k = 0; k < scans.size(); ++k) {
    const codec::JpegScan& s = scans[k].scan;
    staged[k] = staged_bytes, staged_bytes += rounded_256(s.bytes);
    coefficients_at[k] = coefficient_bytes, coefficient_bytes += rounded_256(s.layout.bytes);
    planes_at[k] = planes_bytes, planes_bytes += rounded_256(s.layout.planes.bytes);
    rgb_at[k] = rgb_bytes, rgb_bytes += rounded_256(size_t(s.layout.planes.width) * size_t(s.layout.planes.height) * 3);
  }
  constexpr size_t kGroup = ScanDecoding::kMaxScans;
  const size_t descriptor_bytes = kGroup * (sizeof(IdctImage) + sizeof(RgbImage));
  // Page-locked memory is slow to allocate: grown in powers of two, as DeviceBuffer grows.
  m.staging_host.reserve(std::bit_ceil(staged_bytes));
  m.descriptors_host.reserve(descriptor_bytes + 8 * kGroup);
  m.staging.reserve(staged_bytes, stream);
  m.coefficients.reserve(coefficient_bytes, stream);
  m.planes.reserve(planes_bytes, stream);
  m.rgb.reserve(rgb_bytes, stream);
  m.descriptors.reserve(descriptor_bytes, stream);
  for (size_t k = 0; k < scans.size(); ++k)
    std::memcpy(m.staging_host.as<uint8_t>() + staged[k], scans[k].buffer.data(), scans[k].scan.bytes);
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(m.staging.get(), m.staging_host.get(), staged_bytes, cudaMemcpyHostToDevice, stream),
                    "device copy");
  GPUAUG_CUDA_CHECK(cudaMemsetAsync(m.coefficients.get(), 0, coefficient_bytes, stream), "device");
  auto* statuses = reinterpret_cast<uint32_t*>(m.descriptors_host.as<uint8_t>() + descriptor_bytes);
  for (size_t first = 0; first < scans.size(); first += kGroup) {
    const size_t count = std::min(kGroup, scans.size() - first);
    std::vector<DeviceScan> group;
    for (size_t k = first; k < first + count; ++k)
      group.push_back({scans[k].scan, m.staging.as<uint8_t>() + staged[k], m.coefficients.as<uint8_t>() + coefficients_at[k]});
    m.scans.enqueue(stream, group);
    auto* idct = m.descriptors_host.as<IdctImage>();
    auto* rgb = reinterpret_cast<RgbImage*>(m.descriptors_host.as<uint8_t>() + kGroup * sizeof(IdctImage));
    size_t most_blocks = 0, most_pixels = 0;
    for (size_t j = 0; j < count; ++j) {
      const codec::JpegScan& s = scans[first + j].scan;
      unsigned blocks = 0;
      for (int c = 0; c < s.layout.planes.components; ++c) blocks += unsigned(s.layout.blocks_wide[c]) * unsigned(s.layout.blocks_high[c]);
      most_blocks = std::max<size_t>(most_blocks, blocks);
      most_pixels = std::max(most_pixels, size_t(s.layout.planes.width) * size_t(s.layout.planes.height));
      uint8_t* planes = m.planes.as<uint8_t>() + planes_at[first + j];
      idct[j] = IdctImage{m.coefficients.as<uint8_t>() + coefficients_at[first + j], planes, s.layout, blocks, m.scans.status(j)};
      rgb[j] = RgbImage{s.layout.planes, planes, m.rgb.as<uint8_t>() + rgb_at[first + j], m.scans.status(j)};
    }
    GPUAUG_CUDA_CHECK(cudaMemcpyAsync(m.descriptors.get(), m.descriptors_host.get(), descriptor_bytes,
                                      cudaMemcpyHostToDevice, stream),
                      "device copy");
    enqueue_idct(stream, m.descriptors.as<IdctImage>(), count, most_blocks);
    constexpr int kThreads = 256;
    const size_t grid = std::clamp<size_t>((most_pixels + kThreads * 8 - 1) / (kThreads * 8), 1, 256);
    planes_to_rgb_kernel<<<dim3(unsigned(grid), unsigned(count)), kThreads, 0, stream>>>(
        reinterpret_cast<const RgbImage*>(m.descriptors.as<uint8_t>() + kGroup * sizeof(IdctImage)));
    GPUAUG_CUDA_CHECK(cudaGetLastError(), "decode kernel");
    GPUAUG_CUDA_CHECK(cudaMemcpyAsync(statuses, m.scans.status(0), 8 * count, cudaMemcpyDeviceToHost, stream),
                      "device copy");
    // The next group reuses the descriptors and the decoder's scratch.
    m.done.record(stream);
    m.done.synchronize();
    for (size_t j = 0; j < count; ++j) {
      if (statuses[2 * j + 1] != 0) continue;
      const codec::JpegScan& s = scans[first + j].scan;
      out[first + j] = codec::GpuDecoded{m.rgb.as<uint8_t>() + rgb_at[first + j], s.layout.planes.width,
                                         s.layout.planes.height, 0, 0};
    }
  }
  return out;
}

}  // namespace gpuaug::plan
