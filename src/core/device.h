// Device names as the command and Python take them: "cpu", "cuda" (= cuda:0), "cuda:N", and
// for jobs that run one worker per GPU, "cuda:all" and lists such as "cuda:0,2".
#pragma once

#include <string>
#include <vector>

namespace gpuaug {

struct Device {
  bool cuda = false;
  int index = 0;
  std::string name() const { return cuda ? "cuda:" + std::to_string(index) : "cpu"; }
};

// Exactly one device: "cpu", "cuda" (cuda:0) or "cuda:N". Throws gpuaug::Error (stage "device")
// for anything else.
Device parse_device(const std::string& text);

// One or more devices, one worker each: "cpu"; "cuda" (one GPU); "cuda:N"; "cuda:N,M,..." (a GPU
// named twice gets two workers, which overlap one's host work with the other's kernels);
// "cuda:all" (every visible GPU). When several processes share a machine (local_size > 1, from
// the launcher), "cuda" is the GPU local_rank % GPUs, as torchrun users set it, and "cuda:all"
// the GPUs whose index % local_size == local_rank, so the processes share them out; explicit
// indices are taken as written. Error (stage "device") for malformed text, and for cuda:all
// where no GPU is visible.
std::vector<Device> parse_devices(const std::string& text, int local_rank = 0, int local_size = 1);

// "cuda:0", or "cuda:0,1" for a list; "cpu".
std::string device_list_name(const std::vector<Device>& devices);

}  // namespace gpuaug
