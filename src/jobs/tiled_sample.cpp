// Tiled samples: tiles handed out on demand (dist::ChunkQueue: a tile per CPU thread's pull, a
// batch of tiles per GPU worker's, across ranks under mpirun), each computed from a view of its
// source region only, stitched where they land; other ranks' tiles reach rank 0 in one gather.
#include "jobs/tiled_sample.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "codec/decoder.h"
#include "core/error.h"
#include "jobs/stop_signal.h"

namespace gpuaug::jobs {

namespace {

// Where batch b of tiles begins (b = 0 .. size-2; the last entry is the tile count): one tile a
// batch on the CPU, on GPUs as many as fit kBatchPixels output pixels (at least one).
std::vector<size_t> batch_starts(const std::vector<codec::Rect>& windows, bool gpu) {
  constexpr size_t kBatchPixels = size_t(64) << 20;
  std::vector<size_t> starts{0};
  for (size_t i = 0, pixels = 0; i < windows.size(); ++i) {
    const size_t tile = size_t(windows[i].width) * windows[i].height;
    if (i > starts.back() && (!gpu || pixels + tile > kBatchPixels))
      starts.push_back(i), pixels = 0;
    pixels += tile;
  }
  starts.push_back(windows.size());
  return starts;
}

}  // namespace

void TensorSink::put(const codec::Rect& w, const Tensor& t) {
  auto* dst = reinterpret_cast<uint8_t*>(whole_.data.data());
  const size_t e = dtype_size(t.dtype);
  for_each_tile_run(w, t, whole_.width, whole_.height,
                    [&](size_t element, const uint8_t* run, size_t bytes) {
                      std::memcpy(dst + element * e, run, bytes);
                    });
}

std::vector<codec::Rect> tile_windows(int out_w, int out_h, int tile) {
  const int side_x = tile > 0 ? tile : out_w, side_y = tile > 0 ? tile : out_h;
  std::vector<codec::Rect> windows;
  for (int y = 0; y < out_h; y += side_y)
    for (int x = 0; x < out_w; x += side_x)
      windows.push_back({x, y, std::min(side_x, out_w - x), std::min(side_y, out_h - y)});
  return windows;
}

TiledSample run_tiled(const ops::FoldResult& fold, const Image& source,
                      const plan::PixelStreamId& stream, Layout layout, int tile, ThreadPool& pool,
                      TileDevices devices, dist::Communicator* comm, TileSink* sink,
                      size_t group_bytes) {
  const int W = fold.geometry.out_w, H = fold.geometry.out_h;
  const std::vector<codec::Rect> windows = tile_windows(W, H, tile);
  TiledSample out;
  out.tiles = windows.size();
  out.decoded_width = source.width, out.decoded_height = source.height;
  std::optional<TensorSink> whole;
  if (sink == nullptr && (comm == nullptr || comm->rank() == 0)) {
    out.tensor = Tensor(fold.dtype, layout, H, W, fold.channels);
    sink = &whole.emplace(out.tensor);
  }
  // Whole tile rows of at most group_bytes at a time (at least one row), alike on every rank
  // whatever its sink, since each group is one round of the communicator.
  const size_t row_bytes =
      size_t(W) * fold.channels * dtype_size(fold.dtype) * size_t(tile > 0 ? tile : H);
  const size_t rows_a_group = std::max<size_t>(1, group_bytes / std::max<size_t>(1, row_bytes));
  std::vector<size_t> computed;
  for (size_t first = 0; first < windows.size();) {
    size_t end = first;
    for (size_t rows = 0; end < windows.size() && rows < rows_a_group; ++rows)
      for (const int y = windows[end].y; end < windows.size() && windows[end].y == y;) ++end;
    const std::vector<codec::Rect> group(windows.begin() + long(first), windows.begin() + long(end));
    compute_tiles(fold, plan::SourceView::of(source), stream, layout, group, sink, pool, devices,
                  comm, computed, out.largest_region_pixels);
    first = end;
  }
  out.shares = tile_shares(computed, pool, devices);
  return out;
}

std::vector<pipeline::WorkerShare> tile_shares(const std::vector<size_t>& computed,
                                               const ThreadPool& pool, TileDevices devices) {
  const auto count = [&](size_t w) { return w < computed.size() ? computed[w] : 0; };
  if (devices.workers) {
    std::vector<pipeline::WorkerShare> shares;
    for (size_t w = 0; w < devices.workers->size(); ++w)
      shares.push_back({(*devices.workers)[w].name, count(w)});
    return shares;
  }
  if (devices.worker) return {{devices.worker->name, count(0)}};
  return {{fmt::format("cpu {} threads", pool.size()), count(0)}};
}

void compute_tiles(const ops::FoldResult& fold, const plan::SourceView& source,
                   const plan::PixelStreamId& stream, Layout layout,
                   const std::vector<codec::Rect>& windows, TileSink* sink, ThreadPool& pool,
                   TileDevices devices, dist::Communicator* comm, std::vector<size_t>& computed,
                   size_t& largest_region) {
  const bool stitch_here = comm == nullptr || comm->rank() == 0;
  // A view limited to a tile's region: the tile reads nothing else (on the GPU, only the region
  // is uploaded).
  std::vector<plan::SourceView> views(windows.size());
  for (size_t i = 0; i < windows.size(); ++i) {
    const codec::Rect r =
        plan::source_region(fold, source.image_width, source.image_height, windows[i]);
    views[i] = {
        source.pixels, source.stride, {0, 0, 0, 0}, source.image_width, source.image_height};
    if (r.width > 0) {
      if (r.x < source.region.x || r.y < source.region.y ||
          r.x + r.width > source.region.x + source.region.width ||
          r.y + r.height > source.region.y + source.region.height)
        throw Error("", "tile",
                    "internal: a tile's source region lies outside the decoded rows held");
      views[i] = {source.at(r.x, r.y), source.stride, r, source.image_width, source.image_height};
    }
    largest_region = std::max(largest_region, size_t(r.width) * r.height);
  }
  // Tiles computed here for rank 0 (index, tensor), when this is another rank.
  std::vector<std::pair<size_t, Tensor>> for_rank0;
  std::mutex for_rank0_mutex;
  auto land = [&](size_t i, Tensor t) {
    if (stitch_here) return sink->put(windows[i], t);
    const std::lock_guard lock(for_rank0_mutex);
    for_rank0.emplace_back(i, std::move(t));
  };

  const bool gpu = devices.workers != nullptr || devices.worker != nullptr;
  computed.resize(std::max<size_t>(computed.size(), devices.workers ? devices.workers->size() : 1),
                  0);
  const std::vector<size_t> starts = batch_starts(windows, gpu);
  dist::ChunkQueue batches(starts.size() - 1, comm);
  if (gpu) {
    auto compute = [&](pipeline::GpuWorker& worker, size_t& count) {
      while (!stop_requested() && !(devices.workers && devices.workers->failed())) {
        const auto b = batches.next();
        if (!b) return;
        std::vector<plan::SampleJob> jobs;
        for (size_t i = starts[*b]; i < starts[*b + 1]; ++i) {
          plan::SampleJob job{&fold, nullptr, -1, stream};
          job.source_view = views[i];
          job.window = windows[i];
          jobs.push_back(job);
        }
        std::vector<Tensor> tiles = worker.executor->run_to_host(jobs, layout);
        pool.parallel_for(tiles.size(),
                          [&](size_t k) { land(starts[*b] + k, std::move(tiles[k])); });
        count += jobs.size();
      }
    };
    // Counted apart from worker.items, which holds the calling job's own unit (images).
    if (devices.workers)
      devices.workers->run(
          [&](pipeline::GpuWorker& worker) { compute(worker, computed[worker.index]); });
    else
      compute(*devices.worker, computed[0]);
  } else {
    std::atomic<size_t> count{0};
    pool.parallel_for(size_t(pool.size()), [&](size_t) {
      while (!stop_requested()) {
        const auto b = batches.next();
        if (!b) return;
        land(*b, plan::execute_cpu_window(fold, views[*b], stream, layout, windows[*b]));
        ++count;
      }
    });
    computed[0] += count.load();
  }
  throw_if_stopped();
  if (comm == nullptr || comm->size() == 1) {
    sink->landed();
    return;
  }

  // Every other rank's tiles to rank 0: (index, then the tile's bytes) after one another.
  std::string mine;
  for (const auto& [i, t] : for_rank0) {
    const uint64_t index = i;
    mine.append(reinterpret_cast<const char*>(&index), sizeof index);
    mine.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
  }
  for_rank0.clear();
  for (const std::string& part : comm->gather(mine)) {
    for (size_t at = 0; at < part.size();) {
      uint64_t i = 0;
      if (part.size() - at < sizeof i) throw Error("", "tile", "a rank sent a tile cut short");
      std::memcpy(&i, part.data() + at, sizeof i);
      at += sizeof i;
      if (i >= windows.size())
        throw Error("", "tile", fmt::format("a rank sent tile {} of {}", i, windows.size()));
      const codec::Rect& w = windows[i];
      Tensor t(fold.dtype, layout, w.height, w.width, fold.channels);
      if (part.size() - at < t.data.size()) throw Error("", "tile", "a rank sent a tile cut short");
      std::memcpy(t.data.data(), part.data() + at, t.data.size());
      at += t.data.size();
      if (sink) sink->put(w, t);
    }
  }
  if (sink) sink->landed();
}

bool streams(const codec::ImageInfo& info, int tile) { return tile > 0 && codec::RowReader::takes(info); }

bool streams(std::span<const uint8_t> bytes, uint64_t max_pixels, int tile) {
  try {
    return streams(codec::peek_image(bytes, max_pixels), tile);
  } catch (const Error&) {
    return false;
  }
}

// Tile rows go in the order of the first decoded row they read, and the rows above that are
// dropped: the reader's rows are the whole decode's (codec::RowReader), hence the bytes.
TiledSample run_tiled_streamed(ops::FoldResult& fold, std::span<const uint8_t> bytes,
                               const codec::DecodeRequest& request,
                               const plan::PixelStreamId& stream, Layout layout, int tile,
                               ThreadPool& pool, TileDevices devices, dist::Communicator* comm,
                               TileSink* sink) {
  codec::RowReader reader(bytes, request);
  fold.geometry =
      plan::retarget(fold.geometry, reader.scale_denom(), reader.origin_x(), reader.origin_y());
  const int width = reader.width(), height = reader.rows();

  // Tile rows (their windows share a y), with the decoded rows [lo, hi) their tiles read.
  struct Band {
    std::vector<codec::Rect> windows;
    int lo = 0, hi = 0;
  };
  std::vector<Band> bands;
  for (const codec::Rect& w : tile_windows(fold.geometry.out_w, fold.geometry.out_h, tile)) {
    if (bands.empty() || bands.back().windows.front().y != w.y) bands.push_back({});
    Band& band = bands.back();
    band.windows.push_back(w);
    const codec::Rect r = plan::source_region(fold, width, height, w);
    if (r.width <= 0) continue;
    const bool first = band.lo == band.hi;
    band.lo = first ? r.y : std::min(band.lo, r.y);
    band.hi = first ? r.y + r.height : std::max(band.hi, r.y + r.height);
  }
  std::stable_sort(bands.begin(), bands.end(),
                   [](const Band& a, const Band& b) { return a.lo < b.lo; });

  TiledSample out;
  out.decoded_width = width, out.decoded_height = height;
  std::optional<TensorSink> whole;
  if (sink == nullptr && (comm == nullptr || comm->rank() == 0)) {
    out.tensor =
        Tensor(fold.dtype, layout, fold.geometry.out_h, fold.geometry.out_w, fold.channels);
    sink = &whole.emplace(out.tensor);
  }
  const size_t stride = size_t(width) * 3;
  // Decoded rows [first, first + count), the last ones read (never empty: a tile that reads no
  // pixel still gets a view of real memory).
  std::vector<uint8_t> held(stride);
  int first = 0, count = 0;
  std::vector<size_t> computed;
  for (const Band& band : bands) {
    out.tiles += band.windows.size();
    if (band.hi > band.lo) {
      // Bands go by their first row, so what lies above this one is not read again.
      const int drop = std::clamp(band.lo - first, 0, count);
      std::memmove(held.data(), held.data() + size_t(drop) * stride, size_t(count - drop) * stride);
      first += drop, count -= drop;
      // Rows between the last band's and this one's: decoded (a JPEG or PNG only in order), dropped.
      if (count == 0) {
        while (reader.rows_read() < band.lo) {
          uint8_t* row = held.data();
          reader.read(&row, 1);
        }
        first = reader.rows_read();
      }
      if (reader.rows_read() < band.hi) {
        held.resize(std::max(held.size(), size_t(band.hi - first) * stride));
        std::vector<uint8_t*> rows;
        for (int y = reader.rows_read(); y < band.hi; ++y)
          rows.push_back(held.data() + size_t(y - first) * stride);
        reader.read(rows.data(), int(rows.size()));
        count = band.hi - first;
      }
      out.largest_band_rows = std::max(out.largest_band_rows, size_t(count));
    }
    const plan::SourceView view{held.data(), stride, {0, first, width, count}, width, height};
    compute_tiles(fold, view, stream, layout, band.windows, sink, pool, devices, comm, computed,
                  out.largest_region_pixels);
  }
  out.shares = tile_shares(computed, pool, devices);
  return out;
}

}  // namespace gpuaug::jobs
