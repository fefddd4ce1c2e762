// Communicator: what jobs that need totals exchange between processes (gather to rank 0, a
// barrier, aborting every rank), over MPI when launched by mpirun; one process otherwise.
// Loading never sends messages; only offline jobs (stats, augment's record) use it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dist/world.h"

namespace gpuaug::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank 0 receives every rank's bytes in rank order; the others get an empty vector.
  virtual std::vector<std::string> gather(const std::string& mine) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job with `code` (MPI_Abort): a failing rank never leaves the
  // others waiting in a collective.
  [[noreturn]] virtual void abort_all(int code) = 0;
};

// The process' communicator: MPI (initialized once, finalized at exit) when this build has MPI
// and the world was launched by an MPI process manager with more than one process; a
// single-process one when the world has one process. A world of several processes without MPI
// is an Error(stage "world") that says to launch with mpirun (jobs that need totals cannot
// combine them otherwise).
Communicator& communicator(const World& world);

bool built_with_mpi();

// After a failure: when this process took part in a job of several processes, ends them all
// (MPI_Abort) so that none waits for it; otherwise returns.
void end_other_processes(int code);

}  // namespace gpuaug::dist
