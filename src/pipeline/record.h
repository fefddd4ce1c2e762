// Record and replay: one JSON line per output sample holding its drawn parameters under
// torchvision.transforms.v2.functional's argument names, and the table that replays them.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/chain.h"

namespace gpuaug::pipeline {

// {"file", "index", "epoch", "copy", ["crop"], "ops": [{"op": name, "applied": bool, ...}]}
nlohmann::json record_line(const std::string& file, const SampleId& id, uint64_t epoch,
                           bool has_crops, const std::vector<DrawnOp>& drawn);

class ReplayTable {
 public:
  struct Entry {
    std::string file;
    SampleId id;
    std::vector<ops::Drawn> drawn;
  };

  // Reads a --record file; errors name the file, stage "replay" and the line.
  static ReplayTable load(const std::string& path, const Chain& chain);

  const std::vector<ops::Drawn>* find(const SampleId& id) const;
  const std::vector<Entry>& entries() const { return entries_; }
  uint64_t epoch() const { return epoch_; }

 private:
  std::vector<Entry> entries_;
  std::map<std::tuple<uint64_t, uint32_t, uint32_t>, size_t> by_id_;
  uint64_t epoch_ = 0;
};

}  // namespace gpuaug::pipeline
