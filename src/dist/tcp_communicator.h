// TcpCommunicator: the communicator of processes that a launcher started without MPI (torchrun,
// srun), over TCP: rank 0 listens at the rendezvous (MASTER_ADDR, port GPUAUG_PORT or
// MASTER_PORT + 1), every other rank connects to it. Collectives go through rank 0; work
// counters live on rank 0 and a thread of its answers every rank's requests.
#pragma once

#include <memory>

#include "dist/communicator.h"
#include "dist/world.h"

namespace gpuaug::dist {

// Connects the ranks of `world` (which must have a rendezvous): rank 0 waits for every other rank,
// the others retry until rank 0 listens, each for at most GPUAUG_CONNECT_TIMEOUT seconds (default
// 300). Errors (stage "world") name the address and the cause. A rank whose connection breaks
// (a process ended or failed) gets an Error at its next message; rank 0, which serves the work
// counters, ends itself when a rank goes away without saying goodbye, so none waits forever.
std::unique_ptr<Communicator> make_tcp_communicator(const World& world);

}  // namespace gpuaug::dist
