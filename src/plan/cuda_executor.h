// CudaExecutor: runs a batch of sample plans on one GPU — one fused kernel for the batch
// (resampling, pixel program, cast, layout) calling the same per-pixel code as the CPU path,
// plus reduction and blur kernels for the steps that cannot fold. Builds without CUDA give
// an executor whose construction throws a clear error.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "ops/fold.h"
#include "plan/plan.h"

namespace gpuaug::plan {

// One output sample: its plan (geometry already in decoded-image coordinates), its source and
// who it is (for per-pixel noise).
struct SampleJob {
  const ops::FoldResult* fold = nullptr;
  const Image* source = nullptr;  // 8-bit RGB on the host; or
  int source_index = -1;          // an image of upload_sources; or
  PixelStreamId stream{};
  // RGB already in this GPU's memory, packed (nvJPEG output; images handed over in GPU memory):
  // 8-bit, or float32 on the [0, 1] scale when fold->float_source.
  const uint8_t* device_source = nullptr;
  int device_width = 0;
  int device_height = 0;
  // Or a host view that holds a region of a larger decoded image (a tile's source region).
  SourceView source_view{};
  // Output pixels to compute, in the whole output's pixels; width 0: all of them. As
  // execute_cpu_window: the same bytes as those pixels of the whole output.
  codec::Rect window{};
};

// A batch left on the device: one buffer, samples at byte offsets. `uniform` when every
// sample has the same shape, so the buffer is one N x C x H x W (or N x H x W x C) tensor.
struct DeviceBatch {
  void* data = nullptr;  // valid until a later submit reuses its buffers (CudaExecutor::submit)
  size_t bytes = 0;
  DType dtype = DType::kUInt8;
  Layout layout = Layout::kCHW;
  std::vector<size_t> offsets;
  std::vector<std::array<int, 3>> shapes;  // (channels, height, width) per sample (its window's)
  bool uniform = true;
  int device = 0;
};

bool cuda_device_available();

// Device memory that batches are written into and then handed to a consumer (a DLPack tensor
// in Python): a block goes back to the free list when the last owner drops it and is reused
// for a later batch, so a loader's GPU memory stays flat. Blocks keep the list alive, so they
// may outlive it and the executor.
class DeviceSlots {
 public:
  explicit DeviceSlots(int device);
  ~DeviceSlots();
  DeviceSlots(const DeviceSlots&) = delete;
  DeviceSlots& operator=(const DeviceSlots&) = delete;
  // At least `bytes` of device memory (.get() is its address), from the free list when one
  // there is large enough. Free blocks beyond the few most recent are released.
  std::shared_ptr<void> take(size_t bytes);
  size_t blocks() const;  // blocks made so far, in use or free

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Where a run writes its samples instead of the executor's own buffer: `bytes` at `data` (a
// DeviceSlots block), samples packed one after another with no padding, so that N samples of
// one shape are one (N, C, H, W) or (N, H, W, C) tensor. The samples must share shape and
// dtype (Error, stage "batch", otherwise).
struct OutputTarget {
  void* data = nullptr;
  size_t bytes = 0;
};

class CudaExecutor {
 public:
  explicit CudaExecutor(int device = 0);
  ~CudaExecutor();
  CudaExecutor(const CudaExecutor&) = delete;
  CudaExecutor& operator=(const CudaExecutor&) = delete;

  int device() const;

  // Sources kept on the device for jobs that name them by source_index (augment-only runs).
  void upload_sources(std::span<const Image* const> images);

  // Runs a batch (submit, then wait); the result stays on the device until the next run or
  // submit. With `pool`, the host sources are copied into the pinned staging buffer on its
  // threads (one thread copying a batch's CPU-decoded images held the GPU back).
  const DeviceBatch& run(std::span<const SampleJob> jobs, Layout layout, const OutputTarget* target = nullptr,
                         ThreadPool* pool = nullptr);
  // The same in two halves: submit packs, uploads and launches a batch and returns; wait blocks
  // until every batch submitted is done. Two batches may be in flight, in two sets of buffers:
  // while the latest batch runs, a submit takes the other set and waits only for the batch
  // before it, so the host packs and queues a batch while the GPU runs the one before; once the
  // latest is waited for, a submit reuses its set. The jobs and their host sources may go once
  // submit returns (they are copied); their device sources and the target must stay until wait
  // returns. The DeviceBatch returned stays valid until a submit reuses its set: the one after
  // next, or the next one if the batch was waited for before it.
  const DeviceBatch& submit(std::span<const SampleJob> jobs, Layout layout, const OutputTarget* target = nullptr,
                            ThreadPool* pool = nullptr);
  void wait();
  // Runs and copies each sample back into a host tensor.
  std::vector<Tensor> run_to_host(std::span<const SampleJob> jobs, Layout layout, ThreadPool* pool = nullptr);

  // Device time of the kernels of the latest batch waited for, and of every batch waited for
  // so far, in milliseconds (CUDA events), for benchmarks.
  float last_kernel_ms() const;
  double total_kernel_ms() const;

  // How the latest batch waited for resampled: which kernel, and for the tiles kernel how many
  // tiles ran its fast path or went pixel by pixel, and how many samples ran their pixel
  // program as a level table. For tests and diagnostics.
  struct ResampleReport {
    std::string kernel;  // "tiles", "strips" or "pixels"
    size_t tiles = 0, tiles_pixel_by_pixel = 0, tabled_samples = 0;
    size_t level_tables = 0;  // tables built: runs of tabled samples with the same program share one
  };
  const ResampleReport& last_resample() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpuaug::plan
