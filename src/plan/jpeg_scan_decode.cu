// The chunked Huffman decoder's kernels (one thread a chunk, or an image, running the passes of
// codec/jpeg_huffman.h) and the IDCT kernel (one thread an 8x8 block).
#include "plan/jpeg_scan_decode.h"

#include <algorithm>
#include <bit>
#include <string>

#include "core/cuda_check.h"
#include "core/error.h"

namespace gpuaug::plan {

namespace {

// A scan of the batch: its scratch, and where its chunks start among the launch's.
struct EntropyImage {
  codec::ScanWork work;
  uint32_t first_chunk = 0;
};

// Thread t's chunk: the batch's chunks one after the other, scan by scan.
struct ChunkOf {
  const EntropyImage* images;
  const uint8_t* chunk_image;  // the scan of each chunk
  uint32_t chunks;
  __device__ bool find(const codec::ScanWork*& work, uint32_t& chunk) const {
    const uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= chunks) return false;
    const EntropyImage& image = images[chunk_image[t]];
    work = &image.work, chunk = t - image.first_chunk;
    return true;
  }
};

__global__ void scout_kernel(ChunkOf of) {
  const codec::ScanWork* w;
  uint32_t chunk;
  if (of.find(w, chunk)) codec::scout_chunk(*w, chunk);
}

__global__ void sync_kernel(ChunkOf of, int pass) {
  const codec::ScanWork* w;
  uint32_t chunk;
  if (of.find(w, chunk)) codec::sync_chunk(*w, chunk, pass);
}

__global__ void write_kernel(ChunkOf of) {
  const codec::ScanWork* w;
  uint32_t chunk;
  if (of.find(w, chunk)) codec::write_chunk(*w, chunk);
}

__global__ void finish_dc_kernel(ChunkOf of) {
  const codec::ScanWork* w;
  uint32_t chunk;
  if (of.find(w, chunk)) codec::finish_dc(*w, chunk);
}

__global__ void resolve_kernel(const EntropyImage* images, unsigned count) {
  if (const unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < count) codec::resolve_chunks(images[i].work);
}

__global__ void carry_dc_kernel(const EntropyImage* images, unsigned count) {
  if (const unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < count) codec::carry_dc(images[i].work);
}

// Image blockIdx.y's blocks, components one after the other: a block's IDCT is a few hundred
// instructions, far less than copying its 128 bytes up.
__global__ void idct_kernel(const IdctImage* __restrict__ images) {
  const IdctImage& image = images[blockIdx.y];
  if (declined(image.status)) return;
  for (unsigned b = blockIdx.x * blockDim.x + threadIdx.x; b < image.blocks; b += gridDim.x * blockDim.x) {
    unsigned rest = b;
    int c = 0;
    for (; c < image.layout.planes.components; ++c) {
      const unsigned here = unsigned(image.layout.blocks_wide[c]) * unsigned(image.layout.blocks_high[c]);
      if (rest < here) break;
      rest -= here;
    }
    const unsigned wide = unsigned(image.layout.blocks_wide[c]);
    codec::idct_block(image.layout, image.coefficients, image.planes, c, int(rest % wide), int(rest / wide));
  }
}

size_t rounded_256(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

void ScanDecoding::enqueue(cudaStream_t stream, std::span<const DeviceScan> scans) {
  if (scans.empty()) return;
  if (scans.size() > kMaxScans)
    throw Error("", "decode kernel", "internal: " + std::to_string(scans.size()) + " scans in one batch, at most " +
                                         std::to_string(kMaxScans));
  size_t chunks = 0, diffs = 0;
  for (const DeviceScan& s : scans) {
    chunks += s.scan.chunks();
    diffs += rounded_256(size_t(s.scan.total_blocks) * sizeof(int16_t));
  }
  size_t bytes = 0;
  auto carve = [&](size_t n) {
    const size_t at = bytes;
    bytes += rounded_256(n);
    return at;
  };
  const size_t ends_at[2] = {carve(8 * chunks), carve(8 * chunks)}, starts_at = carve(8 * chunks),
               carry_at = carve(24 * chunks), blocks_at = carve(4 * chunks), first_block_at = carve(4 * chunks),
               sums_at = carve(12 * chunks), owner_at = carve(chunks), diffs_at = carve(diffs),
               status_at = carve(8 * kMaxScans);
  scratch_.reserve(bytes, stream);
  descriptors_.reserve(kMaxScans * sizeof(EntropyImage), stream);
  host_.reserve(std::bit_ceil(kMaxScans * sizeof(EntropyImage) + chunks));  // slow to allocate: few sizes
  status_at_ = status_at;
  auto* base = scratch_.as<uint8_t>();
  auto* images = host_.as<EntropyImage>();
  auto* owner = host_.as<uint8_t>() + kMaxScans * sizeof(EntropyImage);
  size_t chunk = 0, diff = 0;
  for (size_t s = 0; s < scans.size(); ++s) {
    const codec::JpegScan& scan = scans[s].scan;
    codec::ScanWork& w = images[s].work;
    w = codec::ScanWork{};
    w.buffer = scans[s].buffer;
    w.coefficients = scans[s].coefficients;
    w.dc_diffs = reinterpret_cast<int16_t*>(base + diffs_at + diff);
    for (int e = 0; e < 2; ++e) w.ends[e] = reinterpret_cast<uint64_t*>(base + ends_at[e]) + chunk;
    w.starts = reinterpret_cast<uint64_t*>(base + starts_at) + chunk;
    w.blocks = reinterpret_cast<uint32_t*>(base + blocks_at) + chunk;
    w.first_block = reinterpret_cast<uint32_t*>(base + first_block_at) + chunk;
    w.dc_sums = reinterpret_cast<int32_t*>(base + sums_at) + 3 * chunk;
    w.dc_carry = reinterpret_cast<int64_t*>(base + carry_at) + 3 * chunk;
    w.status = reinterpret_cast<uint32_t*>(base + status_at) + 2 * s;
    w.scan = scan;
    images[s].first_chunk = uint32_t(chunk);
    for (uint32_t n = 0; n < scan.chunks(); ++n) owner[chunk + n] = uint8_t(s);
    chunk += scan.chunks();
    diff += rounded_256(size_t(scan.total_blocks) * sizeof(int16_t));
  }
  GPUAUG_CUDA_CHECK(cudaMemsetAsync(base + status_at, 0, 8 * kMaxScans, stream), "device");
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(descriptors_.get(), images, scans.size() * sizeof(EntropyImage),
                                    cudaMemcpyHostToDevice, stream),
                    "device copy");
  GPUAUG_CUDA_CHECK(cudaMemcpyAsync(base + owner_at, owner, chunks, cudaMemcpyHostToDevice, stream), "device copy");
  const ChunkOf of{descriptors_.as<EntropyImage>(), base + owner_at, uint32_t(chunks)};
  constexpr int kThreads = 128;
  const unsigned grid = unsigned((chunks + kThreads - 1) / kThreads);
  const unsigned image_grid = unsigned((scans.size() + kThreads - 1) / kThreads);
  scout_kernel<<<grid, kThreads, 0, stream>>>(of);
  for (int pass = 0; pass < codec::kSyncPasses; ++pass) sync_kernel<<<grid, kThreads, 0, stream>>>(of, pass);
  resolve_kernel<<<image_grid, kThreads, 0, stream>>>(descriptors_.as<EntropyImage>(), unsigned(scans.size()));
  write_kernel<<<grid, kThreads, 0, stream>>>(of);
  carry_dc_kernel<<<image_grid, kThreads, 0, stream>>>(descriptors_.as<EntropyImage>(), unsigned(scans.size()));
  finish_dc_kernel<<<grid, kThreads, 0, stream>>>(of);
  GPUAUG_CUDA_CHECK(cudaGetLastError(), "decode kernel");
}

const uint32_t* ScanDecoding::status(size_t i) const {
  return reinterpret_cast<const uint32_t*>(scratch_.as<uint8_t>() + status_at_) + 2 * i;
}

void enqueue_idct(cudaStream_t stream, const IdctImage* images, size_t count, size_t most_blocks) {
  if (count == 0) return;
  constexpr int kThreads = 256;
  const size_t grid = std::clamp<size_t>((most_blocks + kThreads - 1) / kThreads, 1, 1024);
  idct_kernel<<<dim3(unsigned(grid), unsigned(count)), kThreads, 0, stream>>>(images);
  GPUAUG_CUDA_CHECK(cudaGetLastError(), "decode kernel");
}

}  // namespace gpuaug::plan
