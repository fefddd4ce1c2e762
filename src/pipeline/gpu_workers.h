// GpuWorkers: one worker per listed GPU (a GPU listed twice gets two), each owning its executor
// and nvJPEG decoder and running on a thread of its own, so that the GPUs of one process work side
// by side and share the CPU decode pool. Jobs hand them work in chunks on demand
// (dist::ChunkQueue): a slow GPU takes fewer.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "codec/nvjpeg_decoder.h"
#include "core/device.h"
#include "plan/cuda_executor.h"
#include "plan/gpu_jpeg_decoder.h"

namespace gpuaug::pipeline {

struct GpuWorker {
  size_t index = 0;  // its place in GpuWorkers (for per-worker state a job keeps)
  Device device;
  std::string name;  // "cuda:0"; "cuda:0#2" for the second worker on cuda:0
  std::unique_ptr<plan::CudaExecutor> executor;
  std::unique_ptr<codec::NvjpegDecoder> nvjpeg;  // null without nvJPEG (not built or not wanted)
  std::unique_ptr<plan::GpuJpegDecoder> exact;   // gpuaug's own JPEG decoder; null where not wanted
  size_t items = 0;  // work it did, for the summary's shares (its own thread writes it)
};

// Who did how much of a job: a worker's name and its items.
struct WorkerShare {
  std::string worker;
  size_t items = 0;
};

class GpuWorkers {
 public:
  // Starts every worker's executor (and nvJPEG with `with_nvjpeg` where it is built) at once:
  // each takes about a second. Errors (no such GPU) name the device. `per_gpu` workers for each
  // listed device: jobs whose workers run each batch's host and GPU work in turn ask for two, so
  // one's decoding and writing overlap the other's kernels.
  // `with_exact` starts each worker's GpuJpegDecoder too (decode.exact_share).
  GpuWorkers(const std::vector<Device>& devices, bool with_nvjpeg, int per_gpu = 1, bool with_exact = false);
  ~GpuWorkers();
  GpuWorkers(const GpuWorkers&) = delete;
  GpuWorkers& operator=(const GpuWorkers&) = delete;

  size_t size() const { return workers_.size(); }
  GpuWorker& operator[](size_t i) { return *workers_[i]; }

  // Runs work(worker) on one thread per worker at once and returns when all have returned. The
  // first exception is rethrown then; the others see failed() and should stop at their next
  // chunk.
  void run(const std::function<void(GpuWorker&)>& work);
  bool failed() const { return failed_.load(); }

  std::vector<WorkerShare> shares() const;

 private:
  std::vector<std::unique_ptr<GpuWorker>> workers_;
  std::atomic<bool> failed_{false};
};

}  // namespace gpuaug::pipeline
