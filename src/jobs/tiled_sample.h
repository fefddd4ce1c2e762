// Tiled samples: one sample's output cut into tiles, each computed from its own source region on
// CPU threads, GPU workers and (under mpirun) every rank, and stitched — bit for bit the sample
// computed whole. `tile` runs one image so; augment and reduce run images above --tile-threshold
// so.
#pragma once

#include <cstddef>
#include <vector>

#include "codec/image_info.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "dist/communicator.h"
#include "ops/fold.h"
#include "pipeline/gpu_workers.h"
#include "plan/plan.h"

namespace gpuaug::jobs {

// The output's tiles of side `tile` (0: the whole output as one tile), row by row.
std::vector<codec::Rect> tile_windows(int out_w, int out_h, int tile);

struct TiledSample {
  Tensor tensor;  // the whole output (with several ranks, on rank 0 only)
  size_t tiles = 0;
  size_t largest_region_pixels = 0;  // the most decoded pixels one tile read, halo included
  std::vector<pipeline::WorkerShare> shares;  // tiles each worker of this process computed
};

// Where the tiles are computed: `pool`'s threads alone; or in batches of tiles on every worker
// of `workers` (each batch to whichever asks next); or on `worker` alone, from its own thread
// (inside GpuWorkers::run). The pool stitches.
struct TileDevices {
  pipeline::GpuWorkers* workers = nullptr;
  pipeline::GpuWorker* worker = nullptr;
};

// Sample `fold` (its geometry in `source`'s pixels) computed tile by tile where `devices` says;
// with `comm` every rank calls this together for the same sample, takes tiles on demand and
// sends what it computed to rank 0, which stitches. A stop request (jobs/stop_signal.h) ends it
// between tiles with the stop's error.
TiledSample run_tiled(const ops::FoldResult& fold, const Image& source,
                      const plan::PixelStreamId& stream, Layout layout, int tile, ThreadPool& pool,
                      TileDevices devices = {}, dist::Communicator* comm = nullptr);

// What run_tiled does for some of the output's tiles, from a view that holds at least their
// source regions (all of the decoded image, or a band of its rows: jobs/tile streams a JPEG so),
// stitched into `whole` (the output's tensor; with `comm`, rank 0's, and the other ranks' may
// be empty). `computed[w]` counts the tiles worker w of `devices` (or the pool, w = 0) computed
// and `largest_region` the most pixels a tile read.
void compute_tiles(const ops::FoldResult& fold, const plan::SourceView& source,
                   const plan::PixelStreamId& stream, Layout layout,
                   const std::vector<codec::Rect>& windows, Tensor& whole, ThreadPool& pool,
                   TileDevices devices, dist::Communicator* comm, std::vector<size_t>& computed,
                   size_t& largest_region);

// Names for the counts of compute_tiles: "cpu N threads", or each GPU worker's name.
std::vector<pipeline::WorkerShare> tile_shares(const std::vector<size_t>& computed,
                                               const ThreadPool& pool, TileDevices devices);

}  // namespace gpuaug::jobs
