// bench: decode + augment to memory (nothing written), timed over iterations of the inputs.
#pragma once

#include <cstdint>
#include <string>

namespace gpuaug::jobs {

struct BenchOptions {
  std::string spec_path;
  std::string input;
  int threads = 0;
  int batch = 256;
  int iters = 3;
  int warmup = 1;
  size_t limit = 0;  // use at most this many images (0: all)
};

struct BenchResult {
  size_t images = 0;       // images processed in the timed iterations
  size_t samples = 0;      // output samples produced
  double seconds = 0.0;
  double images_per_s = 0.0;
  int threads = 0;
  int batch = 0;
  std::string device = "cpu";
};

BenchResult run_bench(const BenchOptions& options);
std::string bench_json(const BenchResult& result);

}  // namespace gpuaug::jobs
