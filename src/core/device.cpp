// Device name parsing.
#include "core/device.h"

#include <cctype>

#include "core/cuda_runtime_info.h"
#include "core/error.h"

namespace gpuaug {

namespace {

const char* kExpected = "expected cpu, cuda, cuda:N, cuda:N,M,... or cuda:all";

int parse_index(const std::string& text, const std::string& whole) {
  if (text.empty() || text.size() > 3) throw Error("", "device", "'" + whole + "': " + kExpected);
  int index = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) throw Error("", "device", "'" + whole + "': " + kExpected);
    index = index * 10 + (c - '0');
  }
  return index;
}

}  // namespace

Device parse_device(const std::string& text) {
  if (text == "cpu") return {};
  if (text == "cuda") return {true, 0};
  if (text.rfind("cuda:", 0) == 0 && text.find(',') == std::string::npos && text != "cuda:all")
    return {true, parse_index(text.substr(5), text)};
  throw Error("", "device", "'" + text + "': expected cpu, cuda or cuda:N");
}

std::vector<Device> parse_devices(const std::string& text, int local_rank, int local_size) {
  if (text == "cpu") return {Device{}};
  if (local_size < 1) local_size = 1;
  // Counting GPUs starts the CUDA driver (0.2 s on an H100 machine): only where the count
  // matters, so that `cuda` alone starts it on the GPU's own thread while the CPU works.
  if (text == "cuda" && local_size == 1) return {{true, 0}};
  const int visible = int(cuda_devices().size());
  if (text == "cuda") return {{true, visible > 0 ? local_rank % visible : 0}};
  if (text == "cuda:all") {
    if (visible == 0) throw Error("", "device", "cuda:all: no CUDA GPU is visible (no driver, no device, or a build without CUDA)");
    std::vector<Device> devices;
    for (int i = 0; i < visible; ++i)
      if (i % local_size == local_rank % local_size) devices.push_back({true, i});
    // More processes on this machine than GPUs: each still gets one, shared.
    if (devices.empty()) devices.push_back({true, local_rank % visible});
    return devices;
  }
  if (text.rfind("cuda:", 0) != 0) throw Error("", "device", "'" + text + "': " + kExpected);
  std::vector<Device> devices;
  const std::string list = text.substr(5);
  for (size_t begin = 0;;) {
    const size_t comma = list.find(',', begin);
    devices.push_back({true, parse_index(list.substr(begin, comma - begin), text)});
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return devices;
}

std::string device_list_name(const std::vector<Device>& devices) {
  if (devices.empty() || !devices.front().cuda) return "cpu";
  std::string name = "cuda:";
  for (size_t i = 0; i < devices.size(); ++i) name += (i ? "," : "") + std::to_string(devices[i].index);
  return name;
}

}  // namespace gpuaug
