// TarWriter and the ustar member encoding it shares with the tests and the fuzz target.
#include "jobs/tar_writer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "data/tar_reader.h"
#include "jobs/temporary_path.h"

namespace gpuaug::jobs {

namespace {

namespace fs = std::filesystem;

constexpr size_t kBlock = 512;
constexpr uint64_t kRecord = 20 * kBlock;
constexpr size_t kNameLen = 100, kPrefixLen = 155;

// Writes `value` as tarfile's itn() does for ustar: width-1 zero-padded octal digits, then NUL.
void put_octal(uint8_t* at, size_t width, uint64_t value) {
  const std::string digits = fmt::format("{:0{}o}", value, width - 1);
  std::memcpy(at, digits.data(), width - 1);
  at[width - 1] = 0;
}

// Where ustar splits `name` into prefix and name (tarfile's _posix_split_name: the first '/'
// that leaves both parts short enough), 0 where it needs no split; throws where it is unsafe or
// no '/' splits it.
size_t ustar_split(std::string_view name) {
  if (const std::string reason = data::unsafe_name_reason(name); !reason.empty()) {
    throw Error("", "tar", fmt::format("member {} {}", data::printable_name(name), reason));
  }
  if (name.size() <= kNameLen) return 0;
  size_t slash = name.find('/');
  while (slash != std::string_view::npos && !(slash <= kPrefixLen && name.size() - slash - 1 <= kNameLen)) {
    slash = name.find('/', slash + 1);
  }
  if (slash == std::string_view::npos || slash > kPrefixLen) {
    throw Error("", "tar",
                fmt::format("member name {} is {} bytes and cannot be split at a '/' into 155 "
                            "bytes of prefix and 100 of name (the ustar limit)",
                            data::printable_name(name), name.size()));
  }
  return slash;
}

// The 512-byte ustar header of a regular file (tarfile.TarInfo._create_header, USTAR_FORMAT,
// Python 3.11.4+, which leaves devmajor/devminor empty for regular files).
std::array<uint8_t, kBlock> ustar_header(std::string_view name, uint64_t size) {
  const size_t split = ustar_split(name);
  if (size >= (uint64_t(1) << 33)) {
    throw Error("", "tar",
                fmt::format("member {} holds {} bytes; ustar holds under 8 GiB",
                            data::printable_name(name), size));
  }
  std::string_view prefix;
  if (split > 0) {
    prefix = name.substr(0, split);
    name = name.substr(split + 1);
  }
  std::array<uint8_t, kBlock> h{};
  // std::copy, not memcpy: an empty prefix's data() may be null (UB for memcpy; fuzz_tar found it).
  std::copy(name.begin(), name.end(), h.begin());
  put_octal(h.data() + 100, 8, 0644);  // mode
  put_octal(h.data() + 108, 8, 0);     // uid
  put_octal(h.data() + 116, 8, 0);     // gid
  put_octal(h.data() + 124, 12, size);
  put_octal(h.data() + 136, 12, 0);  // mtime: 0, so shards do not depend on when they were made
  std::memset(h.data() + 148, ' ', 8);
  h[156] = '0';
  static constexpr char kPosixMagicVersion[8] = {'u', 's', 't', 'a', 'r', '\0', '0', '0'};
  std::copy(kPosixMagicVersion, kPosixMagicVersion + 8, h.begin() + 257);
  std::copy(prefix.begin(), prefix.end(), h.begin() + 345);
  uint32_t sum = 0;
  for (const uint8_t b : h) sum += b;
  // "%06o\0" then the field's last space, as tarfile and GNU tar write it.
  const std::string checksum = fmt::format("{:06o}", sum);
  std::memcpy(h.data() + 148, checksum.data(), 6);
  h[154] = 0;
  return h;
}

uint64_t padding(uint64_t size) { return (kBlock - size % kBlock) % kBlock; }

}  // namespace

void append_tar_member(std::vector<uint8_t>& out, std::string_view name,
                       std::span<const uint8_t> data) {
  const auto header = ustar_header(name, data.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  out.resize(out.size() + padding(data.size()), 0);
}

void check_tar_member_name(std::string_view name) { (void)ustar_split(name); }

std::vector<uint8_t> tar_end(uint64_t archive_size) {
  const uint64_t with_end = archive_size + 2 * kBlock;
  return std::vector<uint8_t>(2 * kBlock + (kRecord - with_end % kRecord) % kRecord, 0);
}

TarWriter::TarWriter(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  const fs::path target(path_);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) throw Error(path_, "write", fmt::format("cannot create folder: {}", ec.message()));
  // Named like write_file_atomic's temporaries, so remove_temporaries finds a killed job's.
  tmp_path_ = jobs::temporary_path(path_);
  file_ = std::fopen(tmp_path_.c_str(), "wbe");  // 'e': O_CLOEXEC
  if (file_ == nullptr) {
    throw Error(path_, "write",
                fmt::format("cannot open a temporary file beside the output: {}",
                            std::generic_category().message(errno)));
  }
}

TarWriter::~TarWriter() { discard(); }

void TarWriter::discard() noexcept {
  if (file_ == nullptr) return;
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ignored;
  fs::remove(tmp_path_, ignored);
}

void TarWriter::write(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    const int code = errno;
    discard();
    throw Error(path_, "write",
                fmt::format("write failed: {}", std::generic_category().message(code)));
  }
  bytes_written_ += bytes.size();
}

void TarWriter::add(std::string_view name, std::span<const uint8_t> data) {
  if (file_ == nullptr) throw Error(path_, "write", "add() after close() or a failed write");
  std::array<uint8_t, kBlock> header;
  try {
    header = ustar_header(name, data.size());
  } catch (const Error& e) {
    const std::string quoted = data::printable_name(name);
    throw e.with_file(path_ + "#" + quoted.substr(1, quoted.size() - 2));
  }
  static constexpr std::array<uint8_t, kBlock> kZeros{};
  write(header);
  write(data);
  write(std::span(kZeros).first(size_t(padding(data.size()))));
}

void TarWriter::close() {
  if (file_ == nullptr) throw Error(path_, "write", "close() after close() or a failed write");
  write(tar_end(bytes_written_));
  if (std::fflush(file_) != 0) {
    const int code = errno;
    discard();
    throw Error(path_, "write",
                fmt::format("write failed: {}", std::generic_category().message(code)));
  }
  const int closed = std::fclose(file_);
  const int code = errno;
  file_ = nullptr;
  std::error_code ec;
  if (closed != 0) {
    fs::remove(tmp_path_, ec);
    throw Error(path_, "write",
                fmt::format("write failed: {}", std::generic_category().message(code)));
  }
  fs::rename(tmp_path_, path_, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp_path_, ignored);
    throw Error(path_, "write", fmt::format("cannot rename into place: {}", ec.message()));
  }
}

}  // namespace gpuaug::jobs
