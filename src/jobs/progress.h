// Progress: done/total, rate and ETA on one terminal line, only when stderr is a terminal; and the
// summary line of who did how much.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/world.h"
#include "pipeline/gpu_workers.h"

namespace gpuaug::jobs {

class Progress {
 public:
  Progress(std::string label, size_t total, bool enabled);
  ~Progress();
  void advance(size_t n = 1);
  void finish();

 private:
  void draw(bool final);

  std::string label_;
  size_t total_;
  size_t done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "  shares: cuda:0 510 (50.2%), cuda:1 506 (49.8%)\n"; empty for one worker.
std::string shares_text(const std::vector<pipeline::WorkerShare>& shares, const char* unit = "");

// Each worker named "rank R <worker>" when the job has several processes.
void name_by_rank(std::vector<pipeline::WorkerShare>& shares, const dist::World& world);
// Shares in a rank's part for rank 0 ([[worker, items], ...]), and back.
nlohmann::json shares_json(const std::vector<pipeline::WorkerShare>& shares);
void append_shares(const nlohmann::json& part, std::vector<pipeline::WorkerShare>& into);

}  // namespace gpuaug::jobs
