// bench: decode + augment to memory (nothing written), timed over iterations of the inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/gpu_workers.h"

namespace gpuaug::jobs {

struct BenchOptions {
  std::string spec_path;
  std::string input;
  int threads = 0;
  int batch = 256;
  int iters = 3;
  int warmup = 1;
  size_t limit = 0;  // use at most this many images (0: all)
  std::string device = "cpu";  // cpu, cuda, cuda:N, cuda:N,M,..., cuda:all (one worker per GPU)
  // GPU only: decode once, keep the images on the device, time planning + kernels alone.
  bool augment_only = false;
  // Only the inputs with index % shard_count == shard_rank (one process of several).
  int shard_rank = 0;
  int shard_count = 1;
};

struct BenchResult {
  size_t images = 0;       // images processed in the timed iterations
  size_t samples = 0;      // output samples produced
  double seconds = 0.0;
  double images_per_s = 0.0;
  int threads = 0;
  int batch = 0;
  std::string device = "cpu";      // "cuda:0,1" for several GPUs
  int gpus = 0;                     // distinct GPUs
  int workers = 0;                  // GPU workers (two per listed GPU)
  std::vector<pipeline::WorkerShare> shares;  // images each GPU worker took (on demand)
  std::string mode = "decode+augment";
  std::string decoder = "CPU";     // who decoded: CPU threads, or nvJPEG beside them
  double gpu_decode_share = 0.0;   // GPU: the share of the images nvJPEG decoded (decode.gpu_share)
  double exact_decode_share = 0.0; // GPU: the share left to GpuJpegDecoder (decode.exact_share)
  double kernel_ms = 0.0;          // GPU: device time of the kernels, summed over GPUs (CUDA events)
  double kernel_images_per_s = 0.0;  // samples per second of kernel time (one GPU's rate)
  double kernel_gb_per_s = 0.0;    // bytes the kernels read (source regions) + wrote, per second
  // Where the CPU threads' time went in the timed passes, summed over threads: reading the
  // header, planning and decoding (and, on the GPU path, packing), and executing on the CPU.
  double decode_thread_s = 0.0;
  double augment_thread_s = 0.0;
  double read_s = 0.0;             // reading the input files into memory, once, before timing
  // GPU end to end, wall time summed over batches (and workers): the pool preparing batches
  // (header, plan), decoding (nvJPEG its share while the pool decodes the rest), and the whole
  // launch (decoding, then kernels). Each worker overlaps its preparing with its launch.
  // decode_thread_s is then the header and plan time alone. Augment-only: planning on the
  // pool, and submit (packing and queueing a batch) on the worker's thread.
  double prepare_wall_s = 0.0, decode_wall_s = 0.0, launch_wall_s = 0.0;
  // After each timed pass: this process' resident host memory, the bytes malloc has handed out
  // and not got back (glibc), and GPU memory in use (cuda).
  std::vector<size_t> host_rss_bytes, host_heap_in_use_bytes, device_used_bytes;
};

BenchResult run_bench(const BenchOptions& options);
std::string bench_json(const BenchResult& result);

}  // namespace gpuaug::jobs
