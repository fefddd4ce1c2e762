// TempDir: a fresh, empty folder for one test (under GPUAUG_TEST_TMPDIR where the test binary
// defines it, else the system's temporary folder), removed with everything in it at the end.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace gpuaug_test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "gpuaug") {
    static std::atomic<int> counter{0};
#ifdef GPUAUG_TEST_TMPDIR
    const std::filesystem::path base(GPUAUG_TEST_TMPDIR);
#else
    const std::filesystem::path base = std::filesystem::temp_directory_path();
#endif
    root_ = base / (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::string operator/(const std::string& name) const { return (root_ / name).string(); }

 private:
  std::filesystem::path root_;
};

}  // namespace gpuaug_test
