// preview: a PNG grid of originals beside their augmented samples.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gpuaug::jobs {

struct PreviewOptions {
  std::string spec_path;
  std::string input;
  std::string output;  // .png
  int n = 16;
  std::optional<uint64_t> seed;
  uint64_t epoch = 0;
  int threads = 0;
  std::string device = "cpu";  // cpu, cuda, cuda:N
};

// Returns the number of image pairs drawn.
int run_preview(const PreviewOptions& options);

}  // namespace gpuaug::jobs
