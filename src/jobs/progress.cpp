// Progress bar drawing, throttled to ten redraws a second.
#include "jobs/progress.h"

#include <cstdio>

#include <fmt/format.h>
#include <unistd.h>

namespace gpuaug::jobs {

Progress::Progress(std::string label, size_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && ::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(size_t n) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ > std::chrono::milliseconds(100) || done_ == total_) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  std::lock_guard lock(mutex_);
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done_ / seconds : 0.0;
  const double eta = rate > 0 && total_ > done_ ? (total_ - done_) / rate : 0.0;
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? int(kWidth * double(done_) / total_) : kWidth;
  const std::string bar = std::string(filled, '=') + std::string(kWidth - filled, ' ');
  fmt::print(stderr, "\r{} [{}] {}/{} {:.1f}/s ETA {:.0f}s{}", label_, bar, done_, total_, rate,
             eta, final ? "\n" : "");
  std::fflush(stderr);
}

std::string shares_text(const std::vector<pipeline::WorkerShare>& shares, const char* unit) {
  if (shares.size() < 2) return "";
  size_t total = 0;
  for (const auto& s : shares) total += s.items;
  std::string text = "  shares:";
  for (size_t i = 0; i < shares.size(); ++i)
    text += fmt::format("{} {} {}{} ({:.1f}%)", i ? "," : "", shares[i].worker, shares[i].items, unit,
                        total ? 100.0 * double(shares[i].items) / double(total) : 0.0);
  return text + "\n";
}

void name_by_rank(std::vector<pipeline::WorkerShare>& shares, const dist::World& world) {
  if (world.distributed())
    for (auto& share : shares) share.worker = fmt::format("rank {} {}", world.rank, share.worker);
}

nlohmann::json shares_json(const std::vector<pipeline::WorkerShare>& shares) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& share : shares) j.push_back({share.worker, share.items});
  return j;
}

void append_shares(const nlohmann::json& part, std::vector<pipeline::WorkerShare>& into) {
  for (const auto& share : part) into.push_back({share.at(0).get<std::string>(), share.at(1).get<size_t>()});
}

}  // namespace gpuaug::jobs
