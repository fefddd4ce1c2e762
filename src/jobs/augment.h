// augment: a folder or list of images through a spec into a mirrored tree of outputs, with
// --copies, record/replay of drawn parameters and on_error raise|skip.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/gpu_workers.h"

namespace gpuaug::jobs {

struct AugmentOptions {
  std::string spec_path;
  std::string input;
  std::string output;
  int copies = 1;
  std::optional<uint64_t> seed;  // overrides the spec's seed
  uint64_t epoch = 0;
  int threads = 0;  // 0: all cores
  std::string format = "png";
  int jpeg_quality = 95;
  std::string record_path;
  std::string replay_path;
  std::string on_error = "raise";  // raise | skip | replace (the spec's `replacement:` image)
  bool progress = true;
  std::string device = "cpu";  // cpu, cuda, cuda:N, cuda:N,M,..., cuda:all (one worker per GPU)
  int batch = 64;              // images per GPU batch
  bool resume = false;         // finish an interrupted run from OUT's journal
  // Images of more pixels than this (0: none) are made one at a time after the others, their
  // outputs cut into tiles of side `tile` that every CPU thread (or GPU worker) of the process
  // computes from their own source regions: the same bytes, one huge image in memory at a time.
  uint64_t tile_threshold = 0;
  int tile = 4096;
};

struct AugmentSummary {
  size_t images = 0;
  size_t written = 0;
  size_t skipped = 0;
  size_t resumed = 0;  // work items a --resume found done
  size_t replaced = 0;  // images whose outputs came from the spec's replacement
  std::vector<std::string> errors;  // one line per skipped or replaced file
  // (image, copy) items each worker did in this run: CPU threads of each process, or each GPU.
  std::vector<pipeline::WorkerShare> shares;
  double seconds = 0.0;
};

// Throws gpuaug::Error on the first failure when on_error is raise.
AugmentSummary run_augment(const AugmentOptions& options);

}  // namespace gpuaug::jobs
