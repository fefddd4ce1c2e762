// bench: files read once into memory, then batches over a thread pool; epochs differ per
// iteration so every pass draws new parameters, as training would.
#include "jobs/bench.h"

#include <atomic>
#include <chrono>

#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "pipeline/augmenter.h"

namespace gpuaug::jobs {

BenchResult run_bench(const BenchOptions& options) {
  if (options.batch < 1) throw Error("", "bench", "--batch must be at least 1");
  if (options.iters < 1) throw Error("", "bench", "--iters must be at least 1");
  const pipeline::Augmenter augmenter(pipeline::load_spec(options.spec_path));
  const data::Source source = data::open_source(options.input);
  const size_t count = options.limit > 0 ? std::min(options.limit, source.samples.size())
                                         : source.samples.size();
  std::vector<std::vector<uint8_t>> files(count);
  for (size_t i = 0; i < count; ++i) files[i] = codec::read_file(source.samples[i].path);

  ThreadPool pool(options.threads);
  std::atomic<size_t> produced{0};
  auto pass = [&](uint64_t epoch) {
    for (size_t begin = 0; begin < count; begin += size_t(options.batch)) {
      const size_t end = std::min(count, begin + size_t(options.batch));
      pool.parallel_for(end - begin, [&](size_t k) {
        const size_t i = begin + k;
        const auto samples = augmenter.run(files[i], source.samples[i].path, i, 0, epoch);
        produced += samples.size();
      });
    }
  };
  for (int w = 0; w < options.warmup; ++w) pass(1000000 + uint64_t(w));
  produced = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int it = 0; it < options.iters; ++it) pass(uint64_t(it));
  BenchResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.images = count * size_t(options.iters);
  result.samples = produced;
  result.images_per_s = result.seconds > 0 ? result.images / result.seconds : 0.0;
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
  return j.dump();
}

}  // namespace gpuaug::jobs
