// ThreadPool: a fixed set of workers running index ranges; results land by index, so the
// order of execution never shows in the output.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
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
  // Several threads may call it at once (one per GPU sharing one decode pool): their jobs
  // queue, the workers take items of the oldest job with items left, and each caller runs
  // items of its own job only, so none waits on another's item.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

 private:
  struct Job {
    const std::function<void(size_t)>* fn = nullptr;
    size_t size = 0;
    size_t next = 0;      // next index to hand out
    size_t finished = 0;  // indices done (run, or skipped after a failure)
    std::exception_ptr error;
  };
  void worker_loop();
  // Runs one item of `job` (taken under the lock by the caller of this); returns with the lock
  // held again.
  void run_item(Job& job, size_t index, std::unique_lock<std::mutex>& lock);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::deque<Job*> queue_;  // jobs with indices left to hand out, oldest first
  bool stopping_ = false;
};

// CPUs this process may use (its affinity mask), and CPUs of the machine.
int hardware_threads();
int machine_threads();

}  // namespace gpuaug
