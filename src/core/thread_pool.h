// ThreadPool: a fixed set of workers running index ranges; results land by index, so the
// order of execution never shows in the output.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gpuaug {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(i) for i in [0, n) on the workers and the calling thread; returns when all are
  // done. The first exception thrown by any fn is rethrown here after the rest finish. Called
  // from inside one of this pool's items, it runs the n items inline on that thread.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

 private:
  void worker_loop();
  void run_items();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t job_size_ = 0;
  size_t next_ = 0;
  size_t finished_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

// CPUs this process may use (its affinity mask), and CPUs of the machine.
int hardware_threads();
int machine_threads();

}  // namespace gpuaug
