// Tar shards: header parsing (ustar, GNU, pax), the safety checks, WebDataset grouping.
#include "data/tar_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "core/error.h"

namespace gpuaug::data {

namespace {

constexpr uint64_t kBlock = 512;

// ustar header layout (POSIX.1-1988; GNU tar uses the same offsets for what we read).
constexpr size_t kNameAt = 0, kNameLen = 100;
constexpr size_t kSizeAt = 124, kSizeLen = 12;
constexpr size_t kChecksumAt = 148, kChecksumLen = 8;
constexpr size_t kTypeAt = 156;
constexpr size_t kMagicAt = 257;
constexpr size_t kPrefixAt = 345, kPrefixLen = 155;

std::string_view field(const uint8_t* header, size_t at, size_t len) {
  const char* begin = reinterpret_cast<const char*>(header + at);
  return {begin, std::find(begin, begin + len, '\0')};  // NUL-terminated unless full
}

// An octal field as tar writes it: digits, optionally surrounded by spaces, ended by NUL or space
// (Python's tarfile.nti; an all-blank field is 0).
std::optional<uint64_t> parse_octal(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    if (value >> 60) return std::nullopt;
    value = value * 8 + uint64_t(c - '0');
  }
  return value;
}

// The size field: octal, or GNU's base-256 (first byte 0x80, big-endian in the rest) for sizes
// of 8 GiB and more. Negative base-256 (0xFF) is refused.
std::optional<uint64_t> parse_size(const uint8_t* header) {
  const uint8_t* f = header + kSizeAt;
  if (f[0] & 0x80) {
    if (f[0] != 0x80) return std::nullopt;
    uint64_t value = 0;
    for (size_t i = 1; i < kSizeLen; ++i) {
      if (value >> 56) return std::nullopt;
      value = (value << 8) | f[i];
    }
    return value;
  }
  return parse_octal(field(header, kSizeAt, kSizeLen));
}

// Checksum: the header's bytes summed with the checksum field read as spaces. Old tars summed
// signed chars; both sums are accepted, as GNU tar and Python's tarfile accept them.
bool checksum_ok(const uint8_t* header) {
  const auto stored = parse_octal(field(header, kChecksumAt, kChecksumLen));
  if (!stored) return false;
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChecksumAt && i < kChecksumAt + kChecksumLen;
    const uint8_t byte = in_field ? uint8_t(' ') : header[i];
    unsigned_sum += byte;
    signed_sum += static_cast<int8_t>(byte);
  }
  return int64_t(*stored) == unsigned_sum || int64_t(*stored) == signed_sum;
}

bool all_zero(const uint8_t* block) {
  return std::all_of(block, block + kBlock, [](uint8_t b) { return b == 0; });
}

std::string header_name(const uint8_t* header) {
  std::string name(field(header, kNameAt, kNameLen));
  // Only POSIX ustar ("ustar\0") has a prefix; GNU tar keeps other fields there.
  static constexpr char kPosixMagic[6] = {'u', 's', 't', 'a', 'r', '\0'};
  if (std::equal(kPosixMagic, kPosixMagic + 6, header + kMagicAt)) {
    const std::string_view prefix = field(header, kPrefixAt, kPrefixLen);
    if (!prefix.empty()) name = std::string(prefix) + "/" + name;
  }
  return name;
}

struct PaxOverrides {
  std::optional<std::string> path;
  std::optional<uint64_t> size;
};

// pax extended header records, "<length> <key>=<value>\n", length counting the whole record
// (POSIX.1-2001 pax "Extended Header"). Only 'path' and 'size' matter to a reader of files.
bool parse_pax(std::string_view data, PaxOverrides& out) {
  size_t pos = 0;
  while (pos < data.size() && data[pos] != '\0') {
    size_t digits = 0;
    uint64_t length = 0;
    while (pos + digits < data.size() && data[pos + digits] >= '0' && data[pos + digits] <= '9') {
      if (digits == 18) return false;
      length = length * 10 + uint64_t(data[pos + digits] - '0');
      ++digits;
    }
    // At least "<digits> k=\n": the record must move past its own length and space.
    if (digits == 0 || length < digits + 4 || length > data.size() - pos) return false;
    const std::string_view record = data.substr(pos, length);
    if (record[digits] != ' ' || record.back() != '\n') return false;
    const std::string_view body = record.substr(digits + 1, record.size() - digits - 2);
    const size_t eq = body.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    const std::string_view key = body.substr(0, eq), value = body.substr(eq + 1);
    if (key == "path") {
      out.path = std::string(value);
    } else if (key == "size") {
      uint64_t size = 0;
      if (value.empty() || value.size() > 18) return false;
      for (const char c : value) {
        if (c < '0' || c > '9') return false;
        size = size * 10 + uint64_t(c - '0');
      }
      out.size = size;
    }
    pos += length;
  }
  return true;
}

std::string refused_type(char type) {
  switch (type) {
    case '1':
      return "is a hard link (only regular files are read)";
    case '2':
      return "is a symbolic link (only regular files are read)";
    case '3':
      return "is a character device (only regular files are read)";
    case '4':
      return "is a block device (only regular files are read)";
    case '6':
      return "is a FIFO (only regular files are read)";
    default:
      return fmt::format("has unsupported type {}", printable_name(std::string_view(&type, 1)));
  }
}

}  // namespace

std::string printable_name(std::string_view name) {
  std::string out = "'";
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string unsafe_name_reason(std::string_view name) {
  if (name.empty()) return "has an empty name";
  if (name.find('\0') != std::string_view::npos) return "has a NUL byte in its name";
  if (name.front() == '/') return "has an absolute name";
  for (size_t start = 0; start <= name.size();) {
    const size_t slash = std::min(name.find('/', start), name.size());
    if (name.substr(start, slash - start) == "..") return "escapes the archive (a '..' component)";
    start = slash + 1;
  }
  return "";
}

std::vector<TarMember> list_tar(std::span<const uint8_t> archive, const std::string& tar_path) {
  if (archive.empty()) throw Error(tar_path, "tar", "empty file (not a tar archive)");
  auto fail = [&](const std::string& cause) { return Error(tar_path, "tar", cause); };
  auto fail_member = [&](const std::string& name, const std::string& cause) {
    // The member name goes into the file part unquoted but with control bytes escaped.
    const std::string quoted = printable_name(name);
    return Error(tar_path + "#" + quoted.substr(1, quoted.size() - 2), "tar", cause);
  };

  std::vector<TarMember> members;
  const uint64_t end = archive.size();
  PaxOverrides pending;  // from pax 'x' and GNU 'L' headers, for the next member
  uint64_t pos = 0;
  while (pos < end) {
    if (end - pos < kBlock) {
      throw fail(fmt::format("truncated: a partial header block at offset {} ({} bytes of 512)",
                             pos, end - pos));
    }
    const uint8_t* header = archive.data() + pos;
    if (all_zero(header)) break;
    if (!checksum_ok(header)) {
      throw fail(fmt::format(
          "header checksum mismatch at offset {} (not a tar archive, or a damaged one)", pos));
    }
    const char type = static_cast<char>(header[kTypeAt]);
    const bool meta = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    std::string name = !meta && pending.path ? *pending.path : header_name(header);
    const auto stored_size = parse_size(header);
    if (!stored_size) {
      throw fail(fmt::format("the size field of the header at offset {} is not a number", pos));
    }
    const uint64_t size = !meta && pending.size ? *pending.size : *stored_size;
    const uint64_t data_offset = pos + kBlock;
    const uint64_t remain = end - std::min(end, data_offset);
    if (size > remain) {
      if (meta) {
        throw fail(fmt::format("truncated: the '{}' header at offset {} claims {} bytes, {} remain",
                               type, pos, size, remain));
      }
      throw fail_member(name, fmt::format("truncated: member {} claims {} bytes, {} remain",
                                          printable_name(name), size, remain));
    }
    // The data is padded to whole blocks; an archive may stop right after the last data byte.
    pos = data_offset + (size + kBlock - 1) / kBlock * kBlock;
    const std::string_view data(reinterpret_cast<const char*>(archive.data() + data_offset),
                                size_t(size));
    if (type == 'x') {
      if (!parse_pax(data, pending)) {
        throw fail(fmt::format("malformed pax header at offset {}", data_offset - kBlock));
      }
      continue;
    }
    if (type == 'L') {
      pending.path = std::string(data.substr(0, data.find('\0')));
      continue;
    }
    if (meta || type == 'V') continue;  // 'g' global pax, 'K' long link name, volume label

    pending = {};
    if (const std::string reason = unsafe_name_reason(name); !reason.empty()) {
      throw fail_member(name, fmt::format("member {} {}", printable_name(name), reason));
    }
    // '\0' with a trailing '/' is how pre-POSIX tars wrote directories.
    const bool directory = type == '5' || type == 'D' || (type == '\0' && name.back() == '/');
    if (directory) continue;
    if (type != '0' && type != '\0' && type != '7') {
      throw fail_member(name,
                        fmt::format("member {} {}", printable_name(name), refused_type(type)));
    }
    members.push_back({std::move(name), data_offset - kBlock, data_offset, size, type});
  }
  return members;
}

const TarField* TarSample::find(std::string_view extension) const {
  for (const TarField& f : fields) {
    if (f.extension == extension) return &f;
  }
  return nullptr;
}

std::vector<TarSample> group_samples(const std::vector<TarMember>& members,
                                     const std::string& tar_path) {
  std::vector<TarSample> samples;
  std::unordered_set<std::string> finished;  // keys of samples already closed
  for (size_t i = 0; i < members.size(); ++i) {
    const std::string& name = members[i].name;
    // WebDataset's base_plus_ext: ^((?:.*/|)[^.]+)[.]([^/]*)$
    const size_t slash = name.rfind('/');
    const size_t base = slash == std::string::npos ? 0 : slash + 1;
    if (slash == std::string::npos && name.size() >= 4 && name.starts_with("__") &&
        name.ends_with("__")) {
      continue;  // WebDataset's top-level metadata ("__index__")
    }
    const size_t dot = name.find('.', base);
    if (dot == std::string::npos || dot == base) continue;
    std::string key = name.substr(0, dot);
    std::string extension = name.substr(dot + 1);
    auto fail = [&](const std::string& cause) {
      const std::string quoted = printable_name(name);
      return Error(tar_path + "#" + quoted.substr(1, quoted.size() - 2), "tar", cause);
    };
    if (samples.empty() || samples.back().key != key) {
      if (!samples.empty()) finished.insert(samples.back().key);
      if (finished.contains(key)) {
        throw fail(fmt::format(
            "sample {} is split: member {} comes after other samples' members (a sample's "
            "members must be consecutive)",
            printable_name(key), printable_name(name)));
      }
      samples.push_back({std::move(key), {}});
    } else if (samples.back().find(extension) != nullptr) {
      throw fail(fmt::format("sample {} has two {} members", printable_name(key),
                             printable_name(extension)));
    }
    samples.back().fields.push_back({std::move(extension), i});
  }
  return samples;
}

TarShard::TarShard(const std::string& path)
    : path_(path),
      file_(path),
      members_(list_tar(file_.bytes(), path)),
      samples_(group_samples(members_, path)) {}

std::span<const uint8_t> TarShard::data(const TarMember& member) const {
  return file_.bytes().subspan(size_t(member.data_offset), size_t(member.size));
}

}  // namespace gpuaug::data
