// Communicator implementations: one process, and Open MPI (TCP: dist/tcp_communicator.h).
#include "dist/communicator.h"

#include <chrono>
#include <thread>

#include <cstdlib>
#include <exception>
#include <mutex>

#include <fmt/format.h>

#include "core/error.h"
#include "dist/tcp_communicator.h"

#if GPUAUG_HAVE_MPI
#include <mpi.h>
#endif

namespace gpuaug::dist {

namespace {

class AtomicCounter final : public WorkCounter {
 public:
  uint64_t next() override { return value_.fetch_add(1); }

 private:
  std::atomic<uint64_t> value_{0};
};

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> gather(const std::string& mine) override { return {mine}; }
  void barrier() override {}
  std::string broadcast(const std::string& from_rank0) override { return from_rank0; }
  std::unique_ptr<WorkCounter> work_counter() override { return std::make_unique<AtomicCounter>(); }
  [[noreturn]] void abort_all(int code) override { std::exit(code); }
};

#if GPUAUG_HAVE_MPI
void check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw Error("", "mpi", fmt::format("{}: {}", call, std::string(text, size_t(length))));
}

// MPI is initialized MPI_THREAD_SERIALIZED: workers of several threads (one per GPU) take chunks
// from the counter, never two MPI calls at once (this mutex).
std::mutex g_mpi_mutex;

// Waits without spinning: Open MPI's blocking collectives poll a core flat out, and the ranks that
// wait (for rank 0's part of a job, for the others to finish) would take it from ranks still
// working.
void sleepy_barrier() {
  MPI_Request request;
  {
    std::lock_guard lock(g_mpi_mutex);
    check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
  }
  for (int done = 0;;) {
    {
      std::lock_guard lock(g_mpi_mutex);
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    }
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

class MpiCounter final : public WorkCounter {
 public:
  explicit MpiCounter(int rank) {
    {
      std::lock_guard lock(g_mpi_mutex);
      check(MPI_Win_allocate(rank == 0 ? MPI_Aint(sizeof(uint64_t)) : 0, sizeof(uint64_t), MPI_INFO_NULL,
                             MPI_COMM_WORLD, &base_, &window_),
            "MPI_Win_allocate");
      if (rank == 0) *base_ = 0;
      check(MPI_Win_lock_all(0, window_), "MPI_Win_lock_all");
      if (rank == 0) check(MPI_Win_sync(window_), "MPI_Win_sync");
    }
    sleepy_barrier();  // the counter is 0 before anybody advances it
  }
  ~MpiCounter() override {
    // Unwinding from a failure: the other ranks may wait elsewhere (a gather) and this process
    // ends them (MPI_Abort) next, so waiting for them here would hang.
    if (std::uncaught_exceptions() > unwinding_) return;
    sleepy_barrier();  // MPI_Win_free waits for every rank too, but spinning
    std::lock_guard lock(g_mpi_mutex);
    MPI_Win_unlock_all(window_);
    MPI_Win_free(&window_);
  }
  uint64_t next() override {
    std::lock_guard lock(g_mpi_mutex);
    const uint64_t one = 1;
    uint64_t previous = 0;
    check(MPI_Fetch_and_op(&one, &previous, MPI_UINT64_T, 0, 0, MPI_SUM, window_), "MPI_Fetch_and_op");
    check(MPI_Win_flush(0, window_), "MPI_Win_flush");
    return previous;
  }

 private:
  uint64_t* base_ = nullptr;
  MPI_Win window_ = MPI_WIN_NULL;
  int unwinding_ = std::uncaught_exceptions();
};

class Mpi final : public Communicator {
 public:
  Mpi() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      std::atexit([] {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
      });
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::vector<std::string> gather(const std::string& mine) override {
    std::lock_guard lock(g_mpi_mutex);
    const long long length = static_cast<long long>(mine.size());
    std::vector<long long> lengths(static_cast<size_t>(size_));
    check(MPI_Gather(&length, 1, MPI_LONG_LONG, lengths.data(), 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Gather");
    // Large payloads go in pieces below INT_MAX bytes, one rank at a time.
    std::vector<std::string> all;
    if (rank_ == 0) {
      all.resize(size_t(size_));
      all[0] = mine;
      for (int r = 1; r < size_; ++r) {
        all[size_t(r)].resize(size_t(lengths[size_t(r)]));
        for (long long done = 0; done < lengths[size_t(r)];) {
          const int piece = int(std::min<long long>(lengths[size_t(r)] - done, 1 << 30));
          check(MPI_Recv(all[size_t(r)].data() + done, piece, MPI_CHAR, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                "MPI_Recv");
          done += piece;
        }
      }
    } else {
      for (long long done = 0; done < length;) {
        const int piece = int(std::min<long long>(length - done, 1 << 30));
        check(MPI_Send(mine.data() + done, piece, MPI_CHAR, 0, 7, MPI_COMM_WORLD), "MPI_Send");
        done += piece;
      }
    }
    return all;
  }
  void barrier() override { sleepy_barrier(); }
  std::string broadcast(const std::string& from_rank0) override {
    std::lock_guard lock(g_mpi_mutex);
    long long length = rank_ == 0 ? static_cast<long long>(from_rank0.size()) : 0;
    check(MPI_Bcast(&length, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
    std::string text = rank_ == 0 ? from_rank0 : std::string(size_t(length), '\0');
    for (long long done = 0; done < length;) {
      const int piece = int(std::min<long long>(length - done, 1 << 30));
      check(MPI_Bcast(text.data() + done, piece, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
      done += piece;
    }
    return text;
  }
  std::unique_ptr<WorkCounter> work_counter() override { return std::make_unique<MpiCounter>(rank_); }
  [[noreturn]] void abort_all(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
  }

 private:
  int rank_ = 0;
  int size_ = 1;
};
#endif

}  // namespace

bool built_with_mpi() { return GPUAUG_HAVE_MPI != 0; }

namespace {
std::mutex g_mutex;
std::unique_ptr<Communicator> g_instance;
}  // namespace

void end_other_processes(int code) {
  Communicator* instance = nullptr;
  {
    std::lock_guard lock(g_mutex);
    instance = g_instance.get();
  }
  if (instance && instance->size() > 1) instance->abort_all(code);
}

ChunkQueue::ChunkQueue(uint64_t count, Communicator* shared)
    : count_(count),
      counter_(shared && shared->size() > 1 ? shared->work_counter() : std::make_unique<AtomicCounter>()) {}

ChunkQueue::~ChunkQueue() = default;

std::optional<uint64_t> ChunkQueue::next() {
  const uint64_t chunk = counter_->next();
  return chunk < count_ ? std::optional(chunk) : std::nullopt;
}

std::vector<bool> any_rank(Communicator& comm, const std::vector<bool>& flags) {
  std::string mine(flags.size(), '0');
  for (size_t i = 0; i < flags.size(); ++i)
    if (flags[i]) mine[i] = '1';
  std::string all = mine;
  for (const std::string& theirs : comm.gather(mine)) {
    if (theirs.size() != all.size())
      throw Error("", "world", fmt::format("ranks disagree on the job's size ({} and {} items)", theirs.size(), all.size()));
    for (size_t i = 0; i < all.size(); ++i)
      if (theirs[i] == '1') all[i] = '1';
  }
  all = comm.broadcast(all);
  std::vector<bool> out(flags.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = all[i] == '1';
  return out;
}

bool shares_work_on_demand(const World& world) {
  return world.size == 1 || (world.mpi && built_with_mpi()) || world.has_rendezvous();
}

Communicator& communicator(const World& world) {
  std::lock_guard lock(g_mutex);
  auto& instance = g_instance;
  if (instance) return *instance;
  if (world.size == 1) {
    instance = std::make_unique<SingleProcess>();
    return *instance;
  }
#if GPUAUG_HAVE_MPI
  if (world.mpi) {
    auto mpi = std::make_unique<Mpi>();
    if (mpi->rank() != world.rank || mpi->size() != world.size)
      throw Error("", "world",
                  fmt::format("MPI says rank {} of {}, the environment rank {} of {}: launch with mpirun",
                              mpi->rank(), mpi->size(), world.rank, world.size));
    instance = std::move(mpi);
    return *instance;
  }
#endif
  if (world.has_rendezvous()) {
    instance = make_tcp_communicator(world);
    return *instance;
  }
  throw Error("", "world",
              fmt::format("{} processes started by {}: combining results needs MPI or a rendezvous; launch with "
                          "mpirun{}, or set MASTER_ADDR and MASTER_PORT as torchrun does",
                          world.size, world.launcher.empty() ? "the environment" : world.launcher,
                          built_with_mpi() ? "" : " (with gpuaug built where Open MPI is installed)"));
}

}  // namespace gpuaug::dist
