// MappedFile: a whole file mapped read-only (RAII), for shards too large to copy into memory.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace gpuaug::data {

// Maps a regular file read-only for the object's lifetime. Errors are gpuaug::Error(path,
// "read", cause) with the cause read_file gives: strerror text for a missing, unreadable or
// directory path; "not a regular file (...)" for FIFOs, devices and sockets (a mapping needs a
// file with a size). An empty file maps to an empty span. If another process truncates the
// file while it is mapped, reading the lost pages raises SIGBUS: shards are written whole and
// renamed into place (jobs::TarWriter), never rewritten where they stand.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  void unmap() noexcept;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace gpuaug::data
