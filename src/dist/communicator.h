// Communicator: what jobs that need totals exchange between processes (gather to rank 0, a
// barrier, aborting every rank), over MPI when launched by mpirun, over TCP when launched with a
// rendezvous (torchrun); one process otherwise.
// Loading never sends messages; only offline jobs (stats, augment's record) use it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dist/world.h"

namespace gpuaug::dist {

// Hands out 0, 1, 2, ... once each to whoever asks next, over every thread of every process.
class WorkCounter {
 public:
  virtual ~WorkCounter() = default;
  virtual uint64_t next() = 0;  // thread-safe
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank 0 receives every rank's bytes in rank order; the others get an empty vector.
  virtual std::vector<std::string> gather(const std::string& mine) = 0;
  virtual void barrier() = 0;
  // Every rank gets rank 0's bytes.
  virtual std::string broadcast(const std::string& from_rank0) = 0;
  // Made by every rank together; so is its destruction. Under MPI the counter lives in rank 0's
  // memory and is read and advanced in one step (MPI_Fetch_and_op), so no rank serves requests.
  virtual std::unique_ptr<WorkCounter> work_counter() = 0;
  // Ends every process of the job with `code` (MPI_Abort): a failing rank never leaves the
  // others waiting in a collective.
  [[noreturn]] virtual void abort_all(int code) = 0;
};

// The process' communicator: MPI (initialized once, finalized at exit) when this build has MPI
// and the world was launched by an MPI process manager with more than one process; TCP through
// rank 0 (dist/tcp_communicator.h) for several processes launched otherwise that have a
// rendezvous (MASTER_ADDR and MASTER_PORT, as torchrun sets); a single-process one when the
// world has one process. Several processes with neither are an Error(stage "world") that says
// to launch with mpirun or set MASTER_ADDR and MASTER_PORT.
Communicator& communicator(const World& world);

bool built_with_mpi();

// `flags` or'ed over every rank, on every rank (a gather to rank 0, then a broadcast): what any
// rank's journal holds, so that all ranks hand out chunks of the same list of what is left.
std::vector<bool> any_rank(Communicator& comm, const std::vector<bool>& flags);

// Chunks 0..count-1 of a job's work, taken on demand by whoever asks next: every thread of this
// process, and with `shared` (made by every rank together, with the same count) every process of
// the job, through the communicator's counter. So a slow GPU, process or machine takes fewer and
// nobody idles at the end.
class ChunkQueue {
 public:
  explicit ChunkQueue(uint64_t count, Communicator* shared = nullptr);
  ~ChunkQueue();
  ChunkQueue(const ChunkQueue&) = delete;
  ChunkQueue& operator=(const ChunkQueue&) = delete;
  // The next chunk, or nullopt once none is left; thread-safe.
  std::optional<uint64_t> next();
  uint64_t count() const { return count_; }

 private:
  uint64_t count_ = 0;
  std::unique_ptr<WorkCounter> counter_;
};

// Whether the processes of `world` can hand out work on demand: one process, or several that MPI
// or a rendezvous connects. Several without either take static shares.
bool shares_work_on_demand(const World& world);

// After a failure: when this process took part in a job of several processes, ends them all
// (MPI_Abort) so that none waits for it; otherwise returns.
void end_other_processes(int code);

}  // namespace gpuaug::dist
