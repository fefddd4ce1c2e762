// The gpuaug command: info, ops, augment, preview, bench, demo.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <jpeglib.h>
#include <nlohmann/json.hpp>
#include <png.h>

#include "core/cuda_runtime_info.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "jobs/augment.h"
#include "jobs/bench.h"
#include "jobs/demo.h"
#include "jobs/preview.h"
#include "ops/registry.h"

namespace {

using namespace gpuaug;

std::string info_text() {
  std::string text = fmt::format("gpuaug {}\n", GPUAUG_VERSION);
  text += fmt::format("  build: CUDA {}, nvJPEG {}\n", built_with_cuda() ? "yes" : "no",
                      built_with_nvjpeg() ? "yes" : "no");
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
    return all.dump(2) + "\n";
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
  augment_cmd->add_option("--seed", augment_seed, "Override the spec's seed");
  augment_cmd->add_option("--epoch", augment.epoch, "Epoch (part of the random key)");
  augment_cmd->add_option("--threads", augment.threads, "CPU threads (0: all cores)");
  augment_cmd->add_option("--format", augment.format, "png, jpg or npy (exact tensors)")
      ->check(CLI::IsMember({"png", "jpg", "npy"}));
  augment_cmd->add_option("--quality", augment.jpeg_quality, "JPEG quality")->check(CLI::Range(1, 100));
  augment_cmd->add_option("--record", augment.record_path, "Write drawn parameters, one JSON line per sample");
  augment_cmd->add_option("--replay", augment.replay_path, "Reproduce the samples of a --record file");
  augment_cmd->add_option("--on-error", augment.on_error, "raise or skip")->check(CLI::IsMember({"raise", "skip"}));
  augment_cmd->add_option("--device", augment.device, "cpu, cuda or cuda:N");
  augment_cmd->add_option("--batch", augment.batch, "Images per GPU batch")->check(CLI::PositiveNumber);
  bool augment_quiet = false;
  augment_cmd->add_flag("--quiet", augment_quiet, "No progress bar or summary");

  jobs::PreviewOptions preview;
  auto* preview_cmd = app.add_subcommand("preview", "A PNG grid of originals beside augmented samples");
  preview_cmd->add_option("--spec", preview.spec_path, "YAML or JSON spec")->required();
  preview_cmd->add_option("--input", preview.input, "Folder, file list or image")->required();
  preview_cmd->add_option("--output", preview.output, "PNG file to write")->required();
  preview_cmd->add_option("--n", preview.n, "Number of images")->check(CLI::PositiveNumber);
  std::optional<uint64_t> preview_seed;
  preview_cmd->add_option("--seed", preview_seed, "Override the spec's seed");
  preview_cmd->add_option("--epoch", preview.epoch, "Epoch");
  preview_cmd->add_option("--threads", preview.threads, "CPU threads (0: all cores)");
  preview_cmd->add_option("--device", preview.device, "cpu, cuda or cuda:N");

  jobs::BenchOptions bench;
  auto* bench_cmd = app.add_subcommand("bench", "Decode + augment to memory and report images/s");
  bench_cmd->add_option("--spec", bench.spec_path, "YAML or JSON spec")->required();
  bench_cmd->add_option("--input", bench.input, "Folder, file list or image")->required();
  bench_cmd->add_option("--threads", bench.threads, "CPU threads (0: all cores)");
  bench_cmd->add_option("--batch", bench.batch, "Images per batch")->check(CLI::PositiveNumber);
  bench_cmd->add_option("--iters", bench.iters, "Timed passes over the inputs")->check(CLI::PositiveNumber);
  bench_cmd->add_option("--warmup", bench.warmup, "Untimed passes first");
  bench_cmd->add_option("--limit", bench.limit, "Use at most this many images");
  bench_cmd->add_option("--device", bench.device, "cpu, cuda or cuda:N");
  bench_cmd->add_flag("--augment-only", bench.augment_only,
                      "GPU: decode once, time planning + kernels on images already on the device");
  bool bench_json = false;
  bench_cmd->add_flag("--json", bench_json, "Print one JSON object");

  std::string demo_out = "demo-out";
  int demo_threads = 0;
  auto* demo_cmd = app.add_subcommand("demo", "Augment the bundled sample images and draw a preview");
  demo_cmd->add_option("--output", demo_out, "Output folder");
  demo_cmd->add_option("--threads", demo_threads, "CPU threads (0: all cores)");

  CLI11_PARSE(app, argc, argv);

  try {
    if (app.got_subcommand("info")) {
      std::cout << info_text();
    } else if (app.got_subcommand("ops")) {
      std::cout << ops_text(ops_json);
    } else if (app.got_subcommand("augment")) {
      augment.seed = augment_seed;
      augment.progress = !augment_quiet;
      const auto summary = jobs::run_augment(augment);
      for (const auto& error : summary.errors) fmt::print(stderr, "skipped: {}\n", error);
      if (!augment_quiet)
        fmt::print(stderr, "augment: {} images, {} samples written to {}, {} skipped, {:.2f} s\n",
                   summary.images, summary.written, augment.output, summary.skipped, summary.seconds);
    } else if (app.got_subcommand("preview")) {
      preview.seed = preview_seed;
      const int n = jobs::run_preview(preview);
      fmt::print("preview: {} pairs -> {}\n", n, preview.output);
    } else if (app.got_subcommand("bench")) {
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
      }
    } else if (app.got_subcommand("demo")) {
      std::cout << jobs::run_demo(argv[0], demo_out, demo_threads);
    }
  } catch (const Error& e) {
    fmt::print(stderr, "gpuaug: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "gpuaug: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
