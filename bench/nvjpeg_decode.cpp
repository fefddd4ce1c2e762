// nvJPEG throughput of codec::NvjpegDecoder on whole JPEGs, by batch size, with a constant or
// a changing batch size (each change re-initializes the batched decoder), beside libjpeg-turbo
// on one thread. Usage: nvjpeg_decode_bench DIR [IMAGES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "codec/decoder.h"
#include "codec/nvjpeg_decoder.h"

using namespace gpuaug;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [IMAGES]\n", argv[0]);
    return 2;
  }
  const size_t limit = argc > 2 ? size_t(std::stoul(argv[2])) : 2048;
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1]))
    if (entry.path().extension() == ".jpg") paths.push_back(entry.path().string());
  std::sort(paths.begin(), paths.end());
  if (paths.size() > limit) paths.resize(limit);
  std::vector<std::vector<uint8_t>> blobs;
  for (const auto& p : paths) blobs.push_back(codec::read_file(p));
  codec::NvjpegDecoder decoder(0);
  std::printf("%zu JPEGs from %s, nvJPEG %s backend\n", blobs.size(), argv[1], decoder.hardware() ? "hardware" : "default");
  auto run = [&](const std::vector<size_t>& batch_sizes) {
    size_t done = 0, failed = 0;
    const auto start = Clock::now();
    for (size_t k = 0; done < blobs.size(); ++k) {
      const size_t n = std::min(batch_sizes[k % batch_sizes.size()], blobs.size() - done);
      std::vector<codec::GpuDecodeRequest> requests;
      for (size_t i = 0; i < n; ++i) requests.push_back({blobs[done + i], {}});
      for (const auto& r : decoder.decode(requests)) failed += r ? 0 : 1;
      done += n;
    }
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    return std::pair{double(blobs.size()) / s, failed};
  };
  run({256});  // warm-up
  for (size_t b : {16, 32, 64, 128, 256, 512, 1024}) {
    const auto [rate, failed] = run({b});
    std::printf("batch %5zu constant: %8.0f images/s (%zu refused)\n", b, rate, failed);
  }
  const auto [rate, failed] = run({97, 128, 113, 120});
  std::printf("batch ~115 changing: %8.0f images/s (%zu refused)\n", rate, failed);
  const auto start = Clock::now();
  for (size_t i = 0; i < std::min<size_t>(blobs.size(), 500); ++i) codec::decode_image(blobs[i], {});
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("libjpeg-turbo, 1 thread: %8.0f images/s\n", double(std::min<size_t>(blobs.size(), 500)) / s);
  return 0;
}
