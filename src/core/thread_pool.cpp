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

void ThreadPool::run_item(Job& job, size_t index, std::unique_lock<std::mutex>& lock) {
  if (++job.next == job.size) std::erase(queue_, &job);
  const bool failed = job.error != nullptr;
  lock.unlock();
  std::exception_ptr error;
  try {
    const ThreadPool* outer = t_running_pool;
    t_running_pool = this;
    struct Restore {
      const ThreadPool* outer;
      ~Restore() { t_running_pool = outer; }
    } restore{outer};
    if (!failed) (*job.fn)(index);
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  if (error && !job.error) job.error = error;
  if (++job.finished == job.size) done_.notify_all();
}

void ThreadPool::worker_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job& job = *queue_.front();
    run_item(job, job.next, lock);
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (t_running_pool == this) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.size = n;
  std::unique_lock lock(mutex_);
  queue_.push_back(&job);
  if (n > 1) wake_.notify_all();  // one item: the caller takes it
  while (job.next < job.size) run_item(job, job.next, lock);
  done_.wait(lock, [&] { return job.finished == job.size; });
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace gpuaug
