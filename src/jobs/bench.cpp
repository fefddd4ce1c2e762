// bench: files read once into memory, then batches; epochs differ per iteration so every pass
// draws new parameters, as training would. CPU: decode + augment on a thread pool. GPU: the
// pool decodes batch i+1 (region + DCT scale) while the GPU runs batch i; or, augment-only,
// decoded images stay on the device and only planning and kernels are timed.
#include "jobs/bench.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>

#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "codec/nvjpeg_decoder.h"
#include "core/device.h"
#include "core/cuda_runtime_info.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "pipeline/augmenter.h"
#include "plan/cuda_executor.h"

namespace gpuaug::jobs {

namespace {

// Memory after a timed pass (the soak benchmark reads these); device < 0: the CPU path. Free
// memory the allocator still holds is handed back first, so a rise means memory still in use
// (a leak), not an arena that happened to be grown at that moment.
void sample_memory(BenchResult& result, int device) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  result.host_rss_bytes.push_back(host_resident_bytes());
#ifdef __GLIBC__
  // Bytes malloc has handed out and not taken back (all arenas, and its own mmaps): what grows
  // under a leak, where RSS also moves with how the arenas are cut.
  const struct mallinfo2 info = mallinfo2();
  result.host_heap_in_use_bytes.push_back(info.uordblks + info.hblkhd);
#endif
  if (device >= 0) result.device_used_bytes.push_back(device_memory_used(device));
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Bytes a kernel must move for one sample: its output, and the source region its taps cover.
double sample_bytes(const ops::FoldResult& fold, const Image& source) {
  const ops::Geometry& g = fold.geometry;
  double region = double(source.width) * source.height;
  if (g.separable) {
    const double w = std::clamp(std::min(g.x.hi, double(source.width)) - std::max(g.x.lo, 0.0), 1.0, double(source.width));
    const double h = std::clamp(std::min(g.y.hi, double(source.height)) - std::max(g.y.lo, 0.0), 1.0, double(source.height));
    region = w * h;
  }
  return region * 3 + double(g.out_w) * g.out_h * fold.channels * dtype_size(fold.dtype);
}

// Nanoseconds of thread time, summed by many threads.
using ThreadNanos = std::atomic<int64_t>;

int64_t nanos_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
}

void bench_cpu(const pipeline::Augmenter& augmenter, const data::Source& source,
               const std::vector<std::vector<uint8_t>>& files, const BenchOptions& options,
               ThreadPool& pool, BenchResult& result) {
  std::atomic<size_t> produced{0};
  ThreadNanos decode_ns{0}, augment_ns{0};
  const pipeline::Spec& spec = augmenter.chain().spec();
  auto pass = [&](uint64_t epoch) {
    const RandomKey key = RandomKey::from(spec.seed, epoch);
    for (size_t begin = 0; begin < files.size(); begin += size_t(options.batch)) {
      const size_t end = std::min(files.size(), begin + size_t(options.batch));
      pool.parallel_for(end - begin, [&](size_t k) {
        const size_t i = begin + k;
        // Augmenter::run, timed in its two halves.
        const auto start = Clock::now();
        pipeline::PreparedImage prepared = augmenter.prepare(files[i], source.samples[i].path, i, 0, epoch);
        const auto decoded = Clock::now();
        for (const pipeline::SamplePlan& p : prepared.plans)
          plan::execute_cpu(p.fold, prepared.image, {key, p.id}, spec.output.layout);
        augment_ns += nanos_since(decoded);
        decode_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(decoded - start).count();
        produced += prepared.plans.size();
      });
    }
  };
  for (int w = 0; w < options.warmup; ++w) pass(1000000 + uint64_t(w));
  produced = 0;
  decode_ns = 0, augment_ns = 0;
  const auto start = Clock::now();
  for (int it = 0; it < options.iters; ++it) {
    pass(uint64_t(it));
    sample_memory(result, -1);
  }
  result.seconds = seconds_since(start);
  result.samples = produced;
  result.decode_thread_s = double(decode_ns.load()) * 1e-9;
  result.augment_thread_s = double(augment_ns.load()) * 1e-9;
}

void bench_gpu_end_to_end(const pipeline::Augmenter& augmenter, const data::Source& source,
                          const std::vector<std::vector<uint8_t>>& files, const BenchOptions& options,
                          ThreadPool& pool, plan::CudaExecutor& executor, BenchResult& result) {
  std::unique_ptr<codec::NvjpegDecoder> nvjpeg;
  if (codec::NvjpegDecoder::built() && augmenter.chain().spec().decode.gpu) {
    nvjpeg = std::make_unique<codec::NvjpegDecoder>(executor.device());
    result.decoder = nvjpeg->hardware() ? "nvJPEG hardware + CPU" : "nvJPEG CUDA + CPU";
  }
  // The share of each batch nvJPEG decodes, moved towards balancing the two decoders' rates.
  double share = nvjpeg ? 0.5 : 0.0;
  const size_t batches = (files.size() + options.batch - 1) / options.batch;
  std::vector<pipeline::PreparedImage> slots[2];
  double cpu_rate = 0.0, gpu_rate = 0.0;
  ThreadNanos decode_ns{0};
  auto prepare = [&](size_t b, uint64_t epoch, std::vector<pipeline::PreparedImage>& out) {
    const size_t begin = b * options.batch, end = std::min(files.size(), begin + options.batch);
    // In steps of 32 images: nvJPEG re-initializes its batched state whenever the batch
    // size changes, so the share settles on a few sizes instead of a new one every batch.
    const size_t to_gpu = std::min(end - begin, size_t(share * double(end - begin) / 32.0 + 0.5) * 32);
    out.assign(end - begin, {});
    const auto start = Clock::now();
    pool.parallel_for(end - begin, [&](size_t k) {
      const auto image_start = Clock::now();
      out[k] = augmenter.prepare(files[begin + k], source.samples[begin + k].path, begin + k, 0, epoch,
                                 nullptr, k < to_gpu);
      decode_ns += nanos_since(image_start);
    });
    size_t on_cpu = 0;
    for (const auto& p : out) on_cpu += !p.decode_on_gpu;
    if (on_cpu > 0) cpu_rate = on_cpu / std::max(seconds_since(start), 1e-6);
  };
  auto launch = [&](std::vector<pipeline::PreparedImage>& prepared, uint64_t epoch) {
    const auto start = Clock::now();
    size_t on_gpu = 0;
    for (const auto& p : prepared) on_gpu += p.decode_on_gpu;
    const std::vector<plan::SampleJob> jobs = augmenter.gpu_jobs(prepared, epoch, nvjpeg.get());
    if (on_gpu > 0) gpu_rate = on_gpu / std::max(seconds_since(start), 1e-6);
    executor.run(jobs, augmenter.chain().spec().output.layout);
    result.kernel_ms += executor.last_kernel_ms();
    return jobs.size();
  };
  auto pass = [&](uint64_t epoch) {
    size_t produced = 0;
    prepare(0, epoch, slots[0]);
    for (size_t b = 0; b < batches; ++b) {
      std::future<size_t> gpu = std::async(std::launch::async, launch, std::ref(slots[b % 2]), epoch);
      if (b + 1 < batches) prepare(b + 1, epoch, slots[(b + 1) % 2]);
      produced += gpu.get();
      if (nvjpeg && cpu_rate > 0 && gpu_rate > 0)
        share = std::clamp(0.5 * share + 0.5 * gpu_rate / (gpu_rate + cpu_rate), 0.05, 0.95);
    }
    return produced;
  };
  for (int w = 0; w < options.warmup; ++w) pass(1000000 + uint64_t(w));
  result.kernel_ms = 0;
  decode_ns = 0;
  const auto start = Clock::now();
  for (int it = 0; it < options.iters; ++it) {
    result.samples += pass(uint64_t(it));
    sample_memory(result, executor.device());
  }
  result.seconds = seconds_since(start);
  result.gpu_decode_share = share;
  result.decode_thread_s = double(decode_ns.load()) * 1e-9;
}

void bench_gpu_augment_only(const pipeline::Augmenter& augmenter, const data::Source& source,
                            const std::vector<std::vector<uint8_t>>& files, const BenchOptions& options,
                            ThreadPool& pool, plan::CudaExecutor& executor, BenchResult& result) {
  std::vector<Image> images(files.size());
  pool.parallel_for(files.size(), [&](size_t i) {
    try {
      images[i] = codec::decode_image(files[i], {}).image;
    } catch (const Error& e) {
      throw e.with_file(source.samples[i].path);
    }
  });
  std::vector<const Image*> pointers;
  for (const Image& image : images) pointers.push_back(&image);
  executor.upload_sources(pointers);
  const pipeline::Chain& chain = augmenter.chain();
  double bytes = 0.0;
  struct Slot {
    std::vector<std::vector<pipeline::SamplePlan>> plans;
    std::vector<plan::SampleJob> jobs;
  };
  Slot slots[2];
  const size_t batches = (files.size() + options.batch - 1) / options.batch;
  // Plans of batch b on the pool; the GPU meanwhile runs batch b - 1.
  auto plan_batch = [&](size_t b, uint64_t epoch, Slot& slot) {
    const RandomKey key = RandomKey::from(chain.spec().seed, epoch);
    const size_t begin = b * options.batch, end = std::min(files.size(), begin + options.batch);
    slot.plans.resize(end - begin);
    pool.parallel_for(end - begin, [&](size_t k) {
      const Image& image = images[begin + k];
      slot.plans[k] = chain.plan(key, begin + k, 0, image.width, image.height);
    });
    slot.jobs.clear();
    for (size_t k = 0; k < slot.plans.size(); ++k)
      for (const auto& p : slot.plans[k]) {
        slot.jobs.push_back({&p.fold, nullptr, int(begin + k), {key, p.id}});
        bytes += sample_bytes(p.fold, images[begin + k]);
      }
  };
  auto pass = [&](uint64_t epoch) {
    size_t produced = 0;
    plan_batch(0, epoch, slots[0]);
    for (size_t b = 0; b < batches; ++b) {
      // The GPU runs batch b while the pool plans batch b + 1.
      executor.submit(slots[b % 2].jobs, chain.spec().output.layout);
      if (b + 1 < batches) plan_batch(b + 1, epoch, slots[(b + 1) % 2]);
      executor.wait();
      result.kernel_ms += executor.last_kernel_ms();
      produced += slots[b % 2].jobs.size();
    }
    return produced;
  };
  for (int w = 0; w < options.warmup; ++w) pass(1000000 + uint64_t(w));
  result.kernel_ms = 0;
  bytes = 0;
  const auto start = Clock::now();
  for (int it = 0; it < options.iters; ++it) {
    result.samples += pass(uint64_t(it));
    sample_memory(result, executor.device());
  }
  result.seconds = seconds_since(start);
  if (result.kernel_ms > 0) result.kernel_gb_per_s = bytes / (result.kernel_ms * 1e-3) / 1e9;
}

}  // namespace

BenchResult run_bench(const BenchOptions& options) {
  if (options.batch < 1) throw Error("", "bench", "--batch must be at least 1");
  if (options.iters < 1) throw Error("", "bench", "--iters must be at least 1");
  const Device device = parse_device(options.device);
  if (options.augment_only && !device.cuda)
    throw Error("", "bench", "--augment-only measures the GPU kernels: add --device cuda");
  const pipeline::Augmenter augmenter(pipeline::load_spec(options.spec_path));
  if (options.shard_count < 1 || options.shard_rank < 0 || options.shard_rank >= options.shard_count)
    throw Error("", "bench", "shard rank must lie in [0, shard count)");
  data::Source source = data::open_source(options.input);
  if (options.limit > 0 && options.limit < source.samples.size()) source.samples.resize(options.limit);
  if (options.shard_count > 1) {
    std::vector<data::SampleRef> mine;
    for (size_t i = size_t(options.shard_rank); i < source.samples.size(); i += size_t(options.shard_count))
      mine.push_back(source.samples[i]);
    source.samples = std::move(mine);
  }
  const size_t count = source.samples.size();
  const auto read_start = Clock::now();
  std::vector<std::vector<uint8_t>> files(count);
  for (size_t i = 0; i < count; ++i) files[i] = data::read_sample(source, source.samples[i]);
  const double read_s = seconds_since(read_start);

  ThreadPool pool(options.threads);
  BenchResult result;
  result.device = device.name();
  result.read_s = read_s;
  if (!device.cuda) {
    bench_cpu(augmenter, source, files, options, pool, result);
  } else {
    plan::CudaExecutor executor(device.index);
    if (options.augment_only) {
      result.mode = "augment-only";
      bench_gpu_augment_only(augmenter, source, files, options, pool, executor, result);
    } else {
      bench_gpu_end_to_end(augmenter, source, files, options, pool, executor, result);
    }
  }
  result.images = count * size_t(options.iters);
  result.images_per_s = result.seconds > 0 ? result.images / result.seconds : 0.0;
  if (result.kernel_ms > 0) result.kernel_images_per_s = result.samples / (result.kernel_ms * 1e-3);
  result.threads = pool.size();
  result.batch = options.batch;
  return result;
}

std::string bench_json(const BenchResult& r) {
  nlohmann::json j;
  j["images_per_s"] = r.images_per_s;
  j["images"] = r.images;
  j["samples"] = r.samples;
  j["seconds"] = r.seconds;
  j["threads"] = r.threads;
  j["batch"] = r.batch;
  j["device"] = r.device;
  j["mode"] = r.mode;
  j["decoder"] = r.decoder;
  if (r.gpu_decode_share > 0) j["gpu_decode_share"] = r.gpu_decode_share;
  j["host_rss_bytes"] = r.host_rss_bytes;
  j["host_heap_in_use_bytes"] = r.host_heap_in_use_bytes;
  if (!r.device_used_bytes.empty()) j["device_used_bytes"] = r.device_used_bytes;
  j["read_s"] = r.read_s;
  j["decode_thread_s"] = r.decode_thread_s;
  j["augment_thread_s"] = r.augment_thread_s;
  if (r.kernel_ms > 0) {
    j["kernel_ms"] = r.kernel_ms;
    j["kernel_images_per_s"] = r.kernel_images_per_s;
    if (r.kernel_gb_per_s > 0) j["kernel_gb_per_s"] = r.kernel_gb_per_s;
  }
  return j.dump();
}

}  // namespace gpuaug::jobs
