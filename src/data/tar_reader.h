// Reading tar shards WebDataset-style: the members of a ustar/GNU/pax archive, checked for
// safety, grouped into samples by key; from a byte span or a mapped shard file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/mapped_file.h"

namespace gpuaug::data {

// A regular file inside the archive.
struct TarMember {
  std::string name;            // as stored: pax 'path', GNU long name, or ustar prefix/name
  uint64_t header_offset = 0;  // the member's own header (after any pax or long-name header)
  uint64_t data_offset = 0;    // its first byte; a multiple of 512
  uint64_t size = 0;
  char type = '0';  // typeflag: '0', '\0' (pre-POSIX regular file) or '7' (contiguous file)
};

// Lists the regular files of a tar archive (POSIX ustar, GNU tar, pax; v7 headers read too), in
// archive order. tar_path only names the archive in errors.
//
// Skipped: directories, pax headers ('x': its 'path' and 'size' keys apply to the next member;
// 'g' global headers are ignored), GNU long names ('L': applies to the next member) and long
// link names ('K'), volume labels ('V') and dump directories ('D'). The archive ends at the
// first zero block, as GNU tar and Python's tarfile read it (the second zero block and the
// record padding after it are not needed); an archive that simply stops after a member's data
// is accepted too, as tar readers do.
//
// Refused, as gpuaug::Error(file, "tar", cause), where file is tar_path, plus "#<member name>"
// once the name is known:
//   "empty file (not a tar archive)"
//   "header checksum mismatch at offset 1024 (not a tar archive, or a damaged one)"
//   "truncated: a partial header block at offset 1024 (300 bytes of 512)"
//   "truncated: member 'a.jpg' claims 5000 bytes, 120 remain"
//   "member '../../x' escapes the archive (a '..' component)"
//   "member '/etc/x' has an absolute name"
//   "member 'l' is a symbolic link (only regular files are read)"  (hard links, devices and
//     FIFOs alike; and "has unsupported type 'S'" for GNU sparse files and unknown types)
//   malformed size fields and pax records, names holding a NUL byte, empty names.
// Never reads outside `archive`.
std::vector<TarMember> list_tar(std::span<const uint8_t> archive, const std::string& tar_path);

// Why a member name is unsafe to extract under a folder, or "" when it is safe: "has an empty
// name", "has an absolute name", "escapes the archive (a '..' component)", "has a NUL byte in its
// name". list_tar refuses such members; jobs::TarWriter refuses to write them.
std::string unsafe_name_reason(std::string_view name);

// The name as error messages quote it: control bytes as \xNN (archive names are untrusted and
// end up on terminals).
std::string printable_name(std::string_view name);

// One file of a sample: "jpg" of "dir/abc.jpg", and the index of its member.
struct TarField {
  std::string extension;
  size_t member = 0;
};

// A WebDataset sample: the consecutive members sharing a key.
struct TarSample {
  std::string key;               // "dir/abc" for "dir/abc.jpg" and "dir/abc.cls"
  std::vector<TarField> fields;  // in archive order

  // The field with this extension ("jpg", "seg.png"), or nullptr.
  const TarField* find(std::string_view extension) const;
};

// Groups members into samples as WebDataset does: the key is the name up to the first '.' of its
// basename, the extension the rest ("dir/abc.seg.png" -> "dir/abc", "seg.png"); consecutive
// members with one key form a sample. Skipped, as WebDataset skips them: members whose basename
// has no '.' after its first character ("README", ".hidden"), and top-level "__*__" metadata.
// Refused (gpuaug::Error(tar_path#member, "tar", cause)): an extension repeated within a sample
// ("sample 'abc' has two 'jpg' members"), and a key whose members are not consecutive ("sample
// 'abc' is split: ...", where WebDataset would silently yield two half samples).
std::vector<TarSample> group_samples(const std::vector<TarMember>& members,
                                     const std::string& tar_path);

// A shard file mapped read-only, with its members and samples. Errors: MappedFile's (stage
// "read"), then list_tar's and group_samples' (stage "tar"), all naming the path.
class TarShard {
 public:
  explicit TarShard(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<TarMember>& members() const { return members_; }
  const std::vector<TarSample>& samples() const { return samples_; }
  std::span<const uint8_t> bytes() const { return file_.bytes(); }

  // A member's bytes, valid while the shard lives.
  std::span<const uint8_t> data(const TarMember& member) const;
  std::span<const uint8_t> data(const TarField& field) const {
    return data(members_[field.member]);
  }

 private:
  std::string path_;
  MappedFile file_;
  std::vector<TarMember> members_;
  std::vector<TarSample> samples_;
};

}  // namespace gpuaug::data
