// Record and replay: one JSON line per output sample holding its drawn parameters under
// torchvision.transforms.v2.functional's argument names, and the table that replays them.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include <optional>

#include "pipeline/chain.h"

namespace gpuaug::pipeline {

// {"file", "index", "seed", "epoch", "copy", ["crop"], "ops": [{"op": name, "applied": bool, ...}]}.
// The seed keys what no parameter holds (gaussian_noise's pixels, random_erasing's random
// values), so a replay takes it back as it takes the epoch.
nlohmann::json record_line(const std::string& file, const SampleId& id, uint64_t seed, uint64_t epoch,
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
  // The seed a --record file was written with (its first line's), to build the chain that
  // replays it; none in records written before seeds were recorded.
  static std::optional<uint64_t> recorded_seed(const std::string& path);

  const std::vector<ops::Drawn>* find(const SampleId& id) const;
  const std::vector<Entry>& entries() const { return entries_; }
  uint64_t epoch() const { return epoch_; }

 private:
  std::vector<Entry> entries_;
  std::map<std::tuple<uint64_t, uint32_t, uint32_t>, size_t> by_id_;
  uint64_t epoch_ = 0;
  std::optional<uint64_t> seed_;  // the first line's (recorded_seed); every line must agree
};

}  // namespace gpuaug::pipeline
