// bench --compare: the same work on 1, 2, 4, ... CPU threads, one GPU, and (under mpirun or
// torchrun) every process at once, in one table with speed-ups, efficiency and where the time
// went; optionally written as CSV, markdown and a PNG plot.
#pragma once

#include <string>
#include <vector>

#include "jobs/bench.h"

namespace gpuaug::jobs {

struct CompareRow {
  std::string run;       // "cpu 4 threads", "cuda:0 end to end", "4 processes x 4 threads", ...
  std::string device;    // cpu, cuda:N, cuda:0,1 (GPUs of one process), cuda (one per process)
  int threads = 0;       // CPU threads per process
  int processes = 1;
  int gpus = 0;          // GPUs the row ran on (in one process, or one per process)
  double images_per_s = 0.0;
  double speedup = 0.0;     // images/s over the 1-thread CPU row's
  // CPU rows: speedup / threads; N GPUs: rate / (N x one GPU); processes: rate / (N x one process
  // of the same threads, or one GPU); 0: n/a.
  double efficiency = 0.0;
  // Shares of the summed CPU thread time (decode: header, plan and decode; augment: CPU
  // execution), and the GPU kernels' share of the wall time; 0 where not measured.
  double decode_share = 0.0, augment_share = 0.0, kernel_share = 0.0;
  BenchResult result;
};

struct CompareReport {
  std::vector<CompareRow> rows;
  std::vector<std::string> notes;  // what was not run and why; the goals' ratios
};

// Runs on every process of the world (rank 0 alone for the single-process rows, all of them
// for the processes row); only rank 0's report holds rows. `options` gives spec, input, iters,
// warmup, batch and limit; threads and device are the comparison's.
CompareReport run_bench_compare(const BenchOptions& options);

std::string compare_table(const CompareReport& report);  // markdown
std::string compare_csv(const CompareReport& report);
// Writes DIR/compare.csv, DIR/compare.md and DIR/compare.png (python3 -m gpuaug.plots).
void write_compare(const CompareReport& report, const std::string& dir);

}  // namespace gpuaug::jobs
