// tile: decode once, then output tiles in parallel (CPU threads, or batches on demand to one worker
// per GPU), each read from its source region through a view (plan::execute_cpu_window), stitched
// into one output written whole.
#include "jobs/tile.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "codec/decoder.h"
#include "codec/encoder.h"
#include "core/device.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "dist/communicator.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "jobs/stop_signal.h"
#include "pipeline/augmenter.h"
#include "pipeline/gpu_workers.h"
#include "pipeline/spec.h"
#include "plan/cuda_executor.h"
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

// Tile `t` of the output's pixels into `whole` (same dtype, layout and channels).
void copy_tile(const Tensor& t, const codec::Rect& w, Tensor& whole) {
  const size_t e = dtype_size(t.dtype);
  const auto* src = t.data.data();
  auto* dst = whole.data.data();
  if (t.layout == Layout::kHWC) {
    const size_t row = size_t(w.width) * t.channels * e;
    for (int y = 0; y < w.height; ++y)
      std::memcpy(dst + whole.offset(w.y + y, w.x, 0) * e, src + t.offset(y, 0, 0) * e, row);
  } else {
    for (int c = 0; c < t.channels; ++c)
      for (int y = 0; y < w.height; ++y)
        std::memcpy(dst + whole.offset(w.y + y, w.x, c) * e, src + t.offset(y, 0, c) * e, size_t(w.width) * e);
  }
}

void copy_tile(const Image& t, const codec::Rect& w, Image& whole) {
  for (int y = 0; y < w.height; ++y)
    std::memcpy(whole.row(w.y + y) + size_t(w.x) * whole.channels, t.row(y), t.stride());
}

}  // namespace

TileSummary run_tile(const TileOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Device> devices = parse_devices(o.device);
  if (o.tile < 0) throw Error(o.input, "tile", "--tile must be 0 (one tile) or a positive side in pixels");
  const OutputKind kind = output_kind(o.output);
  pipeline::Spec spec = pipeline::load_spec(o.spec_path);
  if (o.seed) spec.seed = *o.seed;
  const pipeline::Augmenter augmenter(spec);

  // Decoded once, as a whole-image run decodes it (the region and DCT scale all tiles need).
  const std::vector<uint8_t> bytes = codec::read_file(o.input);
  pipeline::PreparedImage prepared = augmenter.prepare(bytes, o.input, o.index, 0, o.epoch);
  if (prepared.plans.size() != 1)
    throw Error(o.input, "tile",
                fmt::format("the spec makes {} samples of an image; tile makes one (drop local_crops)",
                            prepared.plans.size()));
  const pipeline::SamplePlan& plan = prepared.plans.front();
  const ops::FoldResult& fold = plan.fold;
  const Image& source = prepared.image;
  const int W = fold.geometry.out_w, H = fold.geometry.out_h;
  const int side_x = o.tile > 0 ? o.tile : W, side_y = o.tile > 0 ? o.tile : H;

  std::vector<codec::Rect> windows;
  for (int y = 0; y < H; y += side_y)
    for (int x = 0; x < W; x += side_x) windows.push_back({x, y, std::min(side_x, W - x), std::min(side_y, H - y)});

  const RandomKey key = RandomKey::from(spec.seed, o.epoch);
  const plan::PixelStreamId stream{key, plan.id};
  const Layout layout = spec.output.layout;
  Tensor whole_tensor;
  Image whole_image;
  if (kind == OutputKind::kNpy) whole_tensor = Tensor(fold.dtype, layout, H, W, fold.channels);
  else whole_image = Image(W, H, fold.channels);

  // A view of the decoded image limited to a tile's region: the tile reads nothing else (on
  // the GPU, only the region is uploaded).
  std::vector<plan::SourceView> views(windows.size());
  size_t largest = 0;
  for (size_t i = 0; i < windows.size(); ++i) {
    const codec::Rect r = plan::source_region(fold, source.width, source.height, windows[i]);
    views[i] = {source.pixels.data(), source.stride(), {0, 0, 0, 0}, source.width, source.height};
    if (r.width > 0) views[i] = {source.row(r.y) + size_t(r.x) * 3, source.stride(), r, source.width, source.height};
    largest = std::max(largest, size_t(r.width) * r.height);
  }
  ThreadPool pool(o.threads);
  std::vector<pipeline::WorkerShare> shares;
  auto stitch = [&](const Tensor& t, size_t i) {
    if (kind == OutputKind::kNpy) copy_tile(t, windows[i], whole_tensor);
    else copy_tile(pipeline::viewable_image(t, fold), windows[i], whole_image);
  };
  try {
    if (devices.front().cuda) {
      // Tiles go to the GPUs in batches of at most kBatchPixels output pixels (or one tile),
      // each batch to whichever GPU worker asks next; each stitches what it computed.
      constexpr size_t kBatchPixels = size_t(64) << 20;
      std::vector<size_t> batch_begin{0};
      for (size_t i = 0, pixels = 0; i < windows.size(); ++i) {
        const size_t tile = size_t(windows[i].width) * windows[i].height;
        if (i > batch_begin.back() && pixels + tile > kBatchPixels) batch_begin.push_back(i), pixels = 0;
        pixels += tile;
      }
      batch_begin.push_back(windows.size());
      pipeline::GpuWorkers workers(devices, false);
      dist::ChunkQueue batches(batch_begin.size() - 1);
      workers.run([&](pipeline::GpuWorker& worker) {
        while (!stop_requested() && !workers.failed()) {
          const auto b = batches.next();
          if (!b) return;
          std::vector<plan::SampleJob> jobs;
          for (size_t i = batch_begin[*b]; i < batch_begin[*b + 1]; ++i) {
            plan::SampleJob job{&fold, nullptr, -1, stream};
            job.source_view = views[i];
            job.window = windows[i];
            jobs.push_back(job);
          }
          const std::vector<Tensor> tiles = worker.executor->run_to_host(jobs, layout);
          pool.parallel_for(tiles.size(), [&](size_t k) { stitch(tiles[k], batch_begin[*b] + k); });
          worker.items += jobs.size();
        }
      });
      throw_if_stopped();
      shares = workers.shares();
    } else {
      pool.parallel_for(windows.size(), [&](size_t i) {
        throw_if_stopped();
        stitch(plan::execute_cpu_window(fold, views[i], stream, layout, windows[i]), i);
      });
    }
  } catch (const Error& e) {
    throw e.file().empty() ? e.with_file(o.input) : e;
  }

  std::vector<uint8_t> encoded;
  switch (kind) {
    case OutputKind::kNpy: encoded = encode_npy(whole_tensor); break;
    case OutputKind::kPng: encoded = codec::encode_png(whole_image); break;
    case OutputKind::kJpeg: encoded = codec::encode_jpeg(whole_image, o.jpeg_quality); break;
  }
  write_file_atomic(o.output, encoded);

  TileSummary s;
  s.source_width = source.width, s.source_height = source.height;
  s.out_width = W, s.out_height = H;
  s.tiles = windows.size();
  s.largest_region_pixels = largest;
  s.shares = shares;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

std::string tile_summary_text(const TileSummary& s, const TileOptions& o) {
  return fmt::format("tile: {}x{} source -> {}x{} output in {} tile{} (largest source region {:.2f} Mpx), "
                     "{:.2f} s -> {}\n",
                     s.source_width, s.source_height, s.out_width, s.out_height, s.tiles, s.tiles == 1 ? "" : "s",
                     double(s.largest_region_pixels) / 1e6, s.seconds, o.output) +
         shares_text(s.shares, " tiles");
}

}  // namespace gpuaug::jobs
