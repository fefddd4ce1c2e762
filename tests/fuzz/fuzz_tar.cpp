// libFuzzer target: tar shards through list_tar and group_samples, then written again by
// append_tar_member and read back. Checked: only gpuaug::Error escapes; every member is a safe
// name with its data inside the input, in order; a rewrite lists the same names, sizes and bytes.
#include <algorithm>
#include <vector>

#include "core/error.h"
#include "data/tar_reader.h"
#include "fuzz_common.h"
#include "jobs/tar_writer.h"

namespace gpuaug::fuzz {

inline int tar_one_input(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  std::vector<data::TarMember> members;
  try {
    members = data::list_tar(bytes, "fuzz.tar");
  } catch (const Error&) {
    return 0;
  }
  uint64_t next = 0;
  for (const data::TarMember& m : members) {
    GPUAUG_FUZZ_CHECK(m.header_offset >= next && m.header_offset + 512 == m.data_offset);
    GPUAUG_FUZZ_CHECK(m.data_offset % 512 == 0);
    GPUAUG_FUZZ_CHECK(m.data_offset <= size && m.size <= size - m.data_offset);
    GPUAUG_FUZZ_CHECK(data::unsafe_name_reason(m.name).empty());
    GPUAUG_FUZZ_CHECK(m.type == '0' || m.type == '\0' || m.type == '7');
    next = m.data_offset + m.size;
  }
  try {
    const auto samples = data::group_samples(members, "fuzz.tar");
    size_t last = 0;
    bool first = true;
    for (const data::TarSample& s : samples) {
      GPUAUG_FUZZ_CHECK(!s.fields.empty());
      for (const data::TarField& f : s.fields) {
        GPUAUG_FUZZ_CHECK(f.member < members.size());
        GPUAUG_FUZZ_CHECK(first || f.member > last);
        GPUAUG_FUZZ_CHECK(members[f.member].name == s.key + "." + f.extension);
        last = f.member;
        first = false;
      }
    }
  } catch (const Error&) {
  }
  // Rewrite what was read; names the writer cannot hold (over 255 bytes) end the check.
  std::vector<uint8_t> rewritten;
  try {
    for (const data::TarMember& m : members) {
      jobs::append_tar_member(rewritten, m.name, bytes.subspan(m.data_offset, m.size));
    }
  } catch (const Error&) {
    return 0;
  }
  const auto end = jobs::tar_end(rewritten.size());
  rewritten.insert(rewritten.end(), end.begin(), end.end());
  const auto again = data::list_tar(rewritten, "rewritten.tar");  // must not throw
  GPUAUG_FUZZ_CHECK(again.size() == members.size());
  for (size_t i = 0; i < std::min(again.size(), members.size()); ++i) {
    GPUAUG_FUZZ_CHECK(again[i].name == members[i].name && again[i].size == members[i].size);
    GPUAUG_FUZZ_CHECK(std::equal(rewritten.begin() + long(again[i].data_offset),
                                 rewritten.begin() + long(again[i].data_offset + again[i].size),
                                 data + members[i].data_offset));
  }
  return 0;
}

}  // namespace gpuaug::fuzz

#ifndef GPUAUG_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gpuaug::fuzz::tar_one_input(data, size);
}
#endif
