// GpuWorkers: executors started in parallel, work run on a thread per worker.
#include "pipeline/gpu_workers.h"

#include <algorithm>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace gpuaug::pipeline {

namespace {

// Runs fn(i) for each i on a thread of its own; rethrows the first exception after all end.
void on_threads(size_t n, const std::function<void(size_t)>& fn) {
  std::vector<std::thread> threads;
  std::exception_ptr first;
  std::mutex mutex;
  for (size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!first) first = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace

GpuWorkers::GpuWorkers(const std::vector<Device>& devices, bool with_nvjpeg, int per_gpu, bool with_exact) {
  std::map<int, int> seen;
  for (const Device& d : devices) {
    if (!d.cuda) throw Error("", "device", "GPU workers need cuda devices, not cpu");
    for (int copy = 0; copy < std::max(per_gpu, 1); ++copy) {
      auto worker = std::make_unique<GpuWorker>();
      worker->index = workers_.size();
      worker->device = d;
      const int k = ++seen[d.index];
      worker->name = d.name() + (k > 1 ? "#" + std::to_string(k) : "");
      workers_.push_back(std::move(worker));
    }
  }
  on_threads(workers_.size(), [&](size_t i) {
    GpuWorker& w = *workers_[i];
    w.executor = std::make_unique<plan::CudaExecutor>(w.device.index);
    if (with_nvjpeg && codec::NvjpegDecoder::built()) w.nvjpeg = std::make_unique<codec::NvjpegDecoder>(w.device.index);
    if (with_exact) w.exact = std::make_unique<plan::GpuJpegDecoder>(w.device.index);
  });
}

GpuWorkers::~GpuWorkers() = default;

void GpuWorkers::run(const std::function<void(GpuWorker&)>& work) {
  failed_ = false;
  on_threads(workers_.size(), [&](size_t i) {
    try {
      work(*workers_[i]);
    } catch (...) {
      failed_ = true;
      throw;
    }
  });
}

std::vector<WorkerShare> GpuWorkers::shares() const {
  std::vector<WorkerShare> out;
  for (const auto& w : workers_) out.push_back({w->name, w->items});
  return out;
}

}  // namespace gpuaug::pipeline
