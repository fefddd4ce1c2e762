// RAII owners for CUDA resources: stream, event, stream-ordered device buffer (cudaMallocAsync
// pool) and pinned host buffer. Nothing else in gpuaug calls cudaMalloc or cudaFree.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <utility>

#include "core/cuda_check.h"

namespace gpuaug {

class CudaStream {
 public:
  CudaStream() { GPUAUG_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "device"); }
  ~CudaStream() { if (stream_) cudaStreamDestroy(stream_); }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const { GPUAUG_CUDA_CHECK(cudaStreamSynchronize(stream_), "device"); }

 private:
  cudaStream_t stream_ = nullptr;
};

class CudaEvent {
 public:
  // cudaEventBlockingSync in `flags`: synchronize() sleeps instead of spinning a core.
  explicit CudaEvent(unsigned flags = cudaEventDefault) {
    GPUAUG_CUDA_CHECK(cudaEventCreateWithFlags(&event_, flags), "device");
  }
  ~CudaEvent() { if (event_) cudaEventDestroy(event_); }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream) { GPUAUG_CUDA_CHECK(cudaEventRecord(event_, stream), "device"); }
  void synchronize() const { GPUAUG_CUDA_CHECK(cudaEventSynchronize(event_), "device"); }

 private:
  cudaEvent_t event_ = nullptr;
};

// Device memory from the stream-ordered pool; grows only, and to a power of two (at least
// 1 MiB), so a workload whose need wanders (region sizes, the nvJPEG share of a batch) stops
// reallocating after its first batches and the memory in use stays flat over long runs.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(ptr_, other.ptr_);
    std::swap(size_, other.size_);
    std::swap(stream_, other.stream_);
    return *this;
  }
  void reserve(size_t bytes, cudaStream_t stream) {
    if (bytes <= size_) return;
    release();
    const size_t rounded = std::bit_ceil(std::max<size_t>(bytes, size_t(1) << 20));
    GPUAUG_CUDA_CHECK(cudaMallocAsync(&ptr_, rounded, stream), "device memory");
    size_ = rounded;
    stream_ = stream;
  }
  void* get() const { return ptr_; }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t size() const { return size_; }

 private:
  void release() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
    ptr_ = nullptr;
    size_ = 0;
  }
  void* ptr_ = nullptr;
  size_t size_ = 0;
  cudaStream_t stream_ = nullptr;
};

// Page-locked host memory for staging copies; grows only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { if (ptr_) cudaFreeHost(ptr_); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void reserve(size_t bytes) {
    if (bytes <= size_) return;
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = nullptr;
    size_ = 0;
    GPUAUG_CUDA_CHECK(cudaMallocHost(&ptr_, bytes), "pinned memory");
    size_ = bytes;
  }
  void* get() const { return ptr_; }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t size() const { return size_; }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace gpuaug
