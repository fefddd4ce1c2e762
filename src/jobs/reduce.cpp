// reduce: windows of images decoded and resized on the pool (or in GPU batches, two workers per
// GPU), written to a mirror tree or to shards; windows, or whole shards with --shards N, go to the
// workers and ranks on demand; the journal records each finished file or shard.
#include "jobs/reduce.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "codec/encoder.h"
#include "codec/image_info.h"
#include "codec/nvjpeg_decoder.h"
#include "core/device.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/journal.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "jobs/stop_signal.h"
#include "jobs/tar_writer.h"
#include "jobs/tiled_sample.h"
#include "pipeline/augmenter.h"
#include "pipeline/gpu_workers.h"

namespace gpuaug::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

std::pair<int, int> reduced_size(int width, int height, int max_side, double scale) {
  if (max_side > 0) {
    const int long_side = std::max(width, height), short_side = std::min(width, height);
    if (long_side <= max_side) return {height, width};
    // torchvision's rule for Resize(size=None, max_size=M): the short side truncated.
    const int new_short = std::max(1, int(double(max_side) * short_side / long_side));
    return width >= height ? std::pair{new_short, max_side} : std::pair{max_side, new_short};
  }
  return {std::max(1, int(std::floor(height * scale))), std::max(1, int(std::floor(width * scale)))};
}

namespace {

// One sample's result, kept until it is written in index order.
struct Reduced {
  bool done = false;  // false: not reached (a stop request came first)
  std::vector<uint8_t> encoded;
  int width = 0, height = 0;
  uint64_t bytes_in = 0;
  uint64_t pixels_in = 0;  // the source's, from its header
  std::string error;  // set when on_error is skip and the sample failed
};

pipeline::Spec resize_spec(int height, int width, const ReduceOptions& o) {
  pipeline::Spec spec;
  spec.name = "reduce";
  spec.decode.dct_scaling = o.dct_scaling;
  spec.decode.gpu_share = o.gpu_share;
  spec.decode.exact_share = 0.0;  // the rest to the CPU threads: reduce runs no exact GPU decoder
  spec.output.layout = Layout::kHWC;
  pipeline::OpSpec resize;
  resize.name = "resize";
  resize.params = {{"size", ops::ParamValue::of(std::vector<double>{double(height), double(width)})}};
  spec.ops.push_back(resize);
  return spec;
}

std::vector<uint8_t> encode(const Image& image, const ReduceOptions& options) {
  return options.format == "png" ? codec::encode_png(image) : codec::encode_jpeg(image, options.quality);
}

// The names of outputs: the input's relative path without its extension (kept, as x_jpg, when
// two inputs differ only by it), made safe, and in shards with dots turned to '_' because
// WebDataset splits a member name at the first dot of its basename. Names two inputs would share
// are refused before anything is written.
std::vector<std::string> output_keys(const data::Source& source, bool sharded, const std::string& format) {
  std::vector<std::string> keys = output_stems(source.samples);
  if (sharded)
    for (std::string& key : keys) {
      const size_t slash = key.rfind('/');
      for (size_t i = slash == std::string::npos ? 0 : slash + 1; i < key.size(); ++i)
        if (key[i] == '.') key[i] = '_';
    }
  require_distinct_outputs(source.samples, keys, "reduce");
  // A member name ustar cannot hold stopped the job once every sample was made: refused first.
  if (sharded)
    for (size_t i = 0; i < keys.size(); ++i) try {
        check_tar_member_name(keys[i] + "." + format);
      } catch (const Error& e) {
        throw Error(source.samples[i].path, "reduce", e.cause() + ": shorten its name or path");
      }
  return keys;
}

bool inside(const fs::path& child, const fs::path& parent) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(child, ec), p = fs::weakly_canonical(parent, ec);
  auto ci = c.begin(), pi = p.begin();
  for (; pi != p.end() && !pi->empty(); ++pi, ++ci)
    if (ci == c.end() || *ci != *pi) return false;
  return true;
}

void check_options(const ReduceOptions& o) {
  if ((o.max_side > 0) == (o.scale > 0))
    throw Error("", "reduce", "give exactly one of --max-side N and --scale S");
  if (o.scale < 0 || o.scale > 1) throw Error("", "reduce", fmt::format("--scale {}: expected (0, 1]", o.scale));
  if (o.format != "jpg" && o.format != "png")
    throw Error("", "reduce", fmt::format("--format {}: expected jpg or png", o.format));
  if (o.quality < 1 || o.quality > 100) throw Error("", "reduce", "--quality must be 1..100");
  if (o.gpu_share < 0 || o.gpu_share > 1) throw Error("", "reduce", fmt::format("--gpu-share {}: expected [0, 1]", o.gpu_share));
  if (o.shards > 0 && o.shard_size > 0) throw Error("", "reduce", "give --shards or --shard-size, not both");
  if (o.on_error != "raise" && o.on_error != "skip")
    throw Error("", "reduce", fmt::format("--on-error {}: expected raise or skip", o.on_error));
}

}  // namespace

ReduceSummary run_reduce(const ReduceOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  check_options(o);
  const dist::World world = dist::detect_world();
  const bool sharded = o.shards > 0 || o.shard_size > 0;
  // Across processes rank 0 writes index.json from every rank's entries: that takes messages.
  dist::Communicator* comm = world.distributed() ? &dist::communicator(world) : nullptr;
  if (comm && o.shard_size > 0)
    throw Error("", "reduce",
                "--shard-size cuts shards where the sizes add up, in input order, so one process writes them: "
                "use --shards N across processes");
  const data::Source source = data::open_source(o.input);
  if (inside(o.output, source.root))
    throw Error(o.output, "reduce", "the output folder is inside the input folder " + source.root);
  const std::vector<Device> devices = dist::process_devices(o.device, world);
  const bool on_gpu = devices.front().cuda;
  const std::vector<std::string> keys = output_keys(source, sharded, o.format);
  const size_t count = source.samples.size();

  // Everything that decides the bytes written; nvJPEG's pixels differ from libjpeg-turbo's, so
  // the decoder counts too.
  const json header{{"job", "reduce"},
                    {"input", fs::absolute(o.input).lexically_normal().string()},
                    {"samples", count},
                    {"max_side", o.max_side},
                    {"scale", o.scale},
                    {"format", o.format},
                    {"quality", o.quality},
                    {"shards", o.shards},
                    {"shard_size", o.shard_size},
                    {"dct_scaling", o.dct_scaling},
                    // Images above the tile threshold decode on the CPU even where nvJPEG would.
                    {"decoder", on_gpu && codec::NvjpegDecoder::built()
                                    ? fmt::format("nvjpeg {}/8, cpu above {} pixels",
                                                  resize_spec(1, 1, o).decode.gpu_eighths(), o.tile_threshold)
                                    : "cpu"},
                    {"ranks", world.size}};
  fs::create_directories(o.output);
  Journal journal((fs::path(o.output) / ".gpuaug-reduce.journal").string() +
                      (world.distributed() ? fmt::format(".rank{}", world.rank) : ""),
                  header, o.resume);
  if (journal.resumed()) remove_temporaries(o.output);
  const DropJournalIfEmpty drop_empty_journal(journal);

  ReduceSummary summary;
  summary.images = count;
  // What is finished: per sample (index entries for index.json), and per shard.
  std::vector<std::optional<json>> sample_entries(count);
  std::vector<json> shard_entries;
  std::mutex entries_mutex;
  size_t next = 0;  // --shard-size: the first sample not in a finished shard
  const size_t shard_count = o.shards > 0 ? size_t(o.shards) : 0;
  auto shard_first = [&](size_t k) { return (k * count + shard_count - 1) / shard_count; };
  std::vector<bool> shard_done(shard_count, false);
  for (const json& entry : journal.previous()) {
    if (entry.contains("shard")) {
      shard_entries.push_back(entry);
      for (const json& s : entry.at("samples")) sample_entries[s.at("i").get<size_t>()] = s;
      for (const json& e : entry.at("errors")) sample_entries[e.at("i").get<size_t>()] = e;
      if (shard_count) shard_done[entry.at("shard").get<size_t>()] = true;
      next = entry.at("end").get<size_t>();
    } else {
      sample_entries[entry.at("i").get<size_t>()] = entry;
    }
  }
  // Units of work: a window of samples (a mirror tree; --shard-size, in order), or a shard
  // (--shards N: its samples are fixed, so any worker can write it whole).
  ThreadPool pool(o.threads > 0 ? o.threads : dist::threads_per_process(world));
  const size_t window_size = on_gpu ? size_t(std::max(o.batch, 1)) : size_t(pool.size()) * 8;
  std::vector<bool> sample_done(count, false);
  for (size_t i = 0; i < count; ++i) sample_done[i] = sample_entries[i].has_value();
  // Every rank skips what any rank's journal holds (each reports its own at the end).
  if (comm && shard_count) shard_done = dist::any_rank(*comm, shard_done);
  if (comm && !shard_count) sample_done = dist::any_rank(*comm, sample_done);
  std::vector<size_t> todo;       // samples (mirror tree, --shard-size)
  std::vector<size_t> todo_shards;  // --shards N
  if (shard_count) {
    for (size_t k = 0; k < shard_count; ++k)
      if (!shard_done[k]) todo_shards.push_back(k);
    for (size_t k = 0; k < shard_count; ++k)
      if (shard_done[k]) summary.resumed += shard_first(k + 1) - shard_first(k);
  } else {
    for (size_t i = o.shard_size > 0 ? next : 0; i < count; ++i)
      if (o.shard_size > 0 || !sample_done[i]) todo.push_back(i);
    summary.resumed = count - todo.size();
  }
  const size_t units = shard_count ? todo_shards.size() : (todo.size() + window_size - 1) / window_size;

  Progress progress("reduce", count, o.progress && world.rank == 0);
  progress.advance(summary.resumed);

  auto fail = [&](const Error& e, Reduced& r) {
    if (o.on_error == "raise") throw e;
    r.error = e.what();
  };
  // Reads the file and decides whether it needs a resize; returns the plan's augmenter if so.
  auto prepare = [&](size_t i, std::vector<uint8_t>& blob, Reduced& r) -> std::optional<pipeline::Augmenter> {
    const data::SampleRef& ref = source.samples[i];
    blob = data::read_sample(source, ref);
    r.bytes_in = blob.size();
    codec::ImageInfo info;
    try {
      info = codec::peek_image(blob);
    } catch (const Error& e) {
      throw e.with_file(ref.path);
    }
    r.pixels_in = uint64_t(info.width) * uint64_t(info.height);
    const auto [h, w] = reduced_size(info.oriented_width(), info.oriented_height(), o.max_side, o.scale);
    r.width = w;
    r.height = h;
    if (w == info.oriented_width() && h == info.oriented_height()) return std::nullopt;
    return pipeline::Augmenter(resize_spec(h, w, o));
  };
  auto decode_whole = [&](size_t i, const std::vector<uint8_t>& blob) {
    try {
      return codec::decode_image(blob, {}).image;
    } catch (const Error& e) {
      throw e.with_file(source.samples[i].path);
    }
  };
  auto encode_into = [&](size_t i, const Image& image, Reduced& r) {
    try {
      r.encoded = encode(image, o);
    } catch (const Error& e) {
      throw e.with_file(source.samples[i].path);
    }
    r.done = true;
  };
  const pipeline::Augmenter gpu_runner(resize_spec(1, 1, o));  // executes any batch of resize plans

  // Images above --tile-threshold, set aside by a window's first pass (their resize in `tiled`,
  // their bytes in `blobs`), resized one at a time in tiles over every thread, or on this GPU.
  auto above_threshold = [&](const Reduced& r) { return o.tile_threshold > 0 && r.pixels_in > o.tile_threshold; };
  auto resize_in_tiles = [&](const std::vector<size_t>& window, std::vector<Reduced>& results,
                             std::vector<std::vector<uint8_t>>& blobs,
                             const std::vector<std::optional<pipeline::Augmenter>>& tiled, pipeline::GpuWorker* gpu) {
    for (size_t k = 0; k < window.size(); ++k) {
      if (!tiled[k] || stop_requested()) continue;
      const std::string& path = source.samples[window[k]].path;
      const pipeline::Spec& spec = tiled[k]->chain().spec();
      try {
        // An upright JPEG or PNG is streamed (only a band of its decoded rows held at a time).
        const bool stream = streams(blobs[k], codec::kDefaultMaxPixels, o.tile);
        pipeline::PreparedImage prepared = tiled[k]->prepare(blobs[k], path, window[k], 0, 0, nullptr, false, stream);
        pipeline::SamplePlan& p = prepared.plans.at(0);
        const plan::PixelStreamId id{RandomKey::from(spec.seed, 0), p.id};
        const TiledSample t =
            stream ? run_tiled_streamed(p.fold, blobs[k], prepared.cpu_request, id, spec.output.layout, o.tile, pool,
                                        {.worker = gpu})
                   : run_tiled(p.fold, prepared.image, id, spec.output.layout, o.tile, pool, {.worker = gpu});
        encode_into(window[k], pipeline::viewable_image(t.tensor, p.fold), results[k]);
      } catch (const Interrupted&) {
        return;  // not reached: left for --resume
      } catch (const Error& e) {
        fail(e.file().empty() ? e.with_file(path) : e, results[k]);
        results[k].done = true;
      }
      blobs[k] = {};
    }
  };

  // One window of samples through decode, resize and encode: on the pool, or with a GPU worker
  // the resizes in one batch on its GPU (nvJPEG decoding the JPEGs it takes).
  auto process = [&](const std::vector<size_t>& window, std::vector<Reduced>& results, pipeline::GpuWorker* gpu) {
    std::vector<std::vector<uint8_t>> blobs(window.size());
    std::vector<std::optional<pipeline::Augmenter>> tiled(window.size());
    if (gpu == nullptr) {
      pool.parallel_for(window.size(), [&](size_t k) {
        if (stop_requested()) return;
        Reduced& r = results[k];
        try {
          std::vector<uint8_t> blob;
          if (auto augmenter = prepare(window[k], blob, r)) {
            if (above_threshold(r)) {
              tiled[k] = std::move(augmenter);
              blobs[k] = std::move(blob);
              return;
            }
            auto samples = augmenter->run(blob, source.samples[window[k]].path, window[k], 0, 0);
            encode_into(window[k], pipeline::viewable_image(samples.at(0)), r);
          } else {
            encode_into(window[k], decode_whole(window[k], blob), r);
          }
        } catch (const Error& e) {
          fail(e, r);
          r.done = true;
        }
      });
      resize_in_tiles(window, results, blobs, tiled, nullptr);
      return;
    }
    std::vector<pipeline::PreparedImage> prepared(window.size());
    std::vector<int> on_device(window.size(), 0);
    pool.parallel_for(window.size(), [&](size_t k) {
      if (stop_requested()) return;
      Reduced& r = results[k];
      try {
        if (auto augmenter = prepare(window[k], blobs[k], r)) {
          if (above_threshold(r)) {
            tiled[k] = std::move(augmenter);
            return;
          }
          prepared[k] = augmenter->prepare(blobs[k], source.samples[window[k]].path, window[k], 0, 0,
                                           nullptr, gpu->nvjpeg != nullptr, /*defer_cpu_decode=*/true);
          on_device[k] = 1;
        } else {
          encode_into(window[k], decode_whole(window[k], blobs[k]), r);
        }
      } catch (const Error& e) {
        fail(e, r);
        r.done = true;
      }
    });
    resize_in_tiles(window, results, blobs, tiled, gpu);
    std::vector<size_t> members;
    std::vector<pipeline::PreparedImage> batch;
    for (size_t k = 0; k < window.size(); ++k)
      if (on_device[k]) {
        members.push_back(k);
        batch.push_back(std::move(prepared[k]));
      }
    if (batch.empty()) return;
    std::vector<std::optional<Error>> decode_errors;
    // nvJPEG decodes its share while the pool decodes the rest.
    auto outputs = gpu_runner.execute_gpu(*gpu->executor, batch, 0, gpu->nvjpeg.get(), &decode_errors, &pool);
    pool.parallel_for(members.size(), [&](size_t m) {
      const size_t k = members[m];
      try {
        if (decode_errors[m]) throw *decode_errors[m];
        encode_into(window[k], pipeline::viewable_image(outputs[m].at(0)), results[k]);
      } catch (const Error& e) {
        fail(e, results[k]);
        results[k].done = true;
      }
    });
  };

  auto sample_entry = [&](size_t i, const Reduced& r, const std::string& stored) {
    const data::SampleRef& ref = source.samples[i];
    json entry{{"i", i}, {"source", ref.relative}, {"label", ref.label}};
    if (!r.error.empty()) {
      entry["error"] = r.error;
      return entry;
    }
    entry["file"] = stored;
    entry["width"] = r.width;
    entry["height"] = r.height;
    entry["bytes"] = r.encoded.size();
    entry["bytes_in"] = r.bytes_in;
    return entry;
  };

  // A shard being filled: its writer and its journal entry.
  struct OpenShard {
    std::unique_ptr<TarWriter> writer;
    json entry;
  };
  auto open_shard = [&](OpenShard& shard, size_t number, size_t first) {
    const std::string name = fmt::format("shard-{:06d}.tar", number);
    shard.writer = std::make_unique<TarWriter>((fs::path(o.output) / name).string());
    shard.entry = json{{"shard", number}, {"file", name}, {"first", first},
                       {"samples", json::array()}, {"errors", json::array()}};
  };
  auto close_shard = [&](OpenShard& shard, size_t end) {
    shard.writer->close();
    shard.entry["end"] = end;
    shard.entry["bytes"] = shard.writer->bytes_written();
    journal.append(shard.entry);
    {
      std::lock_guard lock(entries_mutex);
      shard_entries.push_back(shard.entry);
    }
    shard.writer.reset();
  };
  auto tar_size = [](size_t bytes) { return 512 + (bytes + 511) / 512 * 512; };
  auto add_to_shard = [&](OpenShard& shard, size_t i, const Reduced& r) {
    const std::string stored = keys[i] + "." + o.format;
    if (r.error.empty()) {
      shard.writer->add(stored, r.encoded);
      if (const int label = source.samples[i].label; label >= 0) {
        const std::string text = std::to_string(label);
        shard.writer->add(keys[i] + ".cls", {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
      }
    }
    json entry = sample_entry(i, r, stored);
    entry["shard"] = shard.entry["shard"];
    (r.error.empty() ? shard.entry["samples"] : shard.entry["errors"]).push_back(entry);
    std::lock_guard lock(entries_mutex);
    sample_entries[i] = entry;
  };

  // --shard-size: the one shard being filled, written window after window in input order.
  OpenShard sized_shard;
  size_t sized_shards = shard_entries.size();
  // Writes a window's results; false when a stop left some of it unreached.
  auto write_window = [&](const std::vector<size_t>& window, std::vector<Reduced>& results, OpenShard* shard) {
    for (size_t k = 0; k < window.size(); ++k) {
      const size_t i = window[k];
      Reduced& r = results[k];
      if (!r.done) return false;  // stopped: the rest of the window was not reached
      if (!sharded) {
        const std::string stored = keys[i] + "." + o.format;
        // A write that fails (a name the folder cannot hold, a full disk) is the sample's error,
        // as augment's are: --on-error skip lists it and goes on.
        if (r.error.empty()) try {
            write_file_atomic((fs::path(o.output) / stored).string(), r.encoded);
          } catch (const Error& e) {
            fail(e.file().empty() ? e.with_file(source.samples[i].path) : e, r);
          }
        const json entry = sample_entry(i, r, stored);
        journal.append(entry);
        std::lock_guard lock(entries_mutex);
        sample_entries[i] = entry;
      } else if (o.shard_size > 0) {
        // The shard as closed with this sample: its members, then the end and the padding to a
        // whole record that close() adds.
        const uint64_t with_sample = sized_shard.writer ? sized_shard.writer->bytes_written() + tar_size(r.encoded.size()) +
                                                              (source.samples[i].label >= 0 ? 1024 : 0)
                                                        : 0;
        if (sized_shard.writer && !sized_shard.entry["samples"].empty() &&
            with_sample + tar_end(with_sample).size() > o.shard_size) {
          close_shard(sized_shard, i);
          ++sized_shards;
        }
        if (!sized_shard.writer) open_shard(sized_shard, sized_shards, i);
        add_to_shard(sized_shard, i, r);
      } else {
        add_to_shard(*shard, i, r);
      }
      r = Reduced();
      progress.advance();
    }
    return true;
  };

  // Windows are written in input order where that decides the bytes (--shard-size): a worker
  // that finished window w waits for w - 1 to be written first.
  std::mutex turn_mutex;
  std::condition_variable turn_changed;
  uint64_t turn = 0;
  bool turn_stopped = false;
  auto run_unit = [&](uint64_t unit, pipeline::GpuWorker* gpu) -> size_t {
    if (shard_count) {
      const size_t k = todo_shards[unit], first = shard_first(k), end = shard_first(k + 1);
      OpenShard shard;
      open_shard(shard, k, first);
      for (size_t begin = first; begin < end; begin += window_size) {
        std::vector<size_t> window;
        for (size_t i = begin; i < std::min(end, begin + window_size); ++i) window.push_back(i);
        std::vector<Reduced> results(window.size());
        process(window, results, gpu);
        if (!write_window(window, results, &shard)) return 0;  // the temporary is removed
        if (stop_requested()) return 0;
      }
      close_shard(shard, end);
      return end - first;
    }
    const std::vector<size_t> window(todo.begin() + unit * window_size,
                                     todo.begin() + std::min(todo.size(), (unit + 1) * window_size));
    std::vector<Reduced> results(window.size());
    process(window, results, gpu);
    if (o.shard_size == 0) {
      write_window(window, results, nullptr);
      return window.size();
    }
    std::unique_lock lock(turn_mutex);
    turn_changed.wait(lock, [&] { return turn == unit || turn_stopped; });
    if (turn_stopped) return 0;
    if (!write_window(window, results, nullptr) || stop_requested()) turn_stopped = true;
    ++turn;
    turn_changed.notify_all();
    return window.size();
  };
  struct StopTurnsOnExit {  // a failing worker must not leave the others waiting for its turn
    std::mutex& mutex;
    std::condition_variable& changed;
    bool& stopped;
    int unwinding = std::uncaught_exceptions();
    ~StopTurnsOnExit() {
      if (std::uncaught_exceptions() == unwinding) return;  // it ran out of work: others go on
      {
        std::lock_guard lock(mutex);
        stopped = true;
      }
      changed.notify_all();
    }
  };

  std::vector<pipeline::WorkerShare> shares;
  dist::ChunkQueue queue(units, comm);
  if (!on_gpu) {
    size_t mine = 0;
    while (!stop_requested()) {
      const auto unit = queue.next();
      if (!unit) break;
      mine += run_unit(*unit, nullptr);
    }
    shares.push_back({fmt::format("cpu {} threads", pool.size()), mine});
  } else {
    // Two workers per GPU: one's decode and encode on the pool overlap the other's kernels.
    pipeline::GpuWorkers workers(devices, codec::NvjpegDecoder::built(), 2);
    workers.run([&](pipeline::GpuWorker& worker) {
      const StopTurnsOnExit stop_turns{turn_mutex, turn_changed, turn_stopped};
      while (!stop_requested() && !workers.failed()) {
        const auto unit = queue.next();
        if (!unit) break;
        worker.items += run_unit(*unit, &worker);
      }
    });
    shares = workers.shares();
  }
  throw_if_stopped();
  if (o.shard_size > 0 && sized_shard.writer) close_shard(sized_shard, count);
  progress.finish();
  name_by_rank(shares, world);

  // Rank 0 takes every rank's entries (its own journal's and this run's) and writes index.json.
  if (comm) {
    json mine{{"samples", json::array()}, {"shards", shard_entries}, {"shares", shares_json(shares)}};
    for (const auto& entry : sample_entries)
      if (entry) mine["samples"].push_back(*entry);
    const std::vector<std::string> parts = comm->gather(json_text(mine));
    if (world.rank != 0) {
      comm->barrier();  // rank 0 has written index.json when this returns
      journal.finish();
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return summary;
    }
    shard_entries.clear();
    shares.clear();
    for (const std::string& part : parts) {
      const json theirs = json::parse(part);
      for (const json& e : theirs.at("samples")) sample_entries[e.at("i").get<size_t>()] = e;
      for (const json& e : theirs.at("shards")) shard_entries.push_back(e);
      append_shares(theirs.at("shares"), shares);
    }
  }
  std::sort(shard_entries.begin(), shard_entries.end(),
            [](const json& a, const json& b) { return a.at("shard").get<size_t>() < b.at("shard").get<size_t>(); });

  // index.json: every sample in index order, the shards, the classes.
  json index{{"format", o.format}, {"classes", source.classes}, {"samples", json::array()}, {"errors", json::array()}};
  for (const auto& entry : sample_entries) {
    if (!entry) continue;
    json e = *entry;
    e.erase("i");
    if (e.contains("error")) {
      ++summary.skipped;
      summary.errors.push_back(e.at("error").get<std::string>());
      index["errors"].push_back(e);
    } else {
      summary.bytes_in += e.at("bytes_in").get<uint64_t>();
      summary.bytes_out += e.at("bytes").get<uint64_t>();
      e.erase("bytes_in");
      ++summary.written;
      index["samples"].push_back(e);
    }
  }
  if (sharded) {
    index["shards"] = json::array();
    for (const json& s : shard_entries)
      index["shards"].push_back({{"file", s.at("file")}, {"samples", s.at("samples").size()}, {"bytes", s.at("bytes")}});
    summary.shards = shard_entries.size();
  }
  const std::string text = json_text(index, 1) + "\n";
  write_file_atomic((fs::path(o.output) / "index.json").string(),
                    {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  if (comm) comm->barrier();
  journal.finish();
  summary.shares = shares;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

std::string reduce_summary_text(const ReduceSummary& s, const ReduceOptions& o) {
  std::string text = fmt::format("reduce: {} images -> {}\n", s.images, o.output);
  text += fmt::format("  {:<10} {:>12}\n", "written", s.written);
  if (s.resumed) text += fmt::format("  {:<10} {:>12}   (done before --resume)\n", "resumed", s.resumed);
  text += fmt::format("  {:<10} {:>12}\n", "skipped", s.skipped);
  if (s.shards) text += fmt::format("  {:<10} {:>12}\n", "shards", s.shards);
  text += fmt::format("  {:<10} {:>12.1f} MB -> {:.1f} MB ({:.1f}%)\n", "size", s.bytes_in / 1e6, s.bytes_out / 1e6,
                      s.bytes_in ? 100.0 * s.bytes_out / s.bytes_in : 0.0);
  text += fmt::format("  {:<10} {:>12.2f} s\n", "time", s.seconds);
  return text;
}

}  // namespace gpuaug::jobs
