// Record lines and the replay table.
#include "pipeline/record.h"

#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"

namespace gpuaug::pipeline {

namespace {

nlohmann::json number_json(double v) {
  if (v == std::floor(v) && std::abs(v) < 9007199254740992.0) return static_cast<int64_t>(v);
  return v;
}

}  // namespace

nlohmann::json record_line(const std::string& file, const SampleId& id, uint64_t seed, uint64_t epoch,
                           bool has_crops, const std::vector<DrawnOp>& drawn) {
  nlohmann::json line;
  line["file"] = file;
  line["index"] = id.index;
  line["seed"] = seed;
  line["epoch"] = epoch;
  line["copy"] = id.copy;
  if (has_crops) line["crop"] = id.crop - 1;
  nlohmann::json ops = nlohmann::json::array();
  for (const DrawnOp& d : drawn) {
    nlohmann::json op;
    op["op"] = d.op->descriptor().name;
    op["applied"] = d.drawn.applied;
    for (uint8_t i = 0; i < d.drawn.count; ++i) {
      const ops::Drawn::Entry& e = d.drawn.entries[i];
      if (e.n == 1) {
        op[e.key] = number_json(e.v[0]);
      } else {
        nlohmann::json values = nlohmann::json::array();
        for (uint8_t k = 0; k < e.n; ++k) values.push_back(number_json(e.v[k]));
        op[e.key] = values;
      }
    }
    ops.push_back(op);
  }
  line["ops"] = ops;
  return line;
}

std::optional<uint64_t> ReplayTable::recorded_seed(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  while (std::getline(in, text)) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const nlohmann::json line = nlohmann::json::parse(text);
      if (line.is_object() && line.contains("seed") && line["seed"].is_number_unsigned())
        return line["seed"].get<uint64_t>();
    } catch (const nlohmann::json::exception&) {
    }
    return std::nullopt;  // load() says what is wrong with the line
  }
  return std::nullopt;
}

ReplayTable ReplayTable::load(const std::string& path, const Chain& chain) {
  std::ifstream in(path);
  if (!in) throw Error(path, "replay", "cannot open the record file");
  ReplayTable table;
  std::string text;
  int line_no = 0;
  bool first = true;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto fail = [&](const std::string& cause) {
      throw Error(path, "replay", fmt::format("line {}: {}", line_no, cause));
    };
    try {
      const nlohmann::json line = nlohmann::json::parse(text);
      Entry entry;
      entry.file = line.at("file").get<std::string>();
      entry.id.index = line.at("index").get<uint64_t>();
      entry.id.copy = line.value("copy", 0u);
      entry.id.crop = chain.has_local_crops() ? line.at("crop").get<uint32_t>() + 1 : 0;
      const uint64_t epoch = line.value("epoch", uint64_t{0});
      if (first) table.epoch_ = epoch;
      else if (epoch != table.epoch_) fail(fmt::format("epoch {} differs from the first line's {}", epoch, table.epoch_));
      // One seed for the file, as one epoch: the chain replaying it was built with the first's.
      const std::optional<uint64_t> seed =
          line.contains("seed") ? std::optional<uint64_t>(line.at("seed").get<uint64_t>()) : std::nullopt;
      if (first) table.seed_ = seed;
      else if (seed != table.seed_) fail("its seed differs from the first line's");
      first = false;
      const nlohmann::json& ops = line.at("ops");
      if (!ops.is_array() || ops.size() != chain.size())
        fail(fmt::format("{} ops recorded, the spec has {}", ops.is_array() ? ops.size() : 0, chain.size()));
      for (size_t k = 0; k < chain.size(); ++k) {
        const ops::OpDescriptor& descriptor = chain.op(k).descriptor();
        const nlohmann::json& op = ops[k];
        if (op.value("op", std::string()) != descriptor.name)
          fail(fmt::format("op {} is '{}', the spec has '{}'", k, op.value("op", std::string()), descriptor.name));
        ops::Drawn drawn;
        drawn.applied = op.value("applied", true);
        for (const std::string& key : descriptor.drawn) {
          if (!op.contains(key)) continue;
          const nlohmann::json& v = op[key];
          if (v.is_number()) {
            drawn.set(key.c_str(), v.get<double>());
          } else if (v.is_array() && !v.empty() && v.size() <= 4) {
            const std::vector<double> xs = v.get<std::vector<double>>();
            drawn.set_values(key.c_str(), xs.data(), xs.size());
          } else {
            fail(fmt::format("{}.{}: expected a number or a list of up to 4 numbers", descriptor.name, key));
          }
        }
        entry.drawn.push_back(drawn);
      }
      table.by_id_[{entry.id.index, entry.id.copy, entry.id.crop}] = table.entries_.size();
      table.entries_.push_back(std::move(entry));
    } catch (const nlohmann::json::exception& e) {
      fail(e.what());
    }
  }
  return table;
}

const std::vector<ops::Drawn>* ReplayTable::find(const SampleId& id) const {
  const auto it = by_id_.find({id.index, id.copy, id.crop});
  return it == by_id_.end() ? nullptr : &entries_[it->second].drawn;
}

}  // namespace gpuaug::pipeline
