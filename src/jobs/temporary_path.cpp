// temporary_path: unique per process and write, short enough for any legal final name.
#include "jobs/temporary_path.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>

#include "core/content_hash.h"

namespace gpuaug::jobs {

std::string temporary_path(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  const std::string suffix = fmt::format(".gpuaug-tmp-{}-{}", ::getpid(), counter++);
  const std::filesystem::path target(path);
  const std::string name = target.filename().string();
  if (name.size() + suffix.size() <= 255) return path + suffix;
  const uint64_t hash = xxh64({reinterpret_cast<const uint8_t*>(name.data()), name.size()});
  return (target.parent_path() / fmt::format(".{:016x}{}", hash, suffix)).string();
}

}  // namespace gpuaug::jobs
