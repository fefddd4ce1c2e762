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
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "codec/nvjpeg_decoder.h"
#include "core/cuda_runtime_info.h"
#include "core/device.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "pipeline/augmenter.h"
#include "pipeline/gpu_workers.h"
#include "plan/cuda_executor.h"

namespace gpuaug::jobs {

namespace {

// Memory after a timed pass (the soak benchmark reads these); no workers: the CPU path. Free
// memory the allocator still holds is handed back first, so a rise means memory still in use
// (a leak), not an arena that happened to be grown at that moment.
void sample_memory(BenchResult& result, pipeline::GpuWorkers* workers = nullptr) {
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
  if (workers) {
    // Summed over the GPUs in use (a GPU with two workers counted once).
    std::set<int> devices;
    for (size_t w = 0; w < workers->size(); ++w) devices.insert((*workers)[w].device.index);
    size_t used = 0;
    for (int d : devices) used += device_memory_used(d);
    result.device_used_bytes.push_back(used);
  }
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
    sample_memory(result);
  }
  result.seconds = seconds_since(start);
  result.samples = produced;
  result.decode_thread_s = double(decode_ns.load()) * 1e-9;
  result.augment_thread_s = double(augment_ns.load()) * 1e-9;
}

// One worker per GPU; each pass hands the batches out on demand, and each worker runs its own
// double buffer: the pool reads headers and plans its next batch while its current one decodes
// (nvJPEG its share, the pool the rest, at once, as augment and the Python loader do) and runs.
void bench_gpu_end_to_end(const pipeline::Augmenter& augmenter, const data::Source& source,
                          const std::vector<std::vector<uint8_t>>& files, const BenchOptions& options,
                          ThreadPool& pool, pipeline::GpuWorkers& workers, BenchResult& result) {
  if (workers[0].nvjpeg) result.decoder = workers[0].nvjpeg->hardware() ? "nvJPEG hardware + CPU" : "nvJPEG CUDA + CPU";
  if (workers[0].exact) result.decoder += result.decoder.empty() ? "exact GPU + CPU" : " + exact GPU";
  struct WorkerState {
    double kernel_ms = 0.0;
    // Wall time of the two sides, summed over batches: preparing on the pool (header, plan) and
    // launching (both decoders at once, then the kernels). The larger one bounds the rate.
    double prepare_s = 0.0, decode_s = 0.0, launch_s = 0.0;
    size_t on_nvjpeg = 0, on_exact = 0, images = 0;
    std::vector<pipeline::PreparedImage> slots[2];
  };
  std::vector<WorkerState> states(workers.size());
  const size_t batches = (files.size() + options.batch - 1) / options.batch;
  ThreadNanos decode_ns{0};
  auto prepare = [&](pipeline::GpuWorker& worker, WorkerState& st, size_t b, uint64_t epoch,
                     std::vector<pipeline::PreparedImage>& out) {
    const size_t begin = b * options.batch, end = std::min(files.size(), begin + options.batch);
    out.assign(end - begin, {});
    const auto start = Clock::now();
    pool.parallel_for(end - begin, [&](size_t k) {
      const auto image_start = Clock::now();
      out[k] = augmenter.prepare(files[begin + k], source.samples[begin + k].path, begin + k, 0, epoch, nullptr,
                                 worker.nvjpeg != nullptr, /*defer_cpu_decode=*/true, worker.exact != nullptr);
      decode_ns += nanos_since(image_start);
    });
    st.prepare_s += seconds_since(start);
  };
  auto launch = [&](pipeline::GpuWorker& worker, WorkerState& st, std::vector<pipeline::PreparedImage>& prepared,
                    uint64_t epoch) {
    const auto start = Clock::now();
    for (const auto& p : prepared) st.on_nvjpeg += p.decode_on_gpu, st.on_exact += p.decode_exact_on_gpu;
    st.images += prepared.size();
    const std::vector<plan::SampleJob> jobs =
        augmenter.gpu_jobs(prepared, epoch, worker.nvjpeg.get(), nullptr, &pool, worker.exact.get());
    st.decode_s += seconds_since(start);
    worker.executor->run(jobs, augmenter.chain().spec().output.layout, nullptr, &pool);
    st.kernel_ms += worker.executor->last_kernel_ms();
    st.launch_s += seconds_since(start);
    worker.items += prepared.size();
    return jobs.size();
  };
  std::atomic<size_t> produced{0};
  auto pass = [&](uint64_t epoch) {
    dist::ChunkQueue chunks(batches);
    workers.run([&](pipeline::GpuWorker& worker) {
      WorkerState& st = states[worker.index];
      std::optional<uint64_t> b = chunks.next();
      if (b) prepare(worker, st, *b, epoch, st.slots[0]);
      for (size_t k = 0; b; ++k) {
        std::future<size_t> gpu =
            std::async(std::launch::async, launch, std::ref(worker), std::ref(st), std::ref(st.slots[k % 2]), epoch);
        const std::optional<uint64_t> after = chunks.next();
        if (after) prepare(worker, st, *after, epoch, st.slots[(k + 1) % 2]);
        produced += gpu.get();
        b = after;
      }
    });
  };
  for (int w = 0; w < options.warmup; ++w) pass(1000000 + uint64_t(w));
  for (auto& st : states) st = WorkerState();
  for (size_t w = 0; w < workers.size(); ++w) workers[w].items = 0;
  decode_ns = 0;
  produced = 0;
  const auto start = Clock::now();
  for (int it = 0; it < options.iters; ++it) {
    pass(uint64_t(it));
    sample_memory(result, &workers);
  }
  result.seconds = seconds_since(start);
  result.samples = produced;
  size_t on_nvjpeg = 0, on_exact = 0, images = 0;
  for (const auto& st : states) {
    result.kernel_ms += st.kernel_ms;
    result.prepare_wall_s += st.prepare_s;
    result.decode_wall_s += st.decode_s;
    result.launch_wall_s += st.launch_s;
    on_nvjpeg += st.on_nvjpeg;
    on_exact += st.on_exact;
    images += st.images;
  }
  result.gpu_decode_share = images ? double(on_nvjpeg) / double(images) : 0.0;
  result.exact_decode_share = images ? double(on_exact) / double(images) : 0.0;
  result.decode_thread_s = double(decode_ns.load()) * 1e-9;
}

// Every GPU holds every decoded image (batches go to whichever GPU asks next); only planning and
// kernels are timed.
void bench_gpu_augment_only(const pipeline::Augmenter& augmenter, const data::Source& source,
                            const std::vector<std::vector<uint8_t>>& files, const BenchOptions& options,
                            ThreadPool& pool, pipeline::GpuWorkers& workers, BenchResult& result) {
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
  for (size_t w = 0; w < workers.size(); ++w) workers[w].executor->upload_sources(pointers);
  const pipeline::Chain& chain = augmenter.chain();
  struct Slot {
    std::vector<std::vector<pipeline::SamplePlan>> plans;
    std::vector<plan::SampleJob> jobs;
  };
  struct WorkerState {
    Slot slot;  // planned over once submitted (submit copies what it needs)
    double bytes = 0.0, kernel_ms = 0.0, plan_s = 0.0, submit_s = 0.0;
  };
  std::vector<WorkerState> states(workers.size());
  const size_t batches = (files.size() + options.batch - 1) / options.batch;
  // Plans of batch b on the pool into the worker's slot; its GPU meanwhile runs its previous batch.
  auto plan_batch = [&](WorkerState& st, size_t b, uint64_t epoch) {
    const auto start = Clock::now();
    Slot& slot = st.slot;
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
        st.bytes += sample_bytes(p.fold, images[begin + k]);
      }
    st.plan_s += seconds_since(start);
  };
  std::atomic<size_t> produced{0};
  auto pass = [&](uint64_t epoch) {
    dist::ChunkQueue chunks(batches);
    workers.run([&](pipeline::GpuWorker& worker) {
      WorkerState& st = states[worker.index];
      std::optional<uint64_t> b = chunks.next();
      if (b) plan_batch(st, *b, epoch);
      const double kernel_ms_before = worker.executor->total_kernel_ms();
      while (b) {
        // The GPU runs batch b while the pool plans the next one and this thread packs and
        // queues it behind b (submit waits only for the batch before b).
        const auto start = Clock::now();
        worker.executor->submit(st.slot.jobs, chain.spec().output.layout);
        st.submit_s += seconds_since(start);
        produced += st.slot.jobs.size();
        worker.items += st.slot.plans.size();
        b = chunks.next();
        if (b) plan_batch(st, *b, epoch);
      }
      worker.executor->wait();
      st.kernel_ms += worker.executor->total_kernel_ms() - kernel_ms_before;
    });
  };
  for (int w = 0; w < options.warmup; ++w) pass(1000000 + uint64_t(w));
  for (auto& st : states) st.kernel_ms = 0, st.bytes = 0, st.plan_s = 0, st.submit_s = 0;
  for (size_t w = 0; w < workers.size(); ++w) workers[w].items = 0;
  produced = 0;
  const auto start = Clock::now();
  for (int it = 0; it < options.iters; ++it) {
    pass(uint64_t(it));
    sample_memory(result, &workers);
  }
  result.seconds = seconds_since(start);
  result.samples = produced;
  double bytes = 0.0;
  for (const auto& st : states) {
    result.kernel_ms += st.kernel_ms, bytes += st.bytes;
    result.prepare_wall_s += st.plan_s;
    result.launch_wall_s += st.submit_s;
  }
  // Per GPU: the bytes each moved over its own kernel time, summed over GPUs.
  if (result.kernel_ms > 0) result.kernel_gb_per_s = bytes / (result.kernel_ms * 1e-3) / 1e9 * double(workers.size());
}

}  // namespace

BenchResult run_bench(const BenchOptions& options) {
  if (options.batch < 1) throw Error("", "bench", "--batch must be at least 1");
  if (options.iters < 1) throw Error("", "bench", "--iters must be at least 1");
  const std::vector<Device> devices = dist::process_devices(options.device, dist::detect_world());
  const bool on_gpu = devices.front().cuda;
  if (options.augment_only && !on_gpu)
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
  result.device = device_list_name(devices);
  result.read_s = read_s;
  if (!on_gpu) {
    bench_cpu(augmenter, source, files, options, pool, result);
  } else {
    // Two workers per listed GPU, as augment and reduce run: one's host work (planning, packing,
    // staging) overlaps the other's decoding and kernels (1.4x end to end on the H200, run 10).
    const pipeline::DecodeOptions& decode = augmenter.chain().spec().decode;
    pipeline::GpuWorkers workers(devices, !options.augment_only && decode.gpu && decode.gpu_eighths() > 0, 2,
                                 !options.augment_only && decode.gpu && decode.exact_eighths() > 0);
    std::set<int> distinct;
    for (const Device& d : devices) distinct.insert(d.index);
    result.gpus = int(distinct.size());
    result.workers = int(workers.size());
    if (options.augment_only) {
      result.mode = "augment-only";
      bench_gpu_augment_only(augmenter, source, files, options, pool, workers, result);
    } else {
      bench_gpu_end_to_end(augmenter, source, files, options, pool, workers, result);
    }
    result.shares = workers.shares();
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
  if (r.gpus > 0) j["gpus"] = r.gpus, j["workers"] = r.workers;
  if (r.shares.size() > 1)
    for (const auto& share : r.shares) j["shares"][share.worker] = share.items;
  j["mode"] = r.mode;
  j["decoder"] = r.decoder;
  if (r.gpu_decode_share > 0) j["gpu_decode_share"] = r.gpu_decode_share;
  if (r.exact_decode_share > 0) j["exact_decode_share"] = r.exact_decode_share;
  if (r.launch_wall_s > 0) {
    j["prepare_wall_s"] = r.prepare_wall_s;
    j["decode_wall_s"] = r.decode_wall_s;
    j["launch_wall_s"] = r.launch_wall_s;
  }
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
  return json_text(j);
}

}  // namespace gpuaug::jobs
