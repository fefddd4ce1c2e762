// reduce: shrinks every image (antialiased resize), re-encodes it, and writes a mirror tree or
// WebDataset-style tar shards with an index; resumable, outputs whole or absent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/gpu_workers.h"
#include "pipeline/spec.h"

namespace gpuaug::jobs {

struct ReduceOptions {
  std::string input;             // folder, list or image (data::open_source)
  std::string output;            // folder: the mirror tree, or the shards and index.json
  int max_side = 0;              // longer side at most this (never enlarges); or
  double scale = 0.0;            // both sides times this (floor, at least 1 pixel)
  std::string format = "jpg";    // jpg | png
  int quality = 90;              // JPEG quality
  int shards = 0;                // N shards of consecutive samples; or
  uint64_t shard_size = 0;       // a new shard when the next sample would pass this many bytes
  bool dct_scaling = false;      // decode JPEGs at 1/2..1/8 first: faster, not Pillow-exact
  int threads = 0;               // 0: all cores
  std::string device = "cpu";    // cpu, cuda, cuda:N, cuda:N,M,..., cuda:all
  int batch = 64;                // images per GPU batch
  // With a GPU: of the JPEGs nvJPEG takes, those whose index % 8 is below 8 x this (as augment's
  // decode.gpu_share); the CPU threads decode the rest at the same time. 5/8 balances the
  // H100/H200 machines' hardware engine against 16 threads (RESULTS run 4). Augment's default
  // is now its own exact GPU decoder, which reduce's workers do not run.
  double gpu_share = 0.625;
  std::string on_error = "raise";  // raise | skip
  bool resume = false;
  bool progress = true;
  // Images of more pixels than this (0: none) are resized after the rest of their window, one at
  // a time, their output in tiles of side `tile` over every CPU thread (or on the worker's GPU):
  // the same bytes, one huge decode at a time.
  uint64_t tile_threshold = 0;
  int tile = 4096;
};

struct ReduceSummary {
  size_t images = 0;
  size_t written = 0;
  size_t skipped = 0;
  size_t resumed = 0;            // samples a --resume found already done
  size_t shards = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::vector<std::string> errors;
  std::vector<pipeline::WorkerShare> shares;  // samples each worker wrote in this run
  double seconds = 0.0;
};

// The output size for an upright width x height image: (height, width).
std::pair<int, int> reduced_size(int width, int height, int max_side, double scale);

ReduceSummary run_reduce(const ReduceOptions& options);

std::string reduce_summary_text(const ReduceSummary& summary, const ReduceOptions& options);

}  // namespace gpuaug::jobs
