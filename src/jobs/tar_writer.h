// TarWriter: writes a WebDataset tar shard whole (temporary name, then rename), byte-identical
// across runs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpuaug::jobs {

// Appends one ustar member (header, data, zero padding to 512) to `out`, exactly as Python's
// tarfile writes it with format=USTAR_FORMAT for a TarInfo left at its defaults (mode 0644,
// mtime 0, uid/gid 0, empty uname/gname): a name over 100 bytes is split at the first '/' that
// leaves at most 155 bytes of prefix and 100 of name (so 256 bytes at most, as tarfile allows).
// Throws gpuaug::Error("", "tar", cause) for a name that is unsafe (data::unsafe_name_reason) or
// has no such '/', and for data of 8 GiB or more (11 octal digits). Longer names would need pax
// headers, which a deterministic WebDataset shard has no use for.
void append_tar_member(std::vector<uint8_t>& out, std::string_view name,
                       std::span<const uint8_t> data);

// Throws as append_tar_member would for `name` (unsafe, or past what ustar can hold), so that a
// job can refuse such names before it works.
void check_tar_member_name(std::string_view name);

// The end of an archive of `archive_size` bytes so far: two zero blocks, then zeros up to a whole
// 10240-byte record (tar's default blocking factor 20, as GNU tar and tarfile pad).
std::vector<uint8_t> tar_end(uint64_t archive_size);

// Writes a shard to "<path>.gpuaug-tmp-<pid>-<n>" and renames it to `path` on close(), so a
// killed job never leaves half a shard under the final name (jobs::remove_temporaries sweeps the
// temporaries). Destroyed without close(), it removes the temporary. Members are written in the
// order added; the same members give the same bytes on every run.
// Errors: gpuaug::Error(path, "write", cause) for I/O, Error(path#name, "tar", cause) for names
// append_tar_member refuses.
class TarWriter {
 public:
  explicit TarWriter(std::string path);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  void add(std::string_view name, std::span<const uint8_t> data);
  // Writes the end blocks, flushes and renames into place. Further add() calls are errors.
  void close();

  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return tmp_path_; }
  // Bytes written to the file so far (headers, data, padding; after close(), the end too).
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  void write(std::span<const uint8_t> bytes);
  void discard() noexcept;

  std::string path_;
  std::string tmp_path_;
  std::FILE* file_ = nullptr;
  uint64_t bytes_written_ = 0;
  std::vector<uint8_t> buffer_;  // one member at a time
};

}  // namespace gpuaug::jobs
