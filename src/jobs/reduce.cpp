// reduce: windows of images decoded and resized on the pool (or one GPU batch), then written in
// index order to a mirror tree or to shards; the journal records each finished file or shard.
#include "jobs/reduce.h"

#include <chrono>
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
#include "core/thread_pool.h"
#include "data/source.h"
#include "dist/world.h"
#include "jobs/journal.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "jobs/stop_signal.h"
#include "jobs/tar_writer.h"
#include "pipeline/augmenter.h"

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
  std::string error;  // set when on_error is skip and the sample failed
};

pipeline::Spec resize_spec(int height, int width, bool dct_scaling) {
  pipeline::Spec spec;
  spec.name = "reduce";
  spec.decode.dct_scaling = dct_scaling;
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
// WebDataset splits a member name at the first dot of its basename.
std::vector<std::string> output_keys(const data::Source& source, bool sharded) {
  std::map<std::string, int> stem_count;
  for (const auto& ref : source.samples) ++stem_count[output_stem(ref.relative)];
  std::vector<std::string> keys;
  for (const auto& ref : source.samples) {
    std::string key = output_stem(ref.relative);
    if (stem_count[key] > 1) {
      const std::string extension = fs::path(ref.relative).extension().string();
      if (!extension.empty()) key += "_" + extension.substr(1);
    }
    if (sharded) {
      const size_t slash = key.rfind('/');
      for (size_t i = slash == std::string::npos ? 0 : slash + 1; i < key.size(); ++i)
        if (key[i] == '.') key[i] = '_';
    }
    keys.push_back(key);
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
  if (o.shards > 0 && o.shard_size > 0) throw Error("", "reduce", "give --shards or --shard-size, not both");
  if (o.on_error != "raise" && o.on_error != "skip")
    throw Error("", "reduce", fmt::format("--on-error {}: expected raise or skip", o.on_error));
}

}  // namespace

ReduceSummary run_reduce(const ReduceOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  check_options(o);
  dist::require_one_process(dist::detect_world(), "reduce");
  const data::Source source = data::open_source(o.input);
  if (inside(o.output, source.root))
    throw Error(o.output, "reduce", "the output folder is inside the input folder " + source.root);
  const bool sharded = o.shards > 0 || o.shard_size > 0;
  const Device device = parse_device(o.device);
  const std::vector<std::string> keys = output_keys(source, sharded);
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
                    {"decoder", device.cuda && codec::NvjpegDecoder::built() ? "nvjpeg" : "cpu"}};
  fs::create_directories(o.output);
  Journal journal((fs::path(o.output) / ".gpuaug-reduce.journal").string(), header, o.resume);
  if (journal.resumed()) remove_temporaries(o.output);
  const DropJournalIfEmpty drop_empty_journal(journal);

  ReduceSummary summary;
  summary.images = count;
  // What is finished: per sample (index entries for index.json), and per shard.
  std::vector<std::optional<json>> sample_entries(count);
  std::vector<json> shard_entries;
  size_t next = 0;  // shards: the first sample not in a finished shard
  auto take_error = [&](const json& e) {
    ++summary.skipped;
    summary.errors.push_back(e.at("error").get<std::string>());
  };
  for (const json& entry : journal.previous()) {
    if (entry.contains("shard")) {
      shard_entries.push_back(entry);
      for (const json& s : entry.at("samples")) sample_entries[s.at("i").get<size_t>()] = s;
      for (const json& e : entry.at("errors")) take_error(e);
      next = entry.at("end").get<size_t>();
    } else {
      const size_t i = entry.at("i").get<size_t>();
      sample_entries[i] = entry;
      if (entry.contains("error")) take_error(entry);
    }
  }
  std::vector<size_t> todo;
  for (size_t i = sharded ? next : 0; i < count; ++i)
    if (sharded || !sample_entries[i]) todo.push_back(i);
  summary.resumed = count - todo.size();

  ThreadPool pool(o.threads);
  Progress progress("reduce", count, o.progress);
  progress.advance(summary.resumed);

  std::unique_ptr<plan::CudaExecutor> executor;
  std::unique_ptr<codec::NvjpegDecoder> nvjpeg;
  std::optional<pipeline::Augmenter> gpu_runner;  // executes any batch of prepared resize plans
  if (device.cuda) {
    executor = std::make_unique<plan::CudaExecutor>(device.index);
    if (codec::NvjpegDecoder::built()) nvjpeg = std::make_unique<codec::NvjpegDecoder>(device.index);
    gpu_runner.emplace(resize_spec(1, 1, o.dct_scaling));
  }

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
    const auto [h, w] = reduced_size(info.oriented_width(), info.oriented_height(), o.max_side, o.scale);
    r.width = w;
    r.height = h;
    if (w == info.oriented_width() && h == info.oriented_height()) return std::nullopt;
    return pipeline::Augmenter(resize_spec(h, w, o.dct_scaling));
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

  // One window of samples through decode, resize and encode.
  auto process = [&](const std::vector<size_t>& window, std::vector<Reduced>& results) {
    if (!device.cuda) {
      pool.parallel_for(window.size(), [&](size_t k) {
        if (stop_requested()) return;
        Reduced& r = results[k];
        try {
          std::vector<uint8_t> blob;
          if (auto augmenter = prepare(window[k], blob, r)) {
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
      return;
    }
    std::vector<std::vector<uint8_t>> blobs(window.size());
    std::vector<pipeline::PreparedImage> prepared(window.size());
    std::vector<int> on_gpu(window.size(), 0);
    pool.parallel_for(window.size(), [&](size_t k) {
      if (stop_requested()) return;
      Reduced& r = results[k];
      try {
        if (auto augmenter = prepare(window[k], blobs[k], r)) {
          prepared[k] = augmenter->prepare(blobs[k], source.samples[window[k]].path, window[k], 0, 0,
                                           nullptr, nvjpeg != nullptr);
          on_gpu[k] = 1;
        } else {
          encode_into(window[k], decode_whole(window[k], blobs[k]), r);
        }
      } catch (const Error& e) {
        fail(e, r);
        r.done = true;
      }
    });
    std::vector<size_t> members;
    std::vector<pipeline::PreparedImage> batch;
    for (size_t k = 0; k < window.size(); ++k)
      if (on_gpu[k]) {
        members.push_back(k);
        batch.push_back(std::move(prepared[k]));
      }
    if (batch.empty()) return;
    std::vector<std::optional<Error>> decode_errors;
    auto outputs = gpu_runner->execute_gpu(*executor, batch, 0, nvjpeg.get(), &decode_errors);
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

  // Shards: the shard being filled, and the rule that closes it.
  std::unique_ptr<TarWriter> shard;
  json shard_entry;
  auto shard_of = [&](size_t i) { return o.shards > 0 ? i * size_t(o.shards) / count : shard_entries.size(); };
  auto open_shard = [&](size_t number, size_t first) {
    const std::string name = fmt::format("shard-{:06d}.tar", number);
    shard = std::make_unique<TarWriter>((fs::path(o.output) / name).string());
    shard_entry = json{{"shard", number}, {"file", name}, {"first", first},
                       {"samples", json::array()}, {"errors", json::array()}};
  };
  auto close_shard = [&](size_t end) {
    shard->close();
    shard_entry["end"] = end;
    shard_entry["bytes"] = shard->bytes_written();
    journal.append(shard_entry);
    shard_entries.push_back(shard_entry);
    shard.reset();
  };
  auto tar_size = [](size_t bytes) { return 512 + (bytes + 511) / 512 * 512; };

  auto write_in_order = [&](const std::vector<size_t>& window, std::vector<Reduced>& results) {
    for (size_t k = 0; k < window.size(); ++k) {
      const size_t i = window[k];
      Reduced& r = results[k];
      if (!r.done) return;  // stopped: the rest of the window was not reached
      const data::SampleRef& ref = source.samples[i];
      if (!sharded) {
        const std::string stored = keys[i] + "." + o.format;
        if (r.error.empty()) write_file_atomic((fs::path(o.output) / stored).string(), r.encoded);
        const json entry = sample_entry(i, r, stored);
        journal.append(entry);
        sample_entries[i] = entry;
      } else {
        if (o.shards > 0) {
          // Consecutive samples per shard; a shard whose samples all failed is still written,
          // so the numbering never depends on which samples failed.
          const size_t target = shard_of(i);
          if (shard && shard_entry["shard"].get<size_t>() < target) close_shard(i);
          while (!shard && shard_entries.size() < target) {
            open_shard(shard_entries.size(), i);
            close_shard(i);
          }
        } else if (shard && !shard_entry["samples"].empty() &&
                   shard->bytes_written() + tar_size(r.encoded.size()) + (ref.label >= 0 ? 1024 : 0) > o.shard_size) {
          close_shard(i);
        }
        if (!shard) open_shard(shard_of(i), i);
        const std::string stored = keys[i] + "." + o.format;
        if (r.error.empty()) {
          shard->add(stored, r.encoded);
          if (ref.label >= 0) {
            const std::string label = std::to_string(ref.label);
            shard->add(keys[i] + ".cls", {reinterpret_cast<const uint8_t*>(label.data()), label.size()});
          }
        }
        json entry = sample_entry(i, r, stored);
        entry["shard"] = shard_entry["shard"];
        (r.error.empty() ? shard_entry["samples"] : shard_entry["errors"]).push_back(entry);
        sample_entries[i] = entry;
      }
      if (!r.error.empty()) take_error(sample_entries[i].value());
      r = Reduced();
      progress.advance();
    }
  };

  const size_t window_size = device.cuda ? size_t(std::max(o.batch, 1)) : size_t(pool.size()) * 8;
  for (size_t begin = 0; begin < todo.size(); begin += window_size) {
    const std::vector<size_t> window(todo.begin() + begin, todo.begin() + std::min(todo.size(), begin + window_size));
    std::vector<Reduced> results(window.size());
    process(window, results);
    write_in_order(window, results);
    throw_if_stopped();
  }
  if (sharded) {
    if (shard) close_shard(count);
    while (o.shards > 0 && shard_entries.size() < size_t(o.shards)) {
      open_shard(shard_entries.size(), count);
      close_shard(count);
    }
  }
  progress.finish();

  // index.json: every sample in index order, the shards, the classes.
  json index{{"format", o.format}, {"classes", source.classes}, {"samples", json::array()}, {"errors", json::array()}};
  for (const auto& entry : sample_entries) {
    if (!entry) continue;
    json e = *entry;
    e.erase("i");
    if (e.contains("error")) {
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
  const std::string text = index.dump(1) + "\n";
  write_file_atomic((fs::path(o.output) / "index.json").string(),
                    {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  journal.finish();
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
