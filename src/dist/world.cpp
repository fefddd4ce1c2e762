// Environment variables of the launchers, read once.
#include "dist/world.h"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "core/thread_pool.h"

namespace gpuaug::dist {

namespace {

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

int env_int(const char* name, int fallback) {
  const char* value = env(name);
  if (!value) return fallback;
  try {
    size_t used = 0;
    const int n = std::stoi(value, &used);
    if (used == std::string(value).size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  throw Error("", "world", fmt::format("{}='{}' is not a non-negative integer", name, value));
}

}  // namespace

World detect_world() {
  struct Launcher {
    const char* name;
    const char* rank;
    const char* size;
    const char* local_rank;
    const char* local_size;
  };
  static const Launcher launchers[] = {
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
      {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"mpirun", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
      // srun's step: SLURM_STEP_NUM_TASKS. The batch script of sbatch --ntasks=N (and a salloc shell)
      // also holds SLURM_PROCID 0 and SLURM_NTASKS N, yet is one process: taken for rank 0 of N, it
      // would do a share of the work alone, silently.
      {"slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
  };
  World world;
  for (const Launcher& l : launchers) {
    if (!env(l.rank) || !env(l.size)) continue;
    world.rank = env_int(l.rank, 0);
    world.size = env_int(l.size, 1);
    world.local_size = std::max(1, env_int(l.local_size, 1));
    world.local_rank = env_int(l.local_rank, 0);
    // Slurm sets SLURM_NTASKS_PER_NODE only when asked for it; a local rank says at least this.
    world.local_size = std::max(world.local_size, world.local_rank + 1);
    world.launcher = l.name;
    break;
  }
  if (world.size < 1 || world.rank >= world.size)
    throw Error("", "world", fmt::format("rank {} of {} processes: need 0 <= rank < size", world.rank, world.size));
  world.mpi = env("OMPI_COMM_WORLD_SIZE") || env("PMIX_RANK") || env("PMI_SIZE");
  if (const char* host = env("MASTER_ADDR")) {
    const char* name = env("GPUAUG_PORT") ? "GPUAUG_PORT" : env("MASTER_PORT") ? "MASTER_PORT" : nullptr;
    if (name) {
      const int port = env_int(name, 0) + (name[0] == 'M' ? 1 : 0);
      if (port < 1 || port > 65535)
        throw Error("", "world", fmt::format("{}='{}' gives port {}: need 1..65535", name, env(name), port));
      world.rendezvous_host = host;
      world.rendezvous_port = port;
    }
  }
  return world;
}

void require_one_process(const World& world, const std::string& job) {
  if (!world.distributed()) return;
  throw Error("", "world",
              fmt::format("{} runs in one process for now, but {} started {} ({} set): run it once, "
                          "without the launcher, or unset those variables",
                          job, world.launcher, world.size, world.launcher == "torchrun" ? "RANK, WORLD_SIZE"
                                                            : world.launcher == "slurm" ? "SLURM_PROCID, SLURM_STEP_NUM_TASKS"
                                                                                         : "OMPI_COMM_WORLD_*"));
}

int threads_per_process(const World& world) {
  // A launcher that bound this process to some CPUs already shared the machine out.
  if (hardware_threads() < machine_threads()) return hardware_threads();
  return std::max(1, hardware_threads() / std::max(1, world.local_size));
}

std::vector<Device> process_devices(const std::string& text, const World& world) {
  return parse_devices(text, world.local_rank, world.local_size);
}

}  // namespace gpuaug::dist
