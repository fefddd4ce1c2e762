// tile: decode once, then compute the output's tiles on demand (CPU threads, GPU workers, and under
// mpirun every rank: jobs/tiled_sample.h); rank 0 writes them to the output as they land
// (jobs/tile_writer.h).
#include "jobs/tile.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "core/device.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/thread_pool.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "jobs/tile_writer.h"
#include "jobs/tiled_sample.h"
#include "pipeline/augmenter.h"
#include "pipeline/gpu_workers.h"
#include "pipeline/spec.h"
#include "plan/plan.h"

namespace gpuaug::jobs {

namespace {

TileFileWriter::Format output_format(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext.size() > 1)
    if (const auto format = TileFileWriter::format_named(ext.substr(1))) return *format;
  throw Error(path, "tile", "the output must end in .png, .jpg, .jpeg or .npy");
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
  const TileFileWriter::Format format = output_format(o.output);
  // The output is renamed into place once whole: onto the input it would replace it, as augment
  // refuses to (a link to the input counts too).
  if (std::error_code ec; std::filesystem::exists(o.output, ec) && std::filesystem::equivalent(o.output, o.input, ec))
    throw Error(o.input, "write", "the output " + o.output + " would overwrite its input");
  pipeline::Spec spec = pipeline::load_spec(o.spec_path);
  if (o.seed) spec.seed = *o.seed;
  const pipeline::Augmenter augmenter(spec);

  // Decoded as a whole-image run decodes it (the region and DCT scale all tiles need): at once,
  // or, for an upright JPEG or non-interlaced PNG cut into tiles, streamed band by band
  // (run_tiled_streamed).
  const std::vector<uint8_t> bytes = codec::read_file(o.input);
  const bool streamed = streams(bytes, spec.decode.max_pixels, o.tile);  // a bad header: prepare says so
  pipeline::PreparedImage prepared =
      augmenter.prepare(bytes, o.input, o.index, 0, o.epoch, nullptr, false, /*defer_cpu_decode=*/streamed);
  if (prepared.plans.size() != 1)
    throw Error(o.input, "tile",
                fmt::format("the spec makes {} samples of an image; tile makes one (drop local_crops)",
                            prepared.plans.size()));
  pipeline::SamplePlan& plan = prepared.plans.front();

  ThreadPool pool(o.threads > 0 ? o.threads : dist::threads_per_process(world));
  TiledSample tiled;
  // Rank 0 writes the tiles as they land; a failure leaves no output (the writer's temporary
  // goes with it).
  std::optional<TileFileWriter> writer;
  try {
    if (world.rank == 0) writer.emplace(o.output, format, plan.fold, spec.output.layout, o.jpeg_quality);
    const plan::PixelStreamId stream{RandomKey::from(spec.seed, o.epoch), plan.id};
    std::optional<pipeline::GpuWorkers> workers;
    if (devices.front().cuda) workers.emplace(devices, false);
    const TileDevices where{.workers = workers ? &*workers : nullptr};
    TileSink* sink = writer ? &*writer : nullptr;
    tiled = streamed ? run_tiled_streamed(plan.fold, bytes, prepared.cpu_request, stream, spec.output.layout,
                                          o.tile, pool, where, comm, sink)
                     : run_tiled(plan.fold, prepared.image, stream, spec.output.layout, o.tile, pool, where, comm,
                                 sink);
  } catch (const Error& e) {
    throw e.file().empty() ? e.with_file(o.input) : e;
  }
  name_by_rank(tiled.shares, world);
  std::vector<pipeline::WorkerShare> shares = tiled.shares;
  if (comm) {
    shares.clear();
    for (const std::string& part : comm->gather(json_text(shares_json(tiled.shares))))
      append_shares(nlohmann::json::parse(part), shares);
  }

  TileSummary s;
  s.source_width = tiled.decoded_width, s.source_height = tiled.decoded_height;
  s.largest_band_rows = tiled.largest_band_rows;
  s.out_width = plan.fold.geometry.out_w, s.out_height = plan.fold.geometry.out_h;
  s.tiles = tiled.tiles;
  s.largest_region_pixels = tiled.largest_region_pixels;
  s.shares = shares;
  if (world.rank != 0) {
    comm->barrier();
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
  }
  try {
    writer->finish();
  } catch (const Error& e) {
    throw e.file().empty() ? e.with_file(o.input) : e;
  }
  writer->commit();
  s.largest_output_rows = writer->largest_rows_held();
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
         (s.largest_output_rows > 0
              ? fmt::format("  written as tiles landed, holding at most {} of its {} output rows\n",
                            s.largest_output_rows, s.out_height)
              : "") +
         shares_text(s.shares, " tiles");
}

}  // namespace gpuaug::jobs
