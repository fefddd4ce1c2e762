// GpuPixelStats kernel: grid-stride over the pixels, histograms in shared memory, sums per thread
// reduced across the warp, then one atomic per warp (sums) and per bin and block (histograms).
#include "plan/pixel_stats.h"

#include "plan/jpeg_scan_decode.h"

#include <algorithm>
#include <bit>
#include <string>

#include "core/cuda_check.h"
#include "core/cuda_memory.h"
#include "core/error.h"

namespace gpuaug::plan {

namespace {

constexpr int kSums = 9;  // 3 sums, 6 products
constexpr int kTotals = kSums + 3 * 256;
constexpr int kThreads = 256;

// Adds pixels first, first + stride, ... (rgb_at(i, r, g, b) gives pixel i) into `totals` (kSums
// sums, then 3 x 256 bins).
template <class RgbAt>
__device__ void measure_pixels(const RgbAt& rgb_at, size_t pixels, size_t first, size_t stride,
                               unsigned long long* __restrict__ totals) {
  __shared__ unsigned int histogram[3 * 256];
  for (int i = threadIdx.x; i < 3 * 256; i += blockDim.x) histogram[i] = 0;
  __syncthreads();
  unsigned long long s[kSums] = {};
  for (size_t i = first; i < pixels; i += stride) {
    unsigned r, g, b;
    rgb_at(i, r, g, b);
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

struct InterleavedRgb {
  const uint8_t* __restrict__ rgb;
  __device__ void operator()(size_t i, unsigned& r, unsigned& g, unsigned& b) const {
    r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
  }
};

// An image's pixels are fewer than 2^32 (kDefaultMaxPixels and any max_pixels a decoder takes).
struct FinishedPlanes {
  codec::JpegPlanes planes;
  const uint8_t* base;
  __device__ void operator()(size_t i, unsigned& r, unsigned& g, unsigned& b) const {
    const unsigned pixel = unsigned(i), width = unsigned(planes.width);
    int rgb[3];
    codec::jpeg_planes_rgb(planes, base, int(pixel % width), int(pixel / width), rgb);
    r = unsigned(rgb[0]), g = unsigned(rgb[1]), b = unsigned(rgb[2]);
  }
};

__global__ void pixel_stats_kernel(const uint8_t* __restrict__ rgb, size_t pixels,
                                   unsigned long long* __restrict__ totals) {
  measure_pixels(InterleavedRgb{rgb}, pixels, size_t(blockIdx.x) * blockDim.x + threadIdx.x,
                 size_t(gridDim.x) * blockDim.x, totals);
}

// Where one of measure()'s images lies on the device (its staging copy, or for coefficients the
// planes their IDCT wrote), and how it is laid out.
struct MeasuredImage {
  const uint8_t* data = nullptr;
  unsigned long long pixels = 0;
  codec::JpegPlanes planes{};  // components 0: interleaved RGB
  const uint32_t* status = nullptr;  // of a scan's Huffman decode: skipped where declined
};

// Image blockIdx.y into its own totals.
__global__ void pixel_stats_batch_kernel(const MeasuredImage* __restrict__ images,
                                         unsigned long long* __restrict__ totals) {
  const MeasuredImage& image = images[blockIdx.y];
  if (declined(image.status)) return;
  const size_t first = size_t(blockIdx.x) * blockDim.x + threadIdx.x, stride = size_t(gridDim.x) * blockDim.x;
  unsigned long long* own = totals + size_t(blockIdx.y) * kTotals;
  if (image.planes.components == 0)
    measure_pixels(InterleavedRgb{image.data}, image.pixels, first, stride, own);
  else
    measure_pixels(FinishedPlanes{image.planes, image.data}, image.pixels, first, stride, own);
}

size_t rounded_256(size_t bytes) { return (bytes + 255) / 256 * 256; }

PixelTotals unpack_totals(const unsigned long long* t, uint64_t pixels) {
  PixelTotals out;
  out.pixels = pixels;
  for (int k = 0; k < 3; ++k) out.sum[k] = t[k];
  for (int k = 0; k < 6; ++k) out.products[k] = t[3 + k];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) out.histogram[c][v] = t[kSums + c * 256 + v];
  return out;
}

}  // namespace

struct GpuPixelStats::Impl {
  int device = 0;
  int blocks_per_image = 0;
  CudaStream stream;
  DeviceBuffer totals;
  PinnedBuffer host;
  uint64_t pixels = 0;
  // measure()'s images, the planes of those given as coefficients, their places and totals;
  // its wait sleeps, leaving the core to the CPU's decoders.
  DeviceBuffer staging, idct_planes, measured_totals, descriptors, idct_descriptors;
  PinnedBuffer measured_host, descriptors_host, idct_descriptors_host;
  // The scans': the coefficients they decode into, and the decoder's scratch.
  DeviceBuffer scan_coefficients;
  ScanDecoding scans;
  CudaEvent measured{cudaEventBlockingSync | cudaEventDisableTiming};
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
  const uint64_t pixels = impl_->pixels;
  impl_->pixels = 0;
  return unpack_totals(static_cast<const unsigned long long*>(impl_->host.get()), pixels);
}

std::vector<PixelTotals> GpuPixelStats::measure(std::span<const HostPixels> images) {
  if (images.size() > kMaxMeasured)
    throw Error("", "stats kernel",
                "internal: " + std::to_string(images.size()) + " images in one measure, at most " +
                    std::to_string(kMaxMeasured));
  static_assert(kMaxMeasured <= ScanDecoding::kMaxScans);
  std::vector<PixelTotals> out(images.size());
  if (images.empty()) return out;
  GPUAUG_CUDA_CHECK(cudaSetDevice(impl_->device), "device");
  cudaStream_t stream = impl_->stream.get();
  Impl& m = *impl_;
  // Offsets first, then (once the buffers stand) the device addresses: each image's staging copy;
  // the planes of those given as coefficients or scans; the coefficients the scans decode into.
  std::vector<size_t> staged(images.size()), planes_at(images.size()), coefficients_at(images.size());
  size_t bytes = 0, planes_bytes = 0, coefficient_bytes = 0, most_pixels = 0, idct_count = 0, most_blocks = 0;
  size_t scan_count = 0;
  for (size_t k = 0; k < images.size(); ++k) {
    staged[k] = bytes;
    bytes += rounded_256(images[k].bytes());
    most_pixels = std::max(most_pixels, images[k].pixels);
    const codec::JpegScan& scan = images[k].scan;
    const codec::JpegCoefficients& c = scan.layout.planes.components > 0 ? scan.layout : images[k].coefficients;
    if (c.planes.components > 0) {
      planes_at[k] = planes_bytes;
      planes_bytes += rounded_256(c.planes.bytes);
      ++idct_count;
    }
    if (scan.layout.planes.components > 0) {
      ++scan_count;
      coefficients_at[k] = coefficient_bytes;
      coefficient_bytes += rounded_256(scan.layout.bytes);
    }
  }
  const size_t totals_bytes = images.size() * kTotals * sizeof(unsigned long long);
  m.staging.reserve(bytes, stream);
  m.idct_planes.reserve(planes_bytes, stream);
  m.measured_totals.reserve(totals_bytes, stream);
  m.descriptors.reserve(kMaxMeasured * sizeof(MeasuredImage), stream);
  m.idct_descriptors.reserve(kMaxMeasured * sizeof(IdctImage), stream);
  m.measured_host.reserve(std::bit_ceil(totals_bytes + 8 * kMaxMeasured));  // slow to allocate: few sizes
  m.descriptors_host.reserve(kMaxMeasured * sizeof(MeasuredImage));
  m.idct_descriptors_host.reserve(kMaxMeasured * sizeof(IdctImage));
  m.scan_coefficients.reserve(coefficient_bytes, stream);
  auto* staging = m.staging.as<uint8_t>();
  for (size_t k = 0; k < images.size(); ++k)
    if (images[k].bytes())
      GPUAUG_CUDA_CHECK(cudaMemcpyAsync(staging + staged[k], images[k].data, images[k].bytes(),
                                        cudaMemcpyHostToDevice, stream),
                        "device copy");
  // The scans' Huffman decoding, before the descriptors that point at its status words.
  std::vector<DeviceScan> scans;
  for (size_t k = 0; k < images.size(); ++k)
    if (images[k].scan.layout.planes.components > 0)
      scans.push_back({images[k].scan, staging + staged[k], m.scan_coefficients.as<uint8_t>() + coefficients_at[k]});
  if (!scans.empty()) {
    GPUAUG_CUDA_CHECK(cudaMemsetAsync(m.scan_coefficients.get(), 0, coefficient_bytes, stream), "device");
    m.scans.enqueue(stream, scans);
  }
  auto* where = m.descriptors_host.as<MeasuredImage>();
  auto* idct = m.idct_descriptors_host.as<IdctImage>();
  size_t i = 0;
  for (size_t k = 0, s = 0; k < images.size(); ++k) {
    const codec::JpegScan& scan = images[k].scan;
    const bool is_scan = scan.layout.planes.components > 0;
    const codec::JpegCoefficients& c = is_scan ? scan.layout : images[k].coefficients;
    const uint32_t* status = is_scan ? m.scans.status(s++) : nullptr;
    if (c.planes.components > 0) {
      uint8_t* planes = m.idct_planes.as<uint8_t>() + planes_at[k];
      unsigned blocks = 0;
      for (int ci = 0; ci < c.planes.components; ++ci)
        blocks += unsigned(c.blocks_wide[ci]) * unsigned(c.blocks_high[ci]);
      const uint8_t* coefficients = is_scan ? m.scan_coefficients.as<uint8_t>() + coefficients_at[k] : staging + staged[k];
      idct[i++] = IdctImage{coefficients, planes, c, blocks, status};
      most_blocks = std::max<size_t>(most_blocks, blocks);
      where[k] = MeasuredImage{planes, images[k].pixels, c.planes, status};
    } else {
      where[k] = MeasuredImage{staging + staged[k], images[k].pixels, images[k].planes, nullptr};
    }
  }
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(m.descriptors.get(), where, images.size() * sizeof(MeasuredImage),
                                    cudaMemcpyHostToDevice, stream),
                    "device copy");
  if (idct_count > 0) {
    GPUAUG_CUDA_CHECK(cudaMemcpyAsync(m.idct_descriptors.get(), idct, idct_count * sizeof(IdctImage),
                                      cudaMemcpyHostToDevice, stream),
                      "device copy");
    enqueue_idct(stream, m.idct_descriptors.as<IdctImage>(), idct_count, most_blocks);
  }
  GPUAUG_CUDA_CHECK(cudaMemsetAsync(m.measured_totals.get(), 0, totals_bytes, stream), "device");
  // Enough blocks an image to fill the GPU with a batch of a few dozen, each thread some dozens
  // of pixels (every block ends with 768 atomics of its histogram).
  const size_t per_image_cap = std::max<size_t>(1, 2 * size_t(m.blocks_per_image) / images.size());
  const size_t blocks = std::clamp<size_t>((most_pixels + kThreads * 16 - 1) / (kThreads * 16), 1, per_image_cap);
  pixel_stats_batch_kernel<<<dim3(unsigned(blocks), unsigned(images.size())), kThreads, 0, stream>>>(
      m.descriptors.as<MeasuredImage>(), m.measured_totals.as<unsigned long long>());
  GPUAUG_CUDA_CHECK(cudaGetLastError(), "stats kernel");
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(m.measured_host.get(), m.measured_totals.get(), totals_bytes,
                                    cudaMemcpyDeviceToHost, stream),
                    "device copy");
  auto* statuses = reinterpret_cast<uint32_t*>(m.measured_host.as<uint8_t>() + totals_bytes);
  if (scan_count > 0)  // the scans' status words lie one after the other
    GPUAUG_CUDA_CHECK(cudaMemcpyAsync(statuses, m.scans.status(0), 8 * scan_count, cudaMemcpyDeviceToHost, stream),
                      "device copy");
  m.measured.record(stream);
  m.measured.synchronize();
  const auto* t = static_cast<const unsigned long long*>(m.measured_host.get());
  for (size_t k = 0, s = 0; k < images.size(); ++k) {
    out[k] = unpack_totals(t + k * kTotals, images[k].pixels);
    if (images[k].scan.layout.planes.components > 0 && statuses[2 * s++ + 1] != 0) {
      out[k] = PixelTotals{};
      out[k].declined = true;
    }
  }
  return out;
}

struct PinnedSlots::Slot {
  PinnedBuffer memory;
};

PinnedSlots::PinnedSlots(int device, size_t count, size_t budget_bytes) : device_(device), budget_(budget_bytes) {
  for (size_t k = 0; k < count; ++k) {
    slots_.push_back(std::make_unique<Slot>());
    free_.push_back(count - 1 - k);
  }
}

PinnedSlots::~PinnedSlots() = default;

std::optional<size_t> PinnedSlots::try_acquire(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + (size_t(1) << 18) - 1) >> 18 << 18;
  size_t slot = 0, old_size = 0;
  {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return std::nullopt;
    // The smallest free slot that holds it; else the largest, grown, if the budget allows.
    size_t best = free_.size();
    for (size_t k = 0; k < free_.size(); ++k) {
      const size_t size = slots_[free_[k]]->memory.size();
      if (size >= bytes && (best == free_.size() || size < slots_[free_[best]]->memory.size())) best = k;
    }
    if (best == free_.size()) {
      best = 0;
      for (size_t k = 1; k < free_.size(); ++k)
        if (slots_[free_[k]]->memory.size() > slots_[free_[best]]->memory.size()) best = k;
      old_size = slots_[free_[best]]->memory.size();
      if (allocated_ - old_size + rounded > budget_) return std::nullopt;
      allocated_ = allocated_ - old_size + rounded;
    }
    slot = free_[best];
    free_.erase(free_.begin() + ptrdiff_t(best));
  }
  if (slots_[slot]->memory.size() >= bytes) return slot;
  try {
    GPUAUG_CUDA_CHECK(cudaSetDevice(device_), "device");
    slots_[slot]->memory.reserve(rounded);
    return slot;
  } catch (const Error&) {
    std::lock_guard lock(mutex_);
    allocated_ = allocated_ - rounded + slots_[slot]->memory.size();
    free_.push_back(slot);
    return std::nullopt;
  }
}

uint8_t* PinnedSlots::data(size_t slot) const { return slots_[slot]->memory.as<uint8_t>(); }

void PinnedSlots::release(size_t slot) {
  std::lock_guard lock(mutex_);
  free_.push_back(slot);
}

}  // namespace gpuaug::plan
