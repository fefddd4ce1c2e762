// World: this process' rank and the number of processes, from the launcher's environment
// (torchrun, Slurm, Open MPI), and how many of them share this machine.
#pragma once

#include <string>
#include <vector>

#include "core/device.h"

namespace gpuaug::dist {

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;          // this process among those on its machine (which GPU "cuda" is)
  int local_size = 1;          // processes on this machine (for the default thread count)
  std::string launcher = "";  // "torchrun", "slurm", "mpirun", or empty for one process
  bool mpi = false;            // launched by mpirun / an MPI process manager
  // Where the ranks meet without MPI (dist/tcp_communicator.h): MASTER_ADDR, and GPUAUG_PORT or
  // else MASTER_PORT + 1 (torchrun's agent serves its own store on MASTER_PORT); empty when unset.
  std::string rendezvous_host;
  int rendezvous_port = 0;

  bool distributed() const { return size > 1; }
  bool has_rendezvous() const { return !rendezvous_host.empty() && rendezvous_port > 0; }
};

// torchrun: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE; Open MPI: OMPI_COMM_WORLD_RANK,
// _SIZE, _LOCAL_RANK, _LOCAL_SIZE (PMIx: PMIX_RANK); Slurm's srun: SLURM_PROCID,
// SLURM_STEP_NUM_TASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (an sbatch script, which has
// SLURM_NTASKS but no step, is one process).
// The first complete pair wins, in that order, as in the Python package (Open MPI before Slurm:
// under mpirun inside an sbatch allocation every process sees the step's SLURM_PROCID 0).
// Malformed values are an Error(stage "world") naming the variable (ports: 1..65535).
World detect_world();

// Jobs that do not split their work across processes yet call this first: launched as several
// processes they would each do all of it into the same outputs and journal. Error(stage
// "world") naming the job and the launcher.
void require_one_process(const World& world, const std::string& job);

// CPU threads for one process: the CPUs it was bound to when a launcher bound it (fewer than the
// machine's), else the machine's divided among its processes; at least 1.
int threads_per_process(const World& world);

// The devices of a --device text for this process (core's parse_devices with its local rank).
std::vector<Device> process_devices(const std::string& text, const World& world);

}  // namespace gpuaug::dist
