// bench --compare: a thread sweep, the GPU, and the processes of an mpirun/torchrun world, each
// through run_bench on the same inputs, then the table.
#include "jobs/bench_compare.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/cuda_runtime_info.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/thread_pool.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/output_files.h"
#include "jobs/plots.h"

namespace gpuaug::jobs {

namespace {

CompareRow make_row(std::string run, const BenchResult& r, int threads, int processes) {
  CompareRow row;
  row.run = std::move(run);
  row.device = r.device;
  row.threads = threads;
  row.processes = processes;
  row.gpus = r.gpus;
  row.images_per_s = r.images_per_s;
  const double thread_s = r.decode_thread_s + r.augment_thread_s;
  if (thread_s > 0) row.decode_share = r.decode_thread_s / thread_s, row.augment_share = r.augment_thread_s / thread_s;
  if (r.kernel_ms > 0 && r.seconds > 0) row.kernel_share = r.kernel_ms * 1e-3 / r.seconds;
  row.result = r;
  return row;
}

// 1, 2, 4, ... below `cores`, then `cores`; plus `also` (a process' share) when missing.
std::vector<int> thread_counts(int cores, int also) {
  std::vector<int> counts;
  for (int t = 1; t < cores; t *= 2) counts.push_back(t);
  counts.push_back(cores);
  if (also > 0 && std::find(counts.begin(), counts.end(), also) == counts.end()) counts.push_back(also);
  std::sort(counts.begin(), counts.end());
  return counts;
}

std::string percent(double share) { return share > 0 ? fmt::format("{:.0f}%", 100 * share) : "—"; }

}  // namespace

CompareReport run_bench_compare(const BenchOptions& options) {
  const dist::World world = dist::detect_world();
  dist::Communicator& comm = dist::communicator(world);
  // The CPUs rank 0 may use (mpirun binds ranks to cores or sockets unless --bind-to none).
  const int hardware = hardware_threads();
  const int per_process = dist::threads_per_process(world);
  CompareReport report;
  const CompareRow* one_thread = nullptr;

  if (hardware < machine_threads())
    report.notes.push_back(fmt::format("this process may use {} of the machine's {} CPUs (a launcher bound it; "
                                       "mpirun --bind-to none lets each rank use all)",
                                       hardware, machine_threads()));
  if (comm.rank() == 0) {
    BenchOptions o = options;
    o.device = "cpu";
    o.augment_only = false;
    o.shard_rank = 0, o.shard_count = 1;
    for (const int t : thread_counts(hardware, world.size > 1 ? per_process : 0)) {
      o.threads = t;
      report.rows.push_back(make_row(fmt::format("cpu {} thread{}", t, t == 1 ? "" : "s"), run_bench(o), t, 1));
    }
    const auto gpus = cuda_devices();
    if (gpus.empty()) {
      report.notes.push_back("no GPU visible: the GPU rows are left out");
    } else {
      o.device = "cuda:0";
      o.threads = hardware;
      report.rows.push_back(make_row(fmt::format("cuda:0 end to end ({} threads decode)", hardware), run_bench(o),
                                     hardware, 1));
      o.augment_only = true;
      report.rows.push_back(make_row("cuda:0 augment only (images on the GPU)", run_bench(o), hardware, 1));
      // 2, 4, ... GPUs in this process, then all of them: one worker each, batches on demand.
      std::vector<int> counts;
      for (int n = 2; n < int(gpus.size()); n *= 2) counts.push_back(n);
      if (gpus.size() > 1) counts.push_back(int(gpus.size()));
      for (const bool augment_only : {false, true})
        for (const int n : counts) {
          std::string list = "cuda:0";
          for (int i = 1; i < n; ++i) list += fmt::format(",{}", i);
          o.device = list;
          o.augment_only = augment_only;
          report.rows.push_back(make_row(augment_only ? fmt::format("{} GPUs augment only", n)
                                                      : fmt::format("{} GPUs end to end ({} threads decode)", n, hardware),
                                         run_bench(o), hardware, 1));
        }
    }
  }

  // Every process at once, each with its share of the cores and of the inputs: on the CPU, and
  // where there are GPUs, each on its own GPU (its local rank's) end to end.
  auto processes_row = [&](const std::string& device) {
    BenchOptions o = options;
    o.device = device;
    o.augment_only = false;
    o.threads = per_process;
    o.shard_rank = comm.rank(), o.shard_count = comm.size();
    comm.barrier();
    const BenchResult mine = run_bench(o);
    nlohmann::json j = nlohmann::json::parse(bench_json(mine));
    const std::vector<std::string> all = comm.gather(json_text(j));
    if (comm.rank() != 0) return;
    BenchResult total = mine;
    total.images = 0, total.seconds = 0, total.decode_thread_s = 0, total.augment_thread_s = 0, total.kernel_ms = 0;
    std::set<std::string> gpus_used;
    for (const std::string& text : all) {
      const nlohmann::json r = nlohmann::json::parse(text);
      total.images += r.at("images").get<size_t>();
      total.seconds = std::max(total.seconds, r.at("seconds").get<double>());  // the last to finish
      total.decode_thread_s += r.at("decode_thread_s").get<double>();
      total.augment_thread_s += r.at("augment_thread_s").get<double>();
      total.kernel_ms += r.value("kernel_ms", 0.0);
      gpus_used.insert(r.at("device").get<std::string>());
    }
    total.images_per_s = total.seconds > 0 ? double(total.images) / total.seconds : 0.0;
    const bool gpu = device != "cpu";
    CompareRow row = make_row(fmt::format("{} processes x {} ({})", comm.size(),
                                          gpu ? fmt::format("1 GPU ({} distinct)", gpus_used.size())
                                              : fmt::format("{} threads", per_process),
                                          world.launcher.empty() ? "launcher" : world.launcher),
                              total, per_process, comm.size());
    row.device = gpu ? "cuda" : "cpu";
    row.gpus = gpu ? int(gpus_used.size()) : 0;
    // Against N one-process runs of the same resources: threads on the CPU, one GPU each.
    for (const CompareRow& r : report.rows) {
      const bool same = gpu ? (r.device == "cuda:0" && r.result.mode != "augment-only")
                            : (r.device == "cpu" && r.threads == per_process && r.processes == 1);
      if (same && r.images_per_s > 0 && row.efficiency == 0)
        row.efficiency = row.images_per_s / (comm.size() * r.images_per_s);
    }
    report.rows.push_back(row);
  };
  if (world.size > 1) {
    processes_row("cpu");
    // Whether rank 0 saw GPUs decides for everybody, so all ranks run the same rows.
    if (comm.broadcast(cuda_devices().empty() ? "0" : "1") == "1") processes_row("cuda");
  }
  if (comm.rank() != 0) return report;

  for (const CompareRow& r : report.rows)
    if (r.device == "cpu" && r.threads == 1 && r.processes == 1) one_thread = &r;
  // One GPU of the same mode, for the every-GPU rows' efficiency.
  auto one_gpu = [&](const CompareRow& row) -> const CompareRow* {
    for (const CompareRow& r : report.rows)
      if (r.device == "cuda:0" && r.processes == 1 && r.result.mode == row.result.mode) return &r;
    return nullptr;
  };
  for (CompareRow& r : report.rows) {
    if (one_thread && one_thread->images_per_s > 0) r.speedup = r.images_per_s / one_thread->images_per_s;
    if (r.device == "cpu" && r.processes == 1 && r.threads > 0) r.efficiency = r.speedup / r.threads;
    if (r.processes == 1 && r.gpus > 1)
      if (const CompareRow* one = one_gpu(r); one && one->images_per_s > 0)
        r.efficiency = r.images_per_s / (r.gpus * one->images_per_s);
  }
  // The goals, as ratios of this run's rows.
  const CompareRow* all_threads = nullptr;
  const CompareRow* gpu = nullptr;
  for (const CompareRow& r : report.rows) {
    if (r.device == "cpu" && r.processes == 1 && r.threads == hardware) all_threads = &r;
    if (r.device == "cuda:0" && !r.result.mode.empty() && r.result.mode != "augment-only" && !gpu) gpu = &r;
  }
  if (gpu && all_threads && all_threads->images_per_s > 0)
    report.notes.push_back(fmt::format("1 GPU end to end = {:.2f}x all {} CPU threads (goal: 30x)",
                                       gpu->images_per_s / all_threads->images_per_s, hardware));
  for (const CompareRow& r : report.rows)
    if (r.processes == 1 && r.gpus > 1 && r.efficiency > 0)
      report.notes.push_back(fmt::format("{} GPUs {} = {:.2f} x {} one-GPU runs (goal: 0.9)", r.gpus,
                                         r.result.mode == "augment-only" ? "augment only" : "end to end", r.efficiency,
                                         r.gpus));
  for (const CompareRow& r : report.rows) {
    if (r.processes < 2) continue;
    if (r.efficiency > 0 && r.device == "cuda")
      report.notes.push_back(fmt::format("{} processes, one GPU each = {:.2f} x {} one-GPU runs (goal: 0.9)",
                                         r.processes, r.efficiency, r.processes));
    if (r.device == "cuda") continue;
    if (r.efficiency > 0)
      report.notes.push_back(fmt::format("{} processes = {:.2f} x {} one-process runs of {} threads (goal: 0.9)",
                                         r.processes, r.efficiency, r.processes, r.threads));
    // The same cores in one process: what splitting into processes itself costs.
    for (const CompareRow& one : report.rows)
      if (one.device == "cpu" && one.processes == 1 && one.threads == r.processes * r.threads && one.images_per_s > 0)
        report.notes.push_back(fmt::format("{} processes x {} threads = {:.2f} x one process of {} threads",
                                           r.processes, r.threads, r.images_per_s / one.images_per_s, one.threads));
  }
  return report;
}

std::string compare_table(const CompareReport& report) {
  std::string t =
      "| run | images/s | speed-up vs 1 thread | efficiency | CPU time: decode | CPU time: augment | GPU kernels "
      "(of wall) |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const CompareRow& r : report.rows)
    t += fmt::format("| {} | {:.0f} | {:.2f}x | {} | {} | {} | {} |\n", r.run, r.images_per_s, r.speedup,
                     r.efficiency > 0 ? fmt::format("{:.0f}%", 100 * r.efficiency) : "—", percent(r.decode_share),
                     percent(r.augment_share), percent(r.kernel_share));
  if (!report.rows.empty())
    t += fmt::format("\nReading the inputs into memory before the timed passes: {:.2f} s (the 1-thread run's).\n",
                     report.rows.front().result.read_s);
  for (const std::string& note : report.notes) t += "- " + note + "\n";
  return t;
}

std::string compare_csv(const CompareReport& report) {
  std::string csv = "run,device,processes,threads,images_per_s,speedup,efficiency,decode_share,augment_share,"
                    "kernel_share,images,seconds\n";
  for (const CompareRow& r : report.rows)
    csv += fmt::format("\"{}\",{},{},{},{:.3f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{},{:.6f}\n", r.run, r.device,
                       r.processes, r.threads, r.images_per_s, r.speedup, r.efficiency, r.decode_share,
                       r.augment_share, r.kernel_share, r.result.images, r.result.seconds);
  return csv;
}

void write_compare(const CompareReport& report, const std::string& dir) {
  const std::string csv = compare_csv(report), table = compare_table(report);
  write_file_atomic(dir + "/compare.csv", {reinterpret_cast<const uint8_t*>(csv.data()), csv.size()});
  write_file_atomic(dir + "/compare.md", {reinterpret_cast<const uint8_t*>(table.data()), table.size()});
  run_plots({"--compare", dir + "/compare.csv", dir + "/compare.png"}, dir + "/compare.png");
}

}  // namespace gpuaug::jobs
