// stats: dataset summary — counts, formats, size and aspect distributions, per-channel mean,
// std and histograms, RGB covariance and its eigenvectors — from exact integer reductions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "pipeline/gpu_workers.h"
#include "plan/pixel_stats.h"

namespace gpuaug::jobs {

struct StatsOptions {
  std::string input;              // folder, list or image (data::open_source)
  std::string output;             // stats.json
  int size = 0;                   // > 0: pixels after resizing the short side to this
  int threads = 0;                // 0: all cores
  // cuda[:N], cuda:all, cuda:N,M (without --size): the GPUs sum what the CPU threads decode,
  // exactly as the CPU would, so the file equals --device cpu's; and with gpu_share > 0 nvJPEG
  // decodes a share of the JPEGs on them too (one worker each), whose pixels, hence the
  // results, differ slightly from libjpeg-turbo's, but never with the number of GPUs.
  std::string device = "cpu";
  // The share of JPEGs that go to nvJPEG (in eighths: samples whose index % 8 is below
  // 8 · share) while the CPU threads decode the rest; fixed, so results never depend on timing.
  // 0 by default: exact, and faster until datasets far larger than 20,000 images (RESULTS.md).
  double gpu_share = 0;
  std::string on_error = "skip";  // skip (list the file in "errors") | raise
  bool resume = false;
  bool progress = true;
};

// Sums over pixels, kept as integers so that any split of the work (threads, windows, resumed
// runs, later GPUs and ranks) combines to the same totals and the same float64 results.
struct PixelSums {
  uint64_t pixels = 0;
  std::array<unsigned __int128, 3> sum{};
  std::array<unsigned __int128, 6> products{};  // rr gg bb rg rb gb
  std::array<std::array<uint64_t, 256>, 3> histogram{};

  void add(const Image& image);  // 3-channel 8-bit
  void merge(const PixelSums& other);
  void add(const plan::PixelTotals& totals);  // what a GPU reduced
  nlohmann::json to_json() const;  // 128-bit sums as decimal strings
  static PixelSums from_json(const nlohmann::json& j);
};

// Mean, std (population, as numpy), covariance on the [0, 1] scale and its eigen decomposition.
struct ChannelMoments {
  std::array<double, 3> mean{}, std{};
  std::array<std::array<double, 3>, 3> covariance{};
  std::array<double, 3> eigenvalues{};                   // descending
  std::array<std::array<double, 3>, 3> eigenvectors{};  // row k belongs to eigenvalue k
};
ChannelMoments channel_moments(const PixelSums& sums);

// Eigenvalues (descending) and unit eigenvectors (rows; largest-magnitude component positive)
// of a symmetric 3x3 matrix, by cyclic Jacobi rotations.
void symmetric_eigen3(const std::array<std::array<double, 3>, 3>& matrix, std::array<double, 3>& values,
                      std::array<std::array<double, 3>, 3>& vectors);

struct StatsSummary {
  size_t images = 0;
  size_t measured = 0;
  size_t skipped = 0;
  size_t resumed = 0;
  double seconds = 0.0;
  // Images each worker measured in this run: the CPU pool of each process (its own samples),
  // and each GPU (the samples of the claims it took).
  std::vector<pipeline::WorkerShare> shares;
  nlohmann::json result;  // what was written to the output
};

StatsSummary run_stats(const StatsOptions& options);

// Draws the PNG plots of a stats file into `dir` with `python3 -m gpuaug.plots` (matplotlib:
// the plotting library rather than charts drawn by hand here); $GPUAUG_PYTHON names another
// interpreter. Error(stage "plots") when it cannot run or fails, saying what to install.
void draw_stats_plots(const std::string& stats_path, const std::string& dir);

std::string stats_summary_text(const StatsSummary& summary);

}  // namespace gpuaug::jobs
