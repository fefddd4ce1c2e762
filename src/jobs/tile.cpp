// tile: decode once, then compute the output's tiles on demand (CPU threads, GPU workers, and under
// mpirun every rank: jobs/tiled_sample.h), stitch them on rank 0 and write the output whole.
#include "jobs/tile.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "codec/encoder.h"
#include "codec/image_info.h"
#include "codec/jpeg_decoder.h"
#include "core/device.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "jobs/tiled_sample.h"
#include "pipeline/augmenter.h"
#include "pipeline/gpu_workers.h"
#include "pipeline/spec.h"
#include "plan/plan.h"

namespace gpuaug::jobs {

namespace {

enum class OutputKind { kPng, kJpeg, kNpy };

OutputKind output_kind(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".png") return OutputKind::kPng;
  if (ext == ".jpg" || ext == ".jpeg") return OutputKind::kJpeg;
  if (ext == ".npy") return OutputKind::kNpy;
  throw Error(path, "tile", "the output must end in .png, .jpg, .jpeg or .npy");
}

// The sample's tiles from an upright JPEG decoded in one libjpeg pass whose rows are held only
// while a tile row reads them: tile rows go in the order of the first decoded row they read,
// and the rows above that are dropped. The same rows as the whole decode (codec::JpegRowReader),
// hence the same bytes; `summary` gets the decoded size and the most rows held at once.
TiledSample stream_tiles(ops::FoldResult& fold, const std::vector<uint8_t>& bytes,
                         const codec::DecodeRequest& request, const plan::PixelStreamId& stream,
                         Layout layout, int tile, ThreadPool& pool, TileDevices devices,
                         dist::Communicator* comm, TileSummary& summary) {
  const codec::ImageInfo info = codec::peek_image(bytes, request.max_pixels);
  codec::JpegRowReader reader(bytes, request.scale_denom,
                              codec::clip_region(request.region, info.width, info.height), request.max_pixels);
  fold.geometry = plan::retarget(fold.geometry, request.scale_denom, reader.origin_x(), reader.origin_y());
  const int width = reader.width(), height = reader.rows();
  summary.source_width = width, summary.source_height = height;

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
  std::stable_sort(bands.begin(), bands.end(), [](const Band& a, const Band& b) { return a.lo < b.lo; });

  TiledSample out;
  if (comm == nullptr || comm->rank() == 0)
    out.tensor = Tensor(fold.dtype, layout, fold.geometry.out_h, fold.geometry.out_w, fold.channels);
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
      if (count == 0) {  // rows between the last band's and this one's: decoded (in order) and dropped
        while (reader.rows_read() < band.lo) {
          uint8_t* row = held.data();
          reader.read(&row, 1);
        }
        first = reader.rows_read();
      }
      if (reader.rows_read() < band.hi) {
        held.resize(std::max(held.size(), size_t(band.hi - first) * stride));
        std::vector<uint8_t*> rows;
        for (int y = reader.rows_read(); y < band.hi; ++y) rows.push_back(held.data() + size_t(y - first) * stride);
        reader.read(rows.data(), int(rows.size()));
        count = band.hi - first;
      }
      summary.largest_band_rows = std::max(summary.largest_band_rows, size_t(count));
    }
    const plan::SourceView view{held.data(), stride, {0, first, width, count}, width, height};
    compute_tiles(fold, view, stream, layout, band.windows, out.tensor, pool, devices, comm, computed,
                  out.largest_region_pixels);
  }
  out.shares = tile_shares(computed, pool, devices);
  return out;
}

}  // namespace

TileSummary run_tile(const TileOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  // Under a launcher every rank decodes the image, takes tiles on demand and sends rank 0 what
  // it computed; rank 0 stitches and writes. `cuda` is each rank's own GPU there.
  const dist::World world = dist::detect_world();
  const std::vector<Device> devices = dist::process_devices(o.device, world);
  // Connected first, so that a rank failing below ends the others instead of leaving them
  // waiting to connect.
  dist::Communicator* comm = world.distributed() ? &dist::communicator(world) : nullptr;
  if (o.tile < 0) throw Error(o.input, "tile", "--tile must be 0 (one tile) or a positive side in pixels");
  const OutputKind kind = output_kind(o.output);
  pipeline::Spec spec = pipeline::load_spec(o.spec_path);
  if (o.seed) spec.seed = *o.seed;
  const pipeline::Augmenter augmenter(spec);

  // Decoded as a whole-image run decodes it (the region and DCT scale all tiles need): at once,
  // or, for an upright JPEG cut into several tiles, streamed band by band (stream_tiles).
  const std::vector<uint8_t> bytes = codec::read_file(o.input);
  const codec::ImageInfo info = [&] {
    try {
      return codec::peek_image(bytes, spec.decode.max_pixels);
    } catch (const Error& e) {
      throw e.with_file(o.input);
    }
  }();
  const bool streamed = info.format == codec::ImageFormat::kJpeg && info.orientation == 1 && o.tile > 0;
  pipeline::PreparedImage prepared =
      augmenter.prepare(bytes, o.input, o.index, 0, o.epoch, nullptr, false, /*defer_cpu_decode=*/streamed);
  if (prepared.plans.size() != 1)
    throw Error(o.input, "tile",
                fmt::format("the spec makes {} samples of an image; tile makes one (drop local_crops)",
                            prepared.plans.size()));
  pipeline::SamplePlan& plan = prepared.plans.front();

  ThreadPool pool(o.threads > 0 ? o.threads : dist::threads_per_process(world));
  TiledSample tiled;
  TileSummary s;
  try {
    const plan::PixelStreamId stream{RandomKey::from(spec.seed, o.epoch), plan.id};
    std::optional<pipeline::GpuWorkers> workers;
    if (devices.front().cuda) workers.emplace(devices, false);
    const TileDevices where{.workers = workers ? &*workers : nullptr};
    if (streamed) {
      tiled = stream_tiles(plan.fold, bytes, prepared.cpu_request, stream, spec.output.layout, o.tile, pool,
                           where, comm, s);
    } else {
      tiled = run_tiled(plan.fold, prepared.image, stream, spec.output.layout, o.tile, pool, where, comm);
      s.source_width = prepared.image.width, s.source_height = prepared.image.height;
    }
  } catch (const Error& e) {
    throw e.file().empty() ? e.with_file(o.input) : e;
  }
  name_by_rank(tiled.shares, world);
  std::vector<pipeline::WorkerShare> shares = tiled.shares;
  if (comm) {
    shares.clear();
    for (const std::string& part : comm->gather(shares_json(tiled.shares).dump()))
      append_shares(nlohmann::json::parse(part), shares);
  }

  s.out_width = plan.fold.geometry.out_w, s.out_height = plan.fold.geometry.out_h;
  s.tiles = tiled.tiles;
  s.largest_region_pixels = tiled.largest_region_pixels;
  s.shares = shares;
  if (world.rank != 0) {
    comm->barrier();
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
  }
  std::vector<uint8_t> encoded;
  switch (kind) {
    case OutputKind::kNpy: encoded = encode_npy(tiled.tensor); break;
    case OutputKind::kPng: encoded = codec::encode_png(pipeline::viewable_image(tiled.tensor, plan.fold)); break;
    case OutputKind::kJpeg:
      encoded = codec::encode_jpeg(pipeline::viewable_image(tiled.tensor, plan.fold), o.jpeg_quality);
      break;
  }
  write_file_atomic(o.output, encoded);
  if (comm) comm->barrier();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

std::string tile_summary_text(const TileSummary& s, const TileOptions& o) {
  return fmt::format("tile: {}x{} source -> {}x{} output in {} tile{} (largest source region {:.2f} Mpx), "
                     "{:.2f} s -> {}\n",
                     s.source_width, s.source_height, s.out_width, s.out_height, s.tiles, s.tiles == 1 ? "" : "s",
                     double(s.largest_region_pixels) / 1e6, s.seconds, o.output) +
         (s.largest_band_rows > 0
              ? fmt::format("  decoded in one pass, holding at most {} of its {} rows\n", s.largest_band_rows,
                            s.source_height)
              : "") +
         shares_text(s.shares, " tiles");
}

}  // namespace gpuaug::jobs
