// Tiled samples: one sample's output cut into tiles, each computed from its own source region on
// CPU threads, GPU workers and (under mpirun) every rank, and stitched — bit for bit the sample
// computed whole. `tile` runs one image so; augment and reduce run images above --tile-threshold
// so.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "codec/decoder.h"
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

// Where the stitching rank's tiles go. put is called from several threads at once, each time
// with another window; landed from the stitching thread once every tile put so far is in.
class TileSink {
 public:
  virtual ~TileSink() = default;
  virtual void put(const codec::Rect& window, const Tensor& tile) = 0;
  virtual void landed() {}
};

// Tile `t` (window `w` of an output of out_w x out_h, same dtype, layout and channels) as runs of
// contiguous bytes: fn(element of the output where the run starts, the run's bytes in `t`, its
// length in bytes). A row a run in HWC, a row of a channel in CHW.
template <class Fn>
void for_each_tile_run(const codec::Rect& w, const Tensor& t, int out_w, int out_h, Fn&& fn) {
  const size_t e = dtype_size(t.dtype);
  const auto* src = reinterpret_cast<const uint8_t*>(t.data.data());
  const bool hwc = t.layout == Layout::kHWC;
  const size_t run = size_t(w.width) * (hwc ? t.channels : 1) * e;
  for (int c = 0; c < (hwc ? 1 : t.channels); ++c)
    for (int y = 0; y < w.height; ++y) {
      const size_t element = hwc ? (size_t(w.y + y) * out_w + w.x) * t.channels
                                 : (size_t(c) * out_h + w.y + y) * out_w + w.x;
      fn(element, src + t.offset(y, 0, c) * e, run);
    }
}

// Tiles into one tensor of the whole output (same dtype, layout and channels).
class TensorSink final : public TileSink {
 public:
  explicit TensorSink(Tensor& whole) : whole_(whole) {}
  void put(const codec::Rect& window, const Tensor& tile) override;

 private:
  Tensor& whole_;
};

struct TiledSample {
  Tensor tensor;  // the whole output (with several ranks, on rank 0 only; none with a sink)
  size_t tiles = 0;
  int decoded_width = 0, decoded_height = 0;  // the pixels decoded (the region all tiles read)
  size_t largest_band_rows = 0;      // streamed: the most decoded rows held at once (0: held whole)
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
// between tiles with the stop's error. With `sink` the stitching rank's tiles go there instead
// of into TiledSample::tensor. Tiles go a few tile rows at a time (at most kSinkGroupBytes of
// output, then sink->landed()), so that rank 0 holds no more of other ranks' tiles than that.
inline constexpr size_t kSinkGroupBytes = size_t(256) << 20;
TiledSample run_tiled(const ops::FoldResult& fold, const Image& source,
                      const plan::PixelStreamId& stream, Layout layout, int tile, ThreadPool& pool,
                      TileDevices devices = {}, dist::Communicator* comm = nullptr,
                      TileSink* sink = nullptr, size_t group_bytes = kSinkGroupBytes);

// Whether run_tiled_streamed takes an image of this header cut into tiles of side `tile`: an
// upright JPEG or non-interlaced PNG (codec::RowReader), tile > 0. For bytes: false where the header cannot be read (the decode that
// follows reports it).
bool streams(const codec::ImageInfo& info, int tile);
bool streams(std::span<const uint8_t> bytes, uint64_t max_pixels, int tile);

// run_tiled on an image decoded in one pass (codec::RowReader: decode_image's rows) of
// which only the rows a tile row reads are held: the same bytes as run_tiled on the whole
// decode of `request` (what Augmenter::prepare with defer_cpu_decode asks), whose plan `fold`
// still is in source coordinates (it is moved into the decoded pixels here). `bytes` is the
// file; errors as decode_jpeg's and run_tiled's.
TiledSample run_tiled_streamed(ops::FoldResult& fold, std::span<const uint8_t> bytes,
                               const codec::DecodeRequest& request,
                               const plan::PixelStreamId& stream, Layout layout, int tile,
                               ThreadPool& pool, TileDevices devices = {},
                               dist::Communicator* comm = nullptr, TileSink* sink = nullptr);

// What run_tiled does for some of the output's tiles, from a view that holds at least their
// source regions (all of the decoded image, or a band of its rows: jobs/tile streams a JPEG so),
// put into `sink` (with `comm`, rank 0's; the other ranks' may be null), then sink->landed().
// `computed[w]` counts the tiles worker w of `devices` (or the pool, w = 0) computed
// and `largest_region` the most pixels a tile read.
void compute_tiles(const ops::FoldResult& fold, const plan::SourceView& source,
                   const plan::PixelStreamId& stream, Layout layout,
                   const std::vector<codec::Rect>& windows, TileSink* sink, ThreadPool& pool,
                   TileDevices devices, dist::Communicator* comm, std::vector<size_t>& computed,
                   size_t& largest_region);

// Names for the counts of compute_tiles: "cpu N threads", or each GPU worker's name.
std::vector<pipeline::WorkerShare> tile_shares(const std::vector<size_t>& computed,
                                               const ThreadPool& pool, TileDevices devices);

}  // namespace gpuaug::jobs
