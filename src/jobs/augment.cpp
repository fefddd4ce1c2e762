// augment: work items (image, copy) over a thread pool; outputs and the record are written in
// an order that does not depend on the thread count.
#include "jobs/augment.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "codec/decoder.h"
#include "codec/nvjpeg_decoder.h"
#include "core/device.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "pipeline/augmenter.h"
#include "pipeline/record.h"

namespace gpuaug::jobs {

namespace {

struct WorkItem {
  uint64_t index;
  uint32_t copy;
};

}  // namespace

AugmentSummary run_augment(const AugmentOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.on_error != "raise" && options.on_error != "skip")
    throw Error("", "augment", fmt::format("--on-error {}: expected raise or skip", options.on_error));
  if (options.copies < 1) throw Error("", "augment", "--copies must be at least 1");
  if (options.format != "png" && options.format != "jpg" && options.format != "npy")
    throw Error("", "augment", fmt::format("--format {}: expected png, jpg or npy", options.format));

  pipeline::Spec spec = pipeline::load_spec(options.spec_path);
  if (options.seed) spec.seed = *options.seed;
  const pipeline::Augmenter augmenter(spec);
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
  const bool numbered_copies =
      replay ? std::any_of(items.begin(), items.end(), [](const WorkItem& w) { return w.copy > 0; })
             : options.copies > 1;
  const bool has_crops = augmenter.chain().has_local_crops();
  // Inputs whose names differ only by extension keep it in their output names.
  std::map<std::string, int> stem_count;
  for (const auto& ref : source.samples) ++stem_count[output_stem(ref.relative)];

  AugmentSummary summary;
  summary.images = source.samples.size();
  std::vector<std::vector<std::string>> records(items.size());
  std::vector<std::string> item_errors(items.size());
  std::vector<size_t> item_written(items.size(), 0);
  Progress progress("augment", items.size(), options.progress);
  ThreadPool pool(options.threads);
  auto write_item = [&](size_t n, const std::vector<pipeline::AugmentedSample>& samples) {
    const data::SampleRef& ref = source.samples[items[n].index];
    for (const auto& sample : samples) {
      const std::string path = output_path(options.output, ref.relative, sample.plan.id, numbered_copies,
                                           has_crops, options.format, stem_count.at(output_stem(ref.relative)) > 1);
      std::error_code ec;
      if (std::filesystem::exists(path, ec) &&
          std::filesystem::equivalent(path, ref.path, ec))
        throw Error(ref.path, "write", "the output " + path + " would overwrite its input");
      std::vector<uint8_t> bytes;
      try {
        bytes = encode_output(sample, options.format, options.jpeg_quality);
      } catch (const Error& e) {
        throw e.with_file(ref.path);
      }
      write_file_atomic(path, bytes);
      ++item_written[n];
      if (!options.record_path.empty())
        records[n].push_back(
            pipeline::record_line(ref.relative, sample.plan.id, epoch, has_crops, sample.plan.drawn).dump());
    }
  };
  auto guarded = [&](size_t n, const std::function<void()>& work) {
    try {
      work();
    } catch (const Error& e) {
      if (options.on_error == "raise") throw;
      item_errors[n] = e.what();
    }
  };
  const pipeline::ReplayLookup* replay_lookup = replay ? &lookup : nullptr;
  const Device device = parse_device(options.device);
  if (!device.cuda) {
    pool.parallel_for(items.size(), [&](size_t n) {
      guarded(n, [&] {
        const WorkItem& item = items[n];
        write_item(n, augmenter.run_file(source.samples[item.index].path, item.index, item.copy,
                                         epoch, replay_lookup));
      });
      progress.advance();
    });
  } else {
    // Decode on the pool (nvJPEG takes the JPEGs it suits), one GPU batch, then encode and
    // write on the pool.
    plan::CudaExecutor executor(device.index);
    std::unique_ptr<codec::NvjpegDecoder> nvjpeg;
    if (codec::NvjpegDecoder::built() && spec.decode.gpu)
      nvjpeg = std::make_unique<codec::NvjpegDecoder>(device.index);
    const size_t batch = size_t(std::max(options.batch, 1));
    for (size_t begin = 0; begin < items.size(); begin += batch) {
      const size_t end = std::min(items.size(), begin + batch);
      std::vector<std::vector<uint8_t>> blobs(end - begin);
      std::vector<pipeline::PreparedImage> prepared(end - begin);
      pool.parallel_for(end - begin, [&](size_t k) {
        guarded(begin + k, [&] {
          const WorkItem& item = items[begin + k];
          const std::string& path = source.samples[item.index].path;
          blobs[k] = codec::read_file(path);
          prepared[k] = augmenter.prepare(blobs[k], path, item.index, item.copy, epoch, replay_lookup,
                                          nvjpeg != nullptr);
        });
      });
      auto results = augmenter.execute_gpu(executor, prepared, epoch, nvjpeg.get());
      pool.parallel_for(end - begin, [&](size_t k) {
        if (item_errors[begin + k].empty()) guarded(begin + k, [&] { write_item(begin + k, results[k]); });
        progress.advance();
      });
    }
  }
  progress.finish();

  std::string record_text;
  std::map<uint64_t, bool> failed_images;  // a bad file counts once, whatever its copies
  for (size_t n = 0; n < items.size(); ++n) {
    summary.written += item_written[n];
    for (const std::string& line : records[n]) record_text += line + "\n";
    if (!item_errors[n].empty() && !failed_images[items[n].index]) {
      failed_images[items[n].index] = true;
      ++summary.skipped;
      summary.errors.push_back(item_errors[n]);
    }
  }
  if (!options.record_path.empty())
    write_file_atomic(options.record_path,
                      {reinterpret_cast<const uint8_t*>(record_text.data()), record_text.size()});
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace gpuaug::jobs
