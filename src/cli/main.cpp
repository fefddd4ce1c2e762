// The gpuaug command: info, ops, augment, preview, bench, demo, clean, stats, reduce, tile.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <jpeglib.h>
#include <nlohmann/json.hpp>
#include <png.h>

#include "core/cuda_runtime_info.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/thread_pool.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/augment.h"
#include "jobs/bench.h"
#include "jobs/bench_compare.h"
#include "jobs/clean.h"
#include "jobs/demo.h"
#include "jobs/preview.h"
#include "jobs/progress.h"
#include "jobs/reduce.h"
#include "jobs/stats.h"
#include "jobs/stop_signal.h"
#include "jobs/tile.h"
#include "ops/registry.h"

namespace {

using namespace gpuaug;

constexpr const char* kDevicesHelp = "cpu, cuda, cuda:N, cuda:N,M,... or cuda:all (one worker per GPU)";

std::string info_text() {
  std::string text = fmt::format("gpuaug {}\n", GPUAUG_VERSION);
  text += fmt::format("  build: CUDA {}, nvJPEG {}, MPI {}\n", built_with_cuda() ? "yes" : "no",
                      built_with_nvjpeg() ? "yes" : "no", dist::built_with_mpi() ? "yes" : "no");
  text += fmt::format("  libjpeg API {}, libpng {}\n", JPEG_LIB_VERSION, PNG_LIBPNG_VER_STRING);
  text += fmt::format("  CPU threads: {}\n", hardware_threads());
  const auto devices = cuda_devices();
  if (devices.empty()) text += "  GPUs: none visible (the CPU path serves)\n";
  for (const auto& d : devices)
    text += fmt::format("  GPU cuda:{}: {} ({:.1f} GiB, sm_{}{})\n", d.index, d.name,
                        d.memory_bytes / double(1ull << 30), d.compute_major, d.compute_minor);
  return text;
}

std::string ops_text(bool as_json) {
  if (as_json) {
    nlohmann::json all = nlohmann::json::array();
    for (const ops::OpDescriptor* op : ops::all_ops()) {
      nlohmann::json j{{"name", op->name}, {"summary", op->summary}, {"reference", op->reference},
                       {"records", op->drawn}};
      for (const auto& p : op->params)
        j["params"].push_back({{"name", p.name}, {"type", p.type},
                               {"default", p.default_value.to_string()}, {"doc", p.doc}});
      all.push_back(j);
    }
    return json_text(all, 2) + "\n";
  }
  std::string text;
  for (const ops::OpDescriptor* op : ops::all_ops()) {
    text += fmt::format("{}\n  {}\n  matches {}\n", op->name, op->summary, op->reference);
    for (const auto& p : op->params)
      text += fmt::format("    {:<16} {:<44} default {:<18} {}\n", p.name, p.type,
                          p.default_value.to_string(), p.doc);
    if (!op->drawn.empty()) text += fmt::format("  records: {}\n", fmt::join(op->drawn, ", "));
    text += "\n";
  }
  return text;
}

// "512MB", "2GB", "100k", "4096": decimal units as disk sizes are usually given.
uint64_t parse_byte_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw Error("", "reduce", fmt::format("--shard-size {}: expected a size such as 512MB", text));
  }
  std::string unit = text.substr(used);
  for (char& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));
  const std::pair<const char*, double> units[] = {{"", 1},       {"b", 1},      {"k", 1e3},    {"kb", 1e3},
                                                  {"m", 1e6},    {"mb", 1e6},   {"g", 1e9},    {"gb", 1e9},
                                                  {"kib", 1024}, {"mib", 1 << 20}, {"gib", 1 << 30}};
  for (const auto& [name, factor] : units) {
    if (unit != name) continue;
    // At least a byte, and a size a uint64_t holds: 0.5 rounded to 0, which means unsharded.
    const double bytes = std::floor(value * factor);
    if (bytes >= 1 && bytes < 1e18) return uint64_t(bytes);
    throw Error("", "reduce", fmt::format("--shard-size {}: need 1 byte to 1 EB", text));
  }
  throw Error("", "reduce", fmt::format("--shard-size {}: expected a size such as 512MB", text));
}

// Seeds and epochs: digits that fit 64 bits. CLI11 reads "-5" into a uint64_t as 2^64 - 5 and
// saturates past 2^64 - 1, where the spec's own seed: is refused.
const CLI::Validator kUnsigned64(
    [](std::string& text) -> std::string {
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
        return "expected a whole number from 0 to 18446744073709551615, got " + text;
      errno = 0;
      (void)std::strtoull(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return text + " is past 18446744073709551615";
      return {};
    },
    "UINT64");

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gpuaug: image augmentation and dataset jobs on CPU and GPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(GPUAUG_VERSION));

  app.add_subcommand("info", "Version, build features, devices and threads");

  auto* ops_cmd = app.add_subcommand("ops", "Every op, its parameters and defaults");
  bool ops_json = false;
  ops_cmd->add_flag("--json", ops_json, "Print the descriptors as JSON");

  jobs::AugmentOptions augment;
  auto* augment_cmd = app.add_subcommand("augment", "Augment a folder or list of images into files");
  augment_cmd->add_option("--spec", augment.spec_path, "YAML or JSON spec")->required();
  augment_cmd->add_option("--input", augment.input, "Folder, file list (.txt) or image")->required();
  augment_cmd->add_option("--output", augment.output, "Output folder (mirrors the input tree)")->required();
  augment_cmd->add_option("--copies", augment.copies, "Augmented copies per image")->check(CLI::PositiveNumber);
  std::optional<uint64_t> augment_seed;
  augment_cmd->add_option("--seed", augment_seed, "Override the spec's seed")->check(kUnsigned64);
  augment_cmd->add_option("--epoch", augment.epoch, "Epoch (part of the random key)")->check(kUnsigned64);
  augment_cmd->add_option("--threads", augment.threads, "CPU threads (0: all cores)");
  augment_cmd->add_option("--format", augment.format, "png, jpg or npy (exact tensors)")
      ->check(CLI::IsMember({"png", "jpg", "npy"}));
  augment_cmd->add_option("--quality", augment.jpeg_quality, "JPEG quality")->check(CLI::Range(1, 100));
  augment_cmd->add_option("--record", augment.record_path, "Write drawn parameters, one JSON line per sample");
  augment_cmd->add_option("--replay", augment.replay_path, "Reproduce the samples of a --record file");
  augment_cmd->add_option("--on-error", augment.on_error, "raise, skip, or replace (the spec's `replacement:`)")
      ->check(CLI::IsMember({"raise", "skip", "replace"}));
  augment_cmd->add_option("--device", augment.device, kDevicesHelp);
  augment_cmd->add_option("--batch", augment.batch, "Images per GPU batch")->check(CLI::PositiveNumber);
  augment_cmd->add_flag("--resume", augment.resume, "Finish an interrupted run from its journal");
  augment_cmd->add_option("--tile-threshold", augment.tile_threshold,
                          "Images of more pixels than this (0: none) are made one at a time, in tiles over every "
                          "thread or GPU");
  augment_cmd->add_option("--tile", augment.tile, "Output tile side in pixels for --tile-threshold")
      ->check(CLI::PositiveNumber);
  bool augment_quiet = false;
  augment_cmd->add_flag("--quiet", augment_quiet, "No progress bar or summary");

  jobs::PreviewOptions preview;
  auto* preview_cmd = app.add_subcommand("preview", "A PNG grid of originals beside augmented samples");
  preview_cmd->add_option("--spec", preview.spec_path, "YAML or JSON spec")->required();
  preview_cmd->add_option("--input", preview.input, "Folder, file list or image")->required();
  preview_cmd->add_option("--output", preview.output, "PNG file to write")->required();
  preview_cmd->add_option("--n", preview.n, "Number of images")->check(CLI::PositiveNumber);
  std::optional<uint64_t> preview_seed;
  preview_cmd->add_option("--seed", preview_seed, "Override the spec's seed")->check(kUnsigned64);
  preview_cmd->add_option("--epoch", preview.epoch, "Epoch")->check(kUnsigned64);
  preview_cmd->add_option("--threads", preview.threads, "CPU threads (0: all cores)");
  preview_cmd->add_option("--device", preview.device, "cpu, cuda or cuda:N (one GPU)");

  jobs::BenchOptions bench;
  auto* bench_cmd = app.add_subcommand("bench", "Decode + augment to memory and report images/s");
  bench_cmd->add_option("--spec", bench.spec_path, "YAML or JSON spec")->required();
  bench_cmd->add_option("--input", bench.input, "Folder, file list or image")->required();
  bench_cmd->add_option("--threads", bench.threads, "CPU threads (0: all cores)");
  bench_cmd->add_option("--batch", bench.batch, "Images per batch")->check(CLI::PositiveNumber);
  bench_cmd->add_option("--iters", bench.iters, "Timed passes over the inputs")->check(CLI::PositiveNumber);
  bench_cmd->add_option("--warmup", bench.warmup, "Untimed passes first");
  bench_cmd->add_option("--limit", bench.limit, "Use at most this many images");
  bench_cmd->add_option("--device", bench.device, kDevicesHelp);
  bench_cmd->add_flag("--augment-only", bench.augment_only,
                      "GPU: decode once, time planning + kernels on images already on the device");
  bool bench_json = false;
  bench_cmd->add_flag("--json", bench_json, "Print one JSON object");
  bool bench_compare = false;
  std::string bench_output;
  bench_cmd->add_flag("--compare", bench_compare,
                      "1, 2, 4, ... CPU threads, the GPU, and every process (under mpirun/torchrun), in one table");
  bench_cmd->add_option("--output", bench_output, "--compare: write compare.csv, compare.md and compare.png here");

  std::string demo_out = "demo-out";
  int demo_threads = 0;
  auto* demo_cmd = app.add_subcommand("demo", "Augment the bundled sample images and draw a preview");
  demo_cmd->add_option("--output", demo_out, "Output folder");
  demo_cmd->add_option("--threads", demo_threads, "CPU threads (0: all cores)");

  jobs::CleanOptions clean;
  std::string restore_dir;
  bool clean_quiet = false;
  auto* clean_cmd = app.add_subcommand(
      "clean", "Find unreadable, truncated, tiny, extreme, constant and duplicate images; report, quarantine");
  auto* clean_input = clean_cmd->add_option("--input", clean.input, "Folder, file list or image");
  auto* clean_report = clean_cmd->add_option("--report", clean.report_path, "JSON report to write");
  clean_cmd->add_option("--csv", clean.csv_path, "Also write the findings as CSV");
  clean_cmd->add_option("--quarantine", clean.quarantine_dir,
                        "Move flagged files here (relative paths kept, manifest written)");
  auto* clean_restore = clean_cmd->add_option("--restore", restore_dir, "Undo the quarantine in this folder");
  clean_cmd->add_option("--min-side", clean.min_side, "Smaller side below this is tiny")->check(CLI::NonNegativeNumber);
  clean_cmd->add_option("--max-aspect", clean.max_aspect, "Long/short side above this is extreme")
      ->check(CLI::PositiveNumber);
  clean_cmd->add_option("--near-dup-distance", clean.near_dup_distance,
                        "Hamming distance of 64-bit dHashes that counts as near duplicate (-1: off)");
  clean_cmd->add_option("--constant-std", clean.constant_std, "Every channel's std below this is near-constant");
  clean_cmd->add_option("--threads", clean.threads, "CPU threads (0: all cores)");
  clean_cmd->add_option("--device", clean.device, kDevicesHelp);
  clean_cmd->add_option("--gpu-share", clean.gpu_share, "With cuda: share of JPEGs nvJPEG measures (eighths)")
      ->check(CLI::Range(0.0, 1.0));
  clean_cmd->add_flag("--resume", clean.resume, "Finish an interrupted run from its journal");
  clean_cmd->add_flag("--quiet", clean_quiet, "No progress bar or summary");
  clean_input->excludes(clean_restore);
  clean_report->excludes(clean_restore);

  jobs::StatsOptions stats;
  bool stats_quiet = false;
  auto* stats_cmd = app.add_subcommand(
      "stats", "Per-channel mean, std, histograms, covariance/PCA, formats and sizes of a dataset");
  stats_cmd->add_option("--input", stats.input, "Folder, file list or image")->required();
  stats_cmd->add_option("--output", stats.output, "stats.json to write")->required();
  stats_cmd->add_option("--size", stats.size, "Measure after resizing the short side to this")
      ->check(CLI::PositiveNumber);
  stats_cmd->add_option("--threads", stats.threads, "CPU threads (0: all cores)");
  stats_cmd->add_option("--device", stats.device,
                        "cpu, cuda, cuda:N, cuda:N,M,... or cuda:all (the GPUs sum what the CPU decodes: same file as cpu)");
  stats_cmd->add_option("--gpu-share", stats.gpu_share,
                        "With cuda: share of JPEGs nvJPEG decodes (eighths; default 0: pixels differ slightly from the CPU's)")
      ->check(CLI::Range(0.0, 1.0));
  stats_cmd->add_option("--on-error", stats.on_error, "skip (list the file) or raise")
      ->check(CLI::IsMember({"raise", "skip"}));
  std::string plots_dir;
  stats_cmd->add_option("--plots", plots_dir, "Also draw histogram.png and sizes.png here (matplotlib)");
  stats_cmd->add_flag("--resume", stats.resume, "Finish an interrupted run from its journal");
  stats_cmd->add_flag("--quiet", stats_quiet, "No progress bar or summary");

  jobs::ReduceOptions reduce;
  bool reduce_quiet = false;
  std::string shard_size_text;
  auto* reduce_cmd = app.add_subcommand(
      "reduce", "Shrink and re-encode every image into a mirror tree or tar shards with an index");
  reduce_cmd->add_option("--input", reduce.input, "Folder, file list or image")->required();
  reduce_cmd->add_option("--output", reduce.output, "Output folder")->required();
  auto* max_side = reduce_cmd->add_option("--max-side", reduce.max_side, "Longer side at most this")
                       ->check(CLI::PositiveNumber);
  auto* scale = reduce_cmd->add_option("--scale", reduce.scale, "Both sides times this, in (0, 1]");
  max_side->excludes(scale);
  reduce_cmd->add_option("--format", reduce.format, "jpg or png")->check(CLI::IsMember({"jpg", "png"}));
  reduce_cmd->add_option("--quality", reduce.quality, "JPEG quality")->check(CLI::Range(1, 100));
  auto* shards = reduce_cmd->add_option("--shards", reduce.shards, "Write N tar shards")->check(CLI::PositiveNumber);
  auto* shard_size = reduce_cmd->add_option("--shard-size", shard_size_text, "Tar shards of about this size (512MB)");
  shards->excludes(shard_size);
  reduce_cmd->add_flag("--dct-scaling", reduce.dct_scaling, "Decode JPEGs at 1/2..1/8 first (faster, not Pillow-exact)");
  reduce_cmd->add_option("--threads", reduce.threads, "CPU threads (0: all cores)");
  reduce_cmd->add_option("--device", reduce.device, kDevicesHelp);
  reduce_cmd->add_option("--batch", reduce.batch, "Images per GPU batch")->check(CLI::PositiveNumber);
  reduce_cmd->add_option("--gpu-share", reduce.gpu_share, "With cuda: share of JPEGs nvJPEG decodes (eighths)")
      ->check(CLI::Range(0.0, 1.0));
  reduce_cmd->add_option("--on-error", reduce.on_error, "raise or skip")->check(CLI::IsMember({"raise", "skip"}));
  reduce_cmd->add_flag("--resume", reduce.resume, "Finish an interrupted run from its journal");
  reduce_cmd->add_option("--tile-threshold", reduce.tile_threshold,
                         "Images of more pixels than this (0: none) are resized one at a time, in tiles over every "
                         "thread (or on the worker's GPU)");
  reduce_cmd->add_option("--tile", reduce.tile, "Output tile side in pixels for --tile-threshold")
      ->check(CLI::PositiveNumber);
  reduce_cmd->add_flag("--quiet", reduce_quiet, "No progress bar or summary");

  jobs::TileOptions tile;
  std::optional<uint64_t> tile_seed;
  bool tile_quiet = false;
  auto* tile_cmd = app.add_subcommand(
      "tile", "One huge image through a spec, computed tile by tile from each tile's source region and stitched");
  tile_cmd->add_option("--spec", tile.spec_path, "YAML or JSON spec (one output sample)")->required();
  tile_cmd->add_option("--input", tile.input, "Image file")->required();
  tile_cmd->add_option("--output", tile.output, ".png, .jpg or .npy (the exact tensor)")->required();
  tile_cmd->add_option("--tile", tile.tile, "Output tile side in pixels (0: one tile)")->check(CLI::NonNegativeNumber);
  tile_cmd->add_option("--index", tile.index, "Sample index (with the seed and epoch, decides the parameters)");
  tile_cmd->add_option("--epoch", tile.epoch, "Epoch")->check(kUnsigned64);
  tile_cmd->add_option("--seed", tile_seed, "Override the spec's seed")->check(kUnsigned64);
  tile_cmd->add_option("--quality", tile.jpeg_quality, "JPEG quality")->check(CLI::Range(1, 100));
  tile_cmd->add_option("--threads", tile.threads, "CPU threads (0: all cores)");
  tile_cmd->add_option("--device", tile.device, "cpu, cuda, cuda:N, cuda:N,M,... or cuda:all (tiles in batches on the GPUs)");
  tile_cmd->add_flag("--quiet", tile_quiet, "No summary");

  CLI11_PARSE(app, argc, argv);
  // Long jobs stop between items on SIGINT/SIGTERM, outputs whole, journal current.
  jobs::StopOnSignal stop_on_signal;

  try {
    if (app.got_subcommand("info")) {
      std::cout << info_text();
    } else if (app.got_subcommand("ops")) {
      std::cout << ops_text(ops_json);
    } else if (app.got_subcommand("augment")) {
      augment.seed = augment_seed;
      augment.progress = !augment_quiet;
      const bool first_rank = dist::detect_world().rank == 0;
      const auto summary = jobs::run_augment(augment);
      if (first_rank)
        for (const auto& error : summary.errors) fmt::print(stderr, "{}\n", error);
      if (!augment_quiet && first_rank)
        fmt::print(stderr, "augment: {} images, {} samples written to {}, {} skipped, {} replaced, {:.2f} s\n",
                   summary.images, summary.written, augment.output, summary.skipped, summary.replaced,
                   summary.seconds);
      if (!augment_quiet && first_rank) fmt::print(stderr, "{}", jobs::shares_text(summary.shares));
    } else if (app.got_subcommand("preview")) {
      preview.seed = preview_seed;
      const int n = jobs::run_preview(preview);
      fmt::print("preview: {} pairs -> {}\n", n, preview.output);
    } else if (app.got_subcommand("bench") && bench_compare) {
      const auto report = jobs::run_bench_compare(bench);
      if (dist::detect_world().rank == 0) {
        std::cout << jobs::compare_table(report);
        if (!bench_output.empty()) {
          jobs::write_compare(report, bench_output);
          fmt::print(stderr, "bench: wrote {0}/compare.csv, {0}/compare.md, {0}/compare.png\n", bench_output);
        }
      }
    } else if (app.got_subcommand("bench")) {
      if (!bench_output.empty()) throw Error(bench_output, "bench", "--output goes with --compare");
      const auto result = jobs::run_bench(bench);
      if (bench_json) {
        std::cout << jobs::bench_json(result) << "\n";
      } else {
        fmt::print("bench: {} {} images in {:.3f} s = {:.1f} images/s on {} ({} threads, batch {})\n",
                   result.mode, result.images, result.seconds, result.images_per_s, result.device,
                   result.threads, result.batch);
        if (result.kernel_ms > 0)
          fmt::print("  kernels: {:.2f} ms = {:.0f} samples/s{}\n", result.kernel_ms, result.kernel_images_per_s,
                     result.kernel_gb_per_s > 0 ? fmt::format(", {:.0f} GB/s", result.kernel_gb_per_s) : "");
        fmt::print("{}", jobs::shares_text(result.shares, " images"));
      }
    } else if (app.got_subcommand("clean")) {
      if (!restore_dir.empty()) {
        const size_t n = jobs::run_restore(restore_dir, !clean_quiet);
        fmt::print(stderr, "clean: restored {} files from {}\n", n, restore_dir);
      } else {
        if (clean.input.empty() || clean.report_path.empty())
          throw Error("", "clean", "--input and --report are required (or --restore DIR)");
        clean.progress = !clean_quiet;
        const auto summary = jobs::run_clean(clean);
        if (!clean_quiet && dist::detect_world().rank == 0) std::cerr << jobs::clean_summary_text(summary) << jobs::shares_text(summary.shares, " images");
      }
    } else if (app.got_subcommand("stats")) {
      stats.progress = !stats_quiet;
      const auto summary = jobs::run_stats(stats);
      if (!plots_dir.empty() && dist::detect_world().rank == 0) jobs::draw_stats_plots(stats.output, plots_dir);
      if (!stats_quiet && dist::detect_world().rank == 0)
        std::cerr << jobs::stats_summary_text(summary) << jobs::shares_text(summary.shares, " images");
    } else if (app.got_subcommand("reduce")) {
      if (!shard_size_text.empty()) reduce.shard_size = parse_byte_size(shard_size_text);
      reduce.progress = !reduce_quiet;
      const auto summary = jobs::run_reduce(reduce);
      if (dist::detect_world().rank == 0) {
        for (const auto& error : summary.errors) fmt::print(stderr, "skipped: {}\n", error);
        if (!reduce_quiet)
          std::cerr << jobs::reduce_summary_text(summary, reduce) << jobs::shares_text(summary.shares, " images");
      }
    } else if (app.got_subcommand("tile")) {
      tile.seed = tile_seed;
      const auto summary = jobs::run_tile(tile);
      if (!tile_quiet && dist::detect_world().rank == 0) std::cerr << jobs::tile_summary_text(summary, tile);
    } else if (app.got_subcommand("demo")) {
      std::cout << jobs::run_demo(argv[0], demo_out, demo_threads);
    }
  } catch (const jobs::Interrupted& e) {
    fmt::print(stderr, "gpuaug: {}\n", e.cause());
    dist::end_other_processes(128 + e.signal_number());
    return 128 + e.signal_number();
  } catch (const Error& e) {
    fmt::print(stderr, "gpuaug: error: {}\n", e.what());
    dist::end_other_processes(1);  // a rank that fails ends the job, no rank left waiting
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "gpuaug: error: {}\n", e.what());
    dist::end_other_processes(1);
    return 1;
  }
  return 0;
}
