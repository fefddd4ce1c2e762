// augment: work items (image, copy) over a thread pool; outputs and the record are written in
// an order that does not depend on the thread count.
#include "jobs/augment.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "codec/image_info.h"
#include "codec/nvjpeg_decoder.h"
#include "core/content_hash.h"
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
#include "jobs/tile_writer.h"
#include "jobs/tiled_sample.h"
#include "pipeline/augmenter.h"
#include "pipeline/gpu_workers.h"
#include "pipeline/on_error.h"
#include "pipeline/record.h"
#include "plan/gpu_jpeg_decoder.h"

namespace gpuaug::jobs {

namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string text_hash(const std::string& text) {
  return fmt::format("{:016x}", xxh64({reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
}

// The input's files as listed (count and relative names, in order): what sample indices mean.
std::string input_list_hash(const data::Source& source) {
  std::string names = std::to_string(source.samples.size());
  for (const data::SampleRef& ref : source.samples) names += "\n" + ref.relative;
  return text_hash(names);
}

struct WorkItem {
  uint64_t index;
  uint32_t copy;
};

}  // namespace

AugmentSummary run_augment(const AugmentOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const pipeline::OnError on_error = pipeline::parse_on_error(options.on_error, "augment");
  if (options.copies < 1) throw Error("", "augment", "--copies must be at least 1");
  if (options.format != "png" && options.format != "jpg" && options.format != "npy")
    throw Error("", "augment", fmt::format("--format {}: expected png, jpg or npy", options.format));

  pipeline::Spec spec = pipeline::load_spec(options.spec_path);
  if (options.seed) spec.seed = *options.seed;
  // A replay runs with the seed its record was made with (noise and random erasing values come
  // from it, not from the recorded parameters); a --seed that says otherwise is a mistake.
  if (!options.replay_path.empty())
    if (const std::optional<uint64_t> recorded = pipeline::ReplayTable::recorded_seed(options.replay_path)) {
      if (options.seed && *options.seed != *recorded)
        throw Error(options.replay_path, "replay",
                    fmt::format("recorded with seed {}, but --seed {} was given: leave --seed out", *recorded,
                                *options.seed));
      spec.seed = *recorded;
    }
  const pipeline::Augmenter augmenter(spec);
  const std::vector<uint8_t> replacement =
      on_error == pipeline::OnError::kReplace ? pipeline::load_replacement(spec) : std::vector<uint8_t>();
  const data::Source source = data::open_source(options.input);

  uint64_t epoch = options.epoch;
  std::vector<WorkItem> items;
  std::optional<pipeline::ReplayTable> replay;
  pipeline::ReplayLookup lookup;
  if (!options.replay_path.empty()) {
    replay = pipeline::ReplayTable::load(options.replay_path, augmenter.chain());
    epoch = replay->epoch();
    std::map<std::pair<uint64_t, uint32_t>, bool> seen;
    for (const auto& entry : replay->entries()) {
      if (entry.id.index >= source.samples.size() || source.samples[entry.id.index].relative != entry.file)
        throw Error(options.replay_path, "replay",
                    fmt::format("sample {} is '{}' in the record but '{}' in {}", entry.id.index,
                                entry.file,
                                entry.id.index < source.samples.size() ? source.samples[entry.id.index].relative : "nothing",
                                options.input));
      if (!seen[{entry.id.index, entry.id.copy}]) items.push_back({entry.id.index, entry.id.copy});
      seen[{entry.id.index, entry.id.copy}] = true;
    }
    lookup = [&](const SampleId& id) { return replay->find(id); };
  } else {
    for (uint64_t i = 0; i < source.samples.size(); ++i)
      for (int k = 0; k < options.copies; ++k) items.push_back({i, uint32_t(k)});
  }
  // Across processes the work goes out in chunks on demand where the ranks can talk (mpirun);
  // launched without MPI (torchrun, srun) each rank takes the images whose index % size is its
  // rank. Either way the outputs are disjoint files, and rank 0 writes the record and counts from
  // everybody's.
  const dist::World world = dist::detect_world();
  const bool on_demand = dist::shares_work_on_demand(world);
  // Messages only where needed: under mpirun (work on demand, everybody's counts) or for a record.
  // Launched by torchrun or Slurm without MPI, each rank writes its part and counts its own.
  dist::Communicator* comm =
      world.distributed() && (on_demand || !options.record_path.empty()) ? &dist::communicator(world) : nullptr;
  if (world.distributed() && !on_demand)
    std::erase_if(items, [&](const WorkItem& w) { return int(w.index % uint64_t(world.size)) != world.rank; });
  const bool numbered_copies =
      replay ? std::any_of(items.begin(), items.end(), [](const WorkItem& w) { return w.copy > 0; })
             : options.copies > 1;
  const bool has_crops = augmenter.chain().has_local_crops();
  // Inputs whose names differ only by extension keep it in their output names; names two
  // inputs would still share are refused before anything is written.
  const std::vector<std::string> stems = output_stems(source.samples);
  require_distinct_outputs(source.samples, stems, "write");

  AugmentSummary summary;
  summary.images = source.samples.size();
  std::vector<std::vector<std::string>> records(items.size());
  std::vector<std::string> item_errors(items.size());
  std::vector<size_t> item_written(items.size(), 0);
  std::vector<char> item_replaced(items.size(), 0);

  // The journal: one line per finished (image, copy) with its record lines, so that a killed
  // run resumes where it stopped; its header holds what decides the bytes written.
  const std::vector<Device> devices = dist::process_devices(options.device, world);
  const bool on_gpu = devices.front().cuda;
  const std::string spec_text = file_text(options.spec_path);
  const nlohmann::json header{
      {"job", "augment"},
      {"input", std::filesystem::absolute(options.input).lexically_normal().string()},
      {"spec", text_hash(spec_text)},
      {"seed", spec.seed},
      {"epoch", epoch},
      {"copies", options.copies},
      {"format", options.format},
      {"quality", options.jpeg_quality},
      {"replay", options.replay_path.empty() ? std::string() : text_hash(file_text(options.replay_path))},
      // Which decoder takes which samples (it makes their pixels): a resumed run must split them
      // as the journal's did. Images above the tile threshold decode on the CPU even where a GPU
      // decoder would; without nvJPEG its share goes to the CPU.
      {"decoder", on_gpu && spec.decode.gpu
                      ? fmt::format("nvjpeg {}/8, exact {}/8 up to {} pixels, cpu above {} pixels",
                                    codec::NvjpegDecoder::built() ? spec.decode.gpu_eighths() : 0,
                                    plan::GpuJpegDecoder::exact() ? spec.decode.exact_eighths() : 0,
                                    pipeline::kExactGpuMaxPixels, options.tile_threshold)
                      : "cpu"},
      {"ranks", world.size},
      // Entries are matched by sample index and copy: another list of files (one added or gone
      // since) would map them onto other files, and a record asked for only on resume would
      // lack the earlier entries' lines.
      {"input_files", input_list_hash(source)},
      {"record", !options.record_path.empty()}};
  std::filesystem::create_directories(options.output);
  Journal journal((std::filesystem::path(options.output) / ".gpuaug-augment.journal").string() +
                      (world.distributed() ? fmt::format(".rank{}", world.rank) : ""),
                  header, options.resume);
  if (journal.resumed()) remove_temporaries(options.output);
  const DropJournalIfEmpty drop_empty_journal(journal);
  std::vector<bool> done(items.size(), false);
  std::map<std::pair<uint64_t, uint32_t>, size_t> ordinal;
  for (size_t n = 0; n < items.size(); ++n) ordinal[{items[n].index, items[n].copy}] = n;
  for (const nlohmann::json& entry : journal.previous()) {
    const auto it = ordinal.find({entry.at("i").get<uint64_t>(), entry.at("c").get<uint32_t>()});
    if (it == ordinal.end()) continue;
    const size_t n = it->second;
    done[n] = true;
    item_written[n] = entry.at("written").get<size_t>();
    records[n] = entry.at("records").get<std::vector<std::string>>();
    if (entry.contains("error")) item_errors[n] = entry.at("error").get<std::string>();
    item_replaced[n] = entry.value("replaced", false);
  }
  // Every rank skips what any rank's journal holds (each reports its own at the end).
  if (world.distributed() && on_demand) done = dist::any_rank(*comm, done);
  for (size_t n = 0; n < items.size(); ++n) summary.resumed += done[n];
  auto finish_item = [&](size_t n) {
    nlohmann::json entry{{"i", items[n].index}, {"c", items[n].copy}, {"written", item_written[n]},
                         {"records", records[n]}};
    if (!item_errors[n].empty()) entry["error"] = item_errors[n];
    if (item_replaced[n]) entry["replaced"] = true;
    journal.append(entry);
  };
  std::vector<size_t> todo;
  for (size_t n = 0; n < items.size(); ++n)
    if (!done[n]) todo.push_back(n);

  Progress progress("augment", items.size(), options.progress && world.rank == 0);
  progress.advance(summary.resumed);
  ThreadPool pool(options.threads > 0 ? options.threads : dist::threads_per_process(world));
  // Where item n's sample `id` goes; never onto its input.
  auto sample_path = [&](size_t n, const SampleId& id) {
    const data::SampleRef& ref = source.samples[items[n].index];
    const std::string path = output_path_of_stem(options.output, stems[items[n].index], id, numbered_copies,
                                                 has_crops, options.format);
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && std::filesystem::equivalent(path, ref.path, ec))
      throw Error(ref.path, "write", "the output " + path + " would overwrite its input");
    return path;
  };
  auto note_written = [&](size_t n, const pipeline::SamplePlan& plan) {
    ++item_written[n];
    if (!options.record_path.empty())
      records[n].push_back(json_text(
          pipeline::record_line(source.samples[items[n].index].relative, plan.id, spec.seed, epoch, has_crops, plan.drawn)));
  };
  auto write_item = [&](size_t n, const std::vector<pipeline::AugmentedSample>& samples) {
    for (const auto& sample : samples) {
      const std::string path = sample_path(n, sample.plan.id);
      std::vector<uint8_t> bytes;
      try {
        bytes = encode_output(sample, options.format, options.jpeg_quality);
      } catch (const Error& e) {
        throw e.with_file(source.samples[items[n].index].path);
      }
      write_file_atomic(path, bytes);
      note_written(n, sample.plan);
    }
  };
  // Runs one item's work; a failure raises, is counted (skip), or has the replacement image
  // stand in (replace: `instead` makes its outputs, and its own failure raises).
  auto guarded = [&](size_t n, const std::function<void()>& work, const std::function<void()>& instead) {
    try {
      try {
        work();
      } catch (const std::bad_alloc&) {  // this sample's outputs did not fit: it, not the job
        throw Error(source.samples[items[n].index].path, "memory",
                    "out of memory making its samples (is the output size what the spec means?)");
      }
    } catch (const Error& e) {
      if (on_error == pipeline::OnError::kRaise) throw;
      item_errors[n] = e.what();
      if (on_error == pipeline::OnError::kReplace) {
        item_replaced[n] = 1;
        instead();
      }
    }
  };
  const pipeline::ReplayLookup* replay_lookup = replay ? &lookup : nullptr;
  std::vector<pipeline::WorkerShare> shares;
  // Images above --tile-threshold wait for the end, then go one at a time, each sample cut into
  // tiles for every thread or GPU (a chain with contrast as one tile: it needs the whole image).
  // A header that cannot be read is left to the ordinary path, which reports it.
  std::vector<size_t> large;
  std::vector<char> set_aside(items.size(), 0);  // each item's own thread writes and reads its flag
  std::mutex large_mutex;
  auto set_aside_if_large = [&](size_t n, std::span<const uint8_t> bytes) {
    if (options.tile_threshold == 0) return false;
    try {
      const codec::ImageInfo info = codec::peek_image(bytes, spec.decode.max_pixels);
      if (uint64_t(info.width) * uint64_t(info.height) <= options.tile_threshold) return false;
    } catch (const Error&) {
      return false;
    }
    set_aside[n] = 1;
    const std::lock_guard lock(large_mutex);
    large.push_back(n);
    return true;
  };
  // An upright JPEG or PNG of one sample is streamed (run_tiled_streamed: only a band of its decoded rows
  // held at a time); others are decoded whole. Each sample's file is written as its tiles land
  // (TileFileWriter), so no sample's output is whole in memory either; the files of an image are
  // moved into place together once all its samples are made, so that a failure leaves none.
  auto write_tiled_item = [&](size_t n, std::span<const uint8_t> bytes, pipeline::GpuWorkers* gpus) {
    const WorkItem& item = items[n];
    const std::string& file = source.samples[item.index].path;
    const auto format = TileFileWriter::format_named(options.format);
    if (!format) throw Error(file, "write", fmt::format("unknown output format '{}' (png, jpg, npy)", options.format));
    const bool stream =
        augmenter.chain().samples_per_image() == 1 && streams(bytes, spec.decode.max_pixels, options.tile);
    pipeline::PreparedImage prepared =
        augmenter.prepare(bytes, file, item.index, item.copy, epoch, replay_lookup, false, stream);
    const RandomKey key = RandomKey::from(spec.seed, epoch);
    std::vector<std::unique_ptr<TileFileWriter>> writers;
    std::vector<std::string> paths;
    for (pipeline::SamplePlan& p : prepared.plans) {
      const int side = plan::needs_whole_output(p.fold) ? 0 : options.tile;
      try {
        paths.push_back(sample_path(n, p.id));
        writers.push_back(std::make_unique<TileFileWriter>(paths.back(), *format, p.fold,
                                                           spec.output.layout, options.jpeg_quality));
        if (prepared.decode_deferred)
          run_tiled_streamed(p.fold, bytes, prepared.cpu_request, {key, p.id}, spec.output.layout, side, pool,
                             {.workers = gpus}, nullptr, writers.back().get());
        else
          run_tiled(p.fold, prepared.image, {key, p.id}, spec.output.layout, side, pool, {.workers = gpus}, nullptr,
                    writers.back().get());
      } catch (const Error& e) {
        if (!e.file().empty() || dynamic_cast<const Interrupted*>(&e)) throw;
        throw e.with_file(file);
      }
    }
    // Every file complete before any moves into place; a move that fails takes back those before it.
    for (auto& writer : writers) {
      try {
        writer->finish();
      } catch (const Error& e) {
        throw e.file().empty() ? e.with_file(file) : e;
      }
    }
    for (size_t k = 0; k < writers.size(); ++k) {
      try {
        writers[k]->commit();
      } catch (const Error&) {
        for (size_t j = 0; j < k; ++j) {
          std::error_code ignored;
          std::filesystem::remove(paths[j], ignored);
        }
        throw;
      }
    }
    for (const pipeline::SamplePlan& p : prepared.plans) note_written(n, p);
  };
  auto run_large = [&](pipeline::GpuWorkers* gpus) {
    std::sort(large.begin(), large.end());
    for (const size_t n : large) {
      throw_if_stopped();
      const WorkItem& item = items[n];
      guarded(n, [&] {
        write_tiled_item(n, data::read_sample(source, source.samples[item.index]), gpus);
      }, [&] {
        write_item(n, augmenter.run(replacement, spec.replacement, item.index, item.copy, epoch, replay_lookup));
      });
      if (stop_requested()) break;  // the image a stop cut short is left for --resume
      finish_item(n);
      progress.advance();
    }
    if (!large.empty()) shares.push_back({"tiled, every worker", large.size()});
  };
  if (!on_gpu) {
    // Each thread takes small chunks itself (from the other ranks' too under mpirun), so no
    // thread waits at a chunk's end for the slowest image of it.
    constexpr size_t kChunk = 4;
    dist::ChunkQueue chunks((todo.size() + kChunk - 1) / kChunk, on_demand ? comm : nullptr);
    std::atomic<size_t> mine{0};
    pool.parallel_for(size_t(pool.size()), [&](size_t) {
      while (!stop_requested()) {  // what a stop leaves is not journaled: it is left for --resume
        const auto chunk = chunks.next();
        if (!chunk) return;
        for (size_t t = *chunk * kChunk; t < std::min(todo.size(), (*chunk + 1) * kChunk) && !stop_requested(); ++t) {
          const size_t n = todo[t];
          guarded(n, [&] {
            const WorkItem& item = items[n];
            const data::SampleRef& ref = source.samples[item.index];
            const std::vector<uint8_t> bytes = data::read_sample(source, ref);
            if (set_aside_if_large(n, bytes)) return;
            write_item(n, augmenter.run(bytes, ref.path, item.index, item.copy, epoch, replay_lookup));
          }, [&] {
            const WorkItem& item = items[n];
            write_item(n, augmenter.run(replacement, spec.replacement, item.index, item.copy, epoch, replay_lookup));
          });
          if (set_aside[n]) continue;
          finish_item(n);
          progress.advance();
          ++mine;
        }
      }
    });
    shares.push_back({fmt::format("cpu {} threads", pool.size()), mine.load()});
    run_large(nullptr);
  } else {
    // Two workers per GPU, sharing the pool: each takes a batch, decodes it (the GPU decoders
    // their shares, the pool the rest), runs it on its GPU, then encodes and writes on the pool;
    // one's host work overlaps the other's kernels.
    pipeline::GpuWorkers workers(devices, spec.decode.gpu && spec.decode.gpu_eighths() > 0, 2,
                                 spec.decode.gpu && spec.decode.exact_eighths() > 0);
    const size_t batch = size_t(std::max(options.batch, 1));
    dist::ChunkQueue chunks((todo.size() + batch - 1) / batch, on_demand ? comm : nullptr);
    workers.run([&](pipeline::GpuWorker& worker) {
      const bool nvjpeg = worker.nvjpeg != nullptr;
      while (!stop_requested() && !workers.failed()) {
        const auto chunk = chunks.next();
        if (!chunk) return;
        const size_t begin = *chunk * batch, end = std::min(todo.size(), begin + batch);
        std::vector<std::vector<uint8_t>> blobs(end - begin);
        std::vector<pipeline::PreparedImage> prepared(end - begin);
        pool.parallel_for(end - begin, [&](size_t k) {
          guarded(todo[begin + k], [&] {
            const WorkItem& item = items[todo[begin + k]];
            const std::string& path = source.samples[item.index].path;
            blobs[k] = data::read_sample(source, source.samples[item.index]);
            if (set_aside_if_large(todo[begin + k], blobs[k])) return;  // prepared[k] stays empty
            prepared[k] = augmenter.prepare(blobs[k], path, item.index, item.copy, epoch, replay_lookup, nvjpeg,
                                            /*defer_cpu_decode=*/true, worker.exact != nullptr);
          }, [&] {
            const WorkItem& item = items[todo[begin + k]];
            prepared[k] = augmenter.prepare(replacement, spec.replacement, item.index, item.copy, epoch,
                                            replay_lookup, nvjpeg);
          });
        });
        std::vector<std::optional<Error>> decode_errors;
        // nvJPEG and GpuJpegDecoder decode their shares while the pool decodes the rest.
        auto results = augmenter.execute_gpu(*worker.executor, prepared, epoch, worker.nvjpeg.get(), &decode_errors,
                                             &pool, worker.exact.get());
        pool.parallel_for(end - begin, [&](size_t k) {
          const size_t n = todo[begin + k];
          if (set_aside[n]) return;
          if (decode_errors[k]) {
            // nvJPEG refused it and the CPU could not decode it either: on_error as anywhere.
            const WorkItem& item = items[n];
            guarded(n, [&] { throw *decode_errors[k]; }, [&] {
              write_item(n, augmenter.run(replacement, spec.replacement, item.index, item.copy, epoch, replay_lookup));
            });
          } else if (item_errors[n].empty() || item_replaced[n]) {
            guarded(n, [&] { write_item(n, results[k]); }, [] { throw; });
          }
          finish_item(n);
          progress.advance();
        });
        for (size_t t = begin; t < end; ++t) worker.items += !set_aside[todo[t]];
      }
    });
    shares = workers.shares();
    run_large(&workers);
  }
  name_by_rank(shares, world);
  progress.finish();
  throw_if_stopped();

  // (image, copy) -> record lines, and the failures, from every rank.
  nlohmann::json mine{{"written", 0}, {"records", nlohmann::json::array()}, {"errors", nlohmann::json::array()},
                      {"shares", shares_json(shares)}};
  std::map<uint64_t, bool> failed_images;  // a bad file counts once, whatever its copies
  for (size_t n = 0; n < items.size(); ++n) {
    mine["written"] = mine["written"].get<size_t>() + item_written[n];
    for (const std::string& line : records[n]) mine["records"].push_back({items[n].index, items[n].copy, line});
    if (!item_errors[n].empty() && !failed_images[items[n].index]) {
      failed_images[items[n].index] = true;
      mine["errors"].push_back({items[n].index, item_errors[n], bool(item_replaced[n])});
    }
  }
  std::vector<nlohmann::json> parts{mine};
  if (comm) {
    parts.clear();
    for (const std::string& part : comm->gather(json_text(mine))) parts.push_back(nlohmann::json::parse(part));
  }
  std::vector<std::tuple<uint64_t, uint32_t, std::string>> record_lines;
  std::vector<std::tuple<uint64_t, std::string, bool>> errors;
  for (const auto& part : parts) {
    summary.written += part.at("written").get<size_t>();
    for (const auto& r : part.at("records"))
      record_lines.emplace_back(r.at(0).get<uint64_t>(), r.at(1).get<uint32_t>(), r.at(2).get<std::string>());
    for (const auto& e : part.at("errors"))
      errors.emplace_back(e.at(0).get<uint64_t>(), e.at(1).get<std::string>(), e.at(2).get<bool>());
    append_shares(part.at("shares"), summary.shares);
  }
  // Input order (index, copy; crops in the order made), whatever the threads and ranks.
  std::stable_sort(record_lines.begin(), record_lines.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  std::sort(errors.begin(), errors.end());
  for (auto& [index, text, was_replaced] : errors) {
    (was_replaced ? summary.replaced : summary.skipped) += 1;
    summary.errors.push_back((was_replaced ? "replaced: " : "skipped: ") + std::move(text));
  }
  std::string record_text;
  for (const auto& line : record_lines) record_text += std::get<2>(line) + "\n";
  if (!options.record_path.empty() && world.rank == 0)
    write_file_atomic(options.record_path,
                      {reinterpret_cast<const uint8_t*>(record_text.data()), record_text.size()});
  if (comm) comm->barrier();
  journal.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace gpuaug::jobs
