// Communicator implementations: one process, and Open MPI.
#include "dist/communicator.h"

#include <chrono>
#include <thread>

#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "core/error.h"

#if GPUAUG_HAVE_MPI
#include <mpi.h>
#endif

namespace gpuaug::dist {

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> gather(const std::string& mine) override { return {mine}; }
  void barrier() override {}
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

class Mpi final : public Communicator {
 public:
  Mpi() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
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
  // Waits without spinning: Open MPI's MPI_Barrier polls a core flat out, and the ranks that
  // wait here (for rank 0's part of a job, or bench --compare's single-process rows) would take
  // it from the ranks still working.
  void barrier() override {
    MPI_Request request;
    check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
    for (int done = 0;;) {
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
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
  throw Error("", "world",
              fmt::format("{} processes started by {}: combining results needs MPI; launch with mpirun{}",
                          world.size, world.launcher.empty() ? "the environment" : world.launcher,
                          built_with_mpi() ? "" : " and build gpuaug where Open MPI is installed"));
}

}  // namespace gpuaug::dist
