// ThreadPool: dynamic hand-out of indices under one mutex (work items are whole images, so
// the lock is never the bottleneck).
#include "core/thread_pool.h"

#include <algorithm>

#ifdef __linux__
#include <sched.h>
#endif

namespace gpuaug {

namespace {
// The pool whose item this thread is running, so that a nested parallel_for on the same pool
// runs inline instead of clobbering the running job (and waiting on itself).
thread_local const ThreadPool* t_running_pool = nullptr;
}  // namespace

int hardware_threads() {
#ifdef __linux__
  // The CPUs this process may run on: fewer than the machine's under taskset, a cgroup cpuset,
  // or a launcher that binds each rank (mpirun binds to a core or socket by default).
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

int machine_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

ThreadPool::ThreadPool(int threads) {
  const int count = threads <= 0 ? hardware_threads() : threads;
  for (int i = 1; i < count; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_items() {
  for (;;) {
    size_t index;
    const std::function<void(size_t)>* job;
    bool failed;
    {
      std::lock_guard lock(mutex_);
      if (job_ == nullptr || next_ >= job_size_) return;
      index = next_++;
      job = job_;
      failed = error_ != nullptr;
    }
    try {
      const ThreadPool* outer = t_running_pool;
      t_running_pool = this;
      struct Restore {
        const ThreadPool* outer;
        ~Restore() { t_running_pool = outer; }
      } restore{outer};
      if (!failed) (*job)(index);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    if (++finished_ == job_size_) done_.notify_all();
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      ++active_;
    }
    run_items();
    std::lock_guard lock(mutex_);
    if (--active_ == 0) done_.notify_all();
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (t_running_pool == this) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    job_size_ = n;
    next_ = 0;
    finished_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  run_items();
  std::exception_ptr error;
  {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return finished_ == job_size_ && active_ == 0; });
    job_ = nullptr;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace gpuaug
