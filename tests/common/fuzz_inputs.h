// The committed fuzz inputs of one target, for the gtests that replay them through the
// libFuzzer harness (tests/fuzz/): regressions (inputs that once crashed) and the seed corpus.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace gpuaug_test {

struct FuzzInput {
  std::string name;  // relative to tests/fuzz/, for failure messages
  std::vector<uint8_t> bytes;
};

// tests/fuzz/regressions/<target>/* then tests/fuzz/corpus/<target>/*, each sorted by name.
inline std::vector<FuzzInput> fuzz_inputs(const std::string& target) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(GPUAUG_SOURCE_DIR) / "tests" / "fuzz";
  std::vector<FuzzInput> inputs;
  for (const char* kind : {"regressions", "corpus"}) {
    const fs::path dir = root / kind / target;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      inputs.push_back({fs::relative(file, root).generic_string(),
                        {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}});
    }
  }
  return inputs;
}

}  // namespace gpuaug_test
