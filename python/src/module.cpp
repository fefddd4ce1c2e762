// gpuaug._gpuaug: the nanobind module under the gpuaug package — operator descriptors, a batch
// loader over pipeline::Augmenter and data sources, and gpuaug::Error as gpuaug.Error.
#include <fmt/format.h>
#include <sys/mman.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <new>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "codec/nvjpeg_decoder.h"
#include "core/block_pool.h"
#include "core/device.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "data/sampler.h"
#include "data/source.h"
#include "dist/world.h"
#include "ops/registry.h"
#include "pipeline/augmenter.h"
#include "pipeline/image_batch.h"
#include "pipeline/on_error.h"
#include "pipeline/record.h"
#include "pipeline/spec.h"
#include "plan/cuda_executor.h"
#include "plan/gpu_jpeg_decoder.h"
#include "plan/image_source.h"

namespace nb = nanobind;

namespace gpuaug::python {
namespace {

// The Python class gpuaug.Error(Exception), with .file, .stage and .cause; created at import.
PyObject* g_error_type = nullptr;

// A parameter value as Python sees it: integers stay int where the descriptor's type is int.
nb::object to_python(const ops::ParamValue& value, const std::string& type) {
  const bool is_int = type.rfind("int", 0) == 0 || type.rfind("[int", 0) == 0;
  auto number = [&](double x) -> nb::object {
    if (is_int && x == static_cast<double>(static_cast<int64_t>(x)))
      return nb::int_(static_cast<int64_t>(x));
    return nb::float_(x);
  };
  switch (value.kind) {
    case ops::ParamValue::Kind::kNull:
      return nb::none();
    case ops::ParamValue::Kind::kBool:
      return nb::bool_(value.boolean);
    case ops::ParamValue::Kind::kNumber:
      return number(value.number);
    case ops::ParamValue::Kind::kString:
      return nb::str(value.text.c_str());
    case ops::ParamValue::Kind::kList: {
      nb::list items;
      for (double x : value.list) items.append(number(x));
      return items;
    }
  }
  return nb::none();
}

// Every operator's descriptor as plain data, for gpuaug.ops to build its classes from.
nb::list op_descriptors() {
  nb::list out;
  for (const ops::OpDescriptor* op : ops::all_ops()) {
    nb::list params;
    for (const ops::ParamSpec& p : op->params) {
      nb::dict param;
      param["name"] = p.name;
      param["type"] = p.type;
      param["default"] = to_python(p.default_value, p.type);
      param["doc"] = p.doc;
      params.append(param);
    }
    nb::dict d;
    d["name"] = op->name;
    d["summary"] = op->summary;
    d["reference"] = op->reference;
    d["geometric"] = op->geometric;
    d["drawn"] = op->drawn;
    d["params"] = params;
    out.append(d);
  }
  return out;
}

nb::dlpack::dtype dlpack_dtype(DType dtype) {
  switch (dtype) {
    case DType::kUInt8:
      return nb::dtype<uint8_t>();
    case DType::kFloat32:
      return nb::dtype<float>();
    case DType::kFloat16:
      return {static_cast<uint8_t>(nb::dlpack::dtype_code::Float), 16, 1};
    case DType::kBFloat16:
      return {static_cast<uint8_t>(nb::dlpack::dtype_code::Bfloat), 16, 1};
  }
  return nb::dtype<uint8_t>();
}

std::string describe(const Tensor& t) {
  return t.layout == Layout::kHWC
             ? fmt::format("{}x{}x{} (HWC) {}", t.height, t.width, t.channels, dtype_name(t.dtype))
             : fmt::format("{}x{}x{} (CHW) {}", t.channels, t.height, t.width, dtype_name(t.dtype));
}

// A 1-D int64 numpy array that owns a copy of `values`.
// A batch's memory: mapped pages of its own when large, so that a freed batch goes back to the
// system at once instead of leaving the heap grown and fragmented (the soak benchmark's RSS
// stays flat whatever the batch size); the heap for small ones.
struct BatchMemory {
  static constexpr size_t kMapAbove = size_t(1) << 20;
  explicit BatchMemory(size_t bytes) : size(std::max<size_t>(bytes, 1)) {
    if (size >= kMapAbove) {
      void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      data = static_cast<std::byte*>(p);
    } else {
      data = new std::byte[size];
    }
  }
  ~BatchMemory() {
    if (size >= kMapAbove)
      munmap(data, size);
    else
      delete[] data;
  }
  BatchMemory(const BatchMemory&) = delete;
  BatchMemory& operator=(const BatchMemory&) = delete;
  size_t size;
  std::byte* data = nullptr;
};

nb::ndarray<nb::numpy, int64_t, nb::ndim<1>> int64_array(const std::vector<int64_t>& values) {
  auto owned = std::make_unique<std::vector<int64_t>>(values);
  int64_t* data = owned->data();
  const size_t n = owned->size();
  nb::capsule owner(owned.get(),
                    [](void* p) noexcept { delete static_cast<std::vector<int64_t>*>(p); });
  owned.release();
  return nb::ndarray<nb::numpy, int64_t, nb::ndim<1>>(data, {n}, owner);
}

// The GPU side of a loader: the executor, its GPU decoders, and the blocks batches are written
// into and handed to Python in (one block a batch, back to the list when the consumer drops the
// tensor).
// An epoch's order of dataset indices, from numpy, read in place.
using OrderArray = nb::ndarray<const uint64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

struct GpuSide {
  explicit GpuSide(const Device& d) : device(d), executor(d.index), slots(d.index) {}
  // Each decoder is started by the first batch whose spec gives it a share: an nvJPEG handle
  // takes 0.6-0.8 s to make, and the default gives nvJPEG none.
  void start_decoders(const pipeline::DecodeOptions& decode) {
    if (decode.gpu && decode.gpu_eighths() > 0 && !nvjpeg && codec::NvjpegDecoder::built())
      nvjpeg = std::make_unique<codec::NvjpegDecoder>(device.index);
    if (decode.gpu && decode.exact_eighths() > 0 && !exact)
      exact = std::make_unique<plan::GpuJpegDecoder>(device.index);
  }
  Device device;
  plan::CudaExecutor executor;
  std::unique_ptr<codec::NvjpegDecoder> nvjpeg;
  std::unique_ptr<plan::GpuJpegDecoder> exact;
  plan::DeviceSlots slots;
};

// The spec a loader had at one moment (BatchLoader::snapshot), for a batch started later on
// another thread to use: a batch made ahead uses the spec of when it was asked for, whatever
// set() does meanwhile.
struct SpecSnapshot {
  std::shared_ptr<const pipeline::Augmenter> augmenter;
};

// Reads and augments dataset samples by index on a thread pool and returns one contiguous
// batch: on the CPU, or (device cuda) decoded by the pool and nvJPEG and augmented by the GPU
// into device memory handed over without a copy. The Python gpuaug.Pipeline owns the epoch
// order, shards, resumption and the failure counts. On a GPU the loader has `lanes` (each its
// executor, nvJPEG decoder and device blocks, sharing the pool), and one batch may be made on
// each lane at once from its own thread: one lane's decoding overlaps another's kernels, as
// gpuaug bench's two workers a GPU.
class BatchLoader {
 public:
  // `spec_text` None: `spec_name` is a YAML/JSON file to load.
  BatchLoader(const std::optional<std::string>& spec_text, const std::string& spec_name,
              std::optional<uint64_t> seed, data::Source source, int threads,
              const std::string& on_error, const std::string& device, int lanes)
      : augmenter_(std::make_shared<const pipeline::Augmenter>(with_seed(
            spec_text ? pipeline::parse_spec(*spec_text, spec_name) : pipeline::load_spec(spec_name), seed))),
        source_(std::move(source)),
        pool_(threads),
        on_error_(pipeline::parse_on_error(on_error, "pipeline")),
        replacement_(on_error_ == pipeline::OnError::kReplace ? pipeline::load_replacement(augmenter_->chain().spec())
                                                              : std::vector<uint8_t>()) {
    const Device d = parse_device(device);
    if (lanes < 1) throw Error("", "pipeline", fmt::format("lanes={}: a loader needs at least one", lanes));
    for (int k = 0; k < lanes; ++k) {
      lanes_.push_back(std::make_unique<Lane>());
      if (d.cuda) lanes_.back()->gpu = std::make_unique<GpuSide>(d);
    }
  }

  std::string device() const { return lanes_[0]->gpu ? lanes_[0]->gpu->device.name() : "cpu"; }
  int lanes() const { return int(lanes_.size()); }
  SpecSnapshot snapshot() const { return {current()}; }

  // Parameter `param` of op `op` (the first op of that name, or its position as digits) set
  // to `value` (JSON), checked as the spec's parser and the op check it (gpuaug.Error naming
  // the op and key otherwise); batches started from then on use it (a batch in the making keeps
  // the spec it started with).
  void set(const std::string& op, const std::string& param, const std::string& value) {
    const std::lock_guard lock(spec_mutex_);
    pipeline::Spec spec = augmenter_->chain().spec();
    const size_t k = op_position(spec, op);
    const pipeline::Spec one = pipeline::parse_spec(
        fmt::format("ops:\n  - {}: {{{}: {}}}\n", spec.ops[k].name, param, value), "set(" + op + "." + param + ")");
    const auto& [key, parsed] = one.ops.at(0).params.at(0);
    auto& params = spec.ops[k].params;
    const auto it = std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == key; });
    if (it != params.end()) it->second = parsed;
    else params.emplace_back(key, parsed);
    augmenter_ = std::make_shared<const pipeline::Augmenter>(spec);  // checks the op's parameters
  }

  // The value a parameter has in the spec (None: not given, the op's default applies).
  nb::object get(const std::string& op, const std::string& param) const {
    const std::shared_ptr<const pipeline::Augmenter> augmenter = current();
    const pipeline::Spec& spec = augmenter->chain().spec();
    const size_t k = op_position(spec, op);
    for (const auto& [key, value] : spec.ops[k].params)
      if (key == param) return to_python(value, "int");  // int where the value is whole
    return nb::none();
  }
  size_t device_blocks() const {
    size_t blocks = 0;
    for (const auto& lane : lanes_) blocks += lane->gpu ? lane->gpu->slots.blocks() : 0;
    return blocks;
  }

  size_t size() const { return source_.samples.size(); }
  uint64_t seed() const { return current()->chain().spec().seed; }
  std::vector<std::string> classes() const { return source_.classes; }
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const data::SampleRef& s : source_.samples) out.push_back(s.path);
    return out;
  }

  // This rank's dataset indices for one epoch: data::shard of data::epoch_order.
  std::vector<uint64_t> indices(uint64_t epoch, bool shuffle, int rank, int world_size,
                                bool drop_last) const {
    return data::shard(data::epoch_order(size(), seed(), epoch, shuffle), rank, world_size,
                       drop_last);
  }

  // (images, labels, indices) for the given dataset indices; one row per output sample
  // (local_crops gives several rows per index). Images: (N, C, H, W) or (N, H, W, C).
  // Up to `count` samples taken in order from order[start:]: a sample that fails is raised,
  // replaced, or (skip) left out and the next one in the order taken instead, so that batches
  // stay full. Returns (images, labels, indices, consumed, records, failures): consumed is how
  // far along the order the batch reached; with `record`, records holds each row's drawn
  // parameters as a --record line (JSON text): the values this batch used (a schedule's
  // included), empty without; failures holds (file, replaced, message) for each sample that
  // failed and was skipped or replaced, for the caller to count once it keeps the batch (a
  // batch made ahead may be thrown away). Made on lane `lane`, with the spec of `spec` (default:
  // the current one); calls for different lanes may run at once, on different threads.
  // `order` is the epoch's order as a numpy uint64 array, read in place: a list was converted
  // whole for every batch (O(dataset) a batch with the GIL held: ~3 ms at a million samples).
  nb::tuple load_from(const OrderArray& order_array, size_t start, size_t count, uint64_t epoch,
                      bool record = false, int lane = 0, const SpecSnapshot* spec = nullptr) {
    // The calling thread may end after this batch (Python's prefetch thread, one an epoch): its
    // cached image and tensor blocks go back once the batch's buffers are freed, so the next
    // epoch's thread does not map new ones while they wait for this thread's exit.
    const ReleaseThreadBlocks release;
    if (lane < 0 || size_t(lane) >= lanes_.size())
      throw Error("", "pipeline", fmt::format("lane {}: the loader has {}", lane, lanes_.size()));
    Lane& l = *lanes_[size_t(lane)];
    const auto lock = lock_lane(l);
    Batch b{spec != nullptr ? spec->augmenter : current(), {}};
    const std::span<const uint64_t> order(order_array.data(), order_array.shape(0));
    if (l.gpu) return load_from_gpu(*l.gpu, b, order, start, count, epoch, record);
    std::vector<Row> rows;
    size_t consumed = 0, have = 0;
    while (have < count && start + consumed < order.size()) {
      const size_t take = std::min(count - have, order.size() - start - consumed);
      const std::vector<uint64_t> next(order.begin() + ptrdiff_t(start + consumed),
                                       order.begin() + ptrdiff_t(start + consumed + take));
      have += run(b, next, epoch, rows);
      consumed += take;
    }
    nb::tuple out = batch(rows);
    std::vector<std::string> records;
    if (record)
      for (const Row& row : rows)
        for (const pipeline::AugmentedSample& s : row.samples) records.push_back(record_text(b, row.index, s.plan, epoch));
    return nb::make_tuple(out[0], out[1], out[2], consumed, records, b.failures);
  }

 private:
  struct Row {
    uint64_t index;
    std::vector<pipeline::AugmentedSample> samples;
  };

  // Where one batch is made: its GPU side (none on the CPU), held by one batch at a time.
  struct Lane {
    std::mutex mutex;
    std::unique_ptr<GpuSide> gpu;
  };

  // One batch in the making: the spec it started with, and its failures so far (file,
  // replaced, message).
  struct Batch {
    std::shared_ptr<const pipeline::Augmenter> augmenter;
    std::vector<std::tuple<std::string, bool, std::string>> failures;
  };

  std::shared_ptr<const pipeline::Augmenter> current() const {
    const std::lock_guard lock(spec_mutex_);
    return augmenter_;
  }

  // Held while a batch is made on the lane; taken with the GIL released, since the thread that
  // holds it may need the GIL to finish.
  static std::unique_lock<std::mutex> lock_lane(Lane& lane) {
    std::unique_lock<std::mutex> lock(lane.mutex, std::defer_lock);
    nb::gil_scoped_release released;
    lock.lock();
    return lock;
  }

  std::string record_text(const Batch& b, uint64_t index, const pipeline::SamplePlan& plan, uint64_t epoch) const {
    return json_text(pipeline::record_line(source_.samples[index].relative, plan.id,
                                           b.augmenter->chain().spec().seed, epoch,
                                           b.augmenter->chain().has_local_crops(), plan.drawn));
  }

  static size_t op_position(const pipeline::Spec& spec, const std::string& op) {
    if (!op.empty() && std::all_of(op.begin(), op.end(), [](unsigned char c) { return std::isdigit(c); })) {
      const size_t k = std::stoul(op);
      if (k < spec.ops.size()) return k;
    }
    for (size_t k = 0; k < spec.ops.size(); ++k)
      if (spec.ops[k].name == op) return k;
    std::string names;
    for (const auto& o : spec.ops) names += (names.empty() ? "" : ", ") + o.name;
    throw Error(spec.name, "spec", fmt::format("no op '{}' in the spec (its ops: {})", op, names));
  }

  void check_indices(const std::vector<uint64_t>& indices) const {
    for (uint64_t i : indices)
      if (i >= size())
        throw Error("", "batch",
                    fmt::format("index {} out of range: the source has {} samples", i, size()));
  }

  // Notes a sample that failed in the batch's failures; false when it is to be left out, true
  // when replaced; throws under on_error raise.
  bool failed(Batch& b, const Error& error, uint64_t index) const {
    if (on_error_ == pipeline::OnError::kRaise) throw error;
    const bool replaced = on_error_ == pipeline::OnError::kReplace;
    b.failures.emplace_back(source_.samples[index].path, replaced,
                            fmt::format("{} {}", replaced ? "replaced" : "skipped", error.what()));
    return replaced;
  }

  // The CUDA path of load_from: rounds of read + header + plan (+ CPU decode of what nvJPEG does
  // not take) on the pool, then nvJPEG and the kernels, each round's samples written after the
  // previous round's in one device block; failures raise, skip (the next round takes more of
  // the order) or are replaced by the spec's replacement image.
  nb::tuple load_from_gpu(GpuSide& gpu, Batch& b, std::span<const uint64_t> order, size_t start, size_t count,
                          uint64_t epoch, bool record) {
    const pipeline::Augmenter& augmenter = *b.augmenter;
    const pipeline::Spec& spec = augmenter.chain().spec();
    gpu.start_decoders(spec.decode);
    std::shared_ptr<void> block;
    size_t capacity = 0, written = 0, sample_bytes = 0;
    std::array<int, 3> shape{0, 0, 0};
    DType dtype = DType::kUInt8;
    std::vector<int64_t> labels, sample_indices;
    std::vector<std::string> records;
    size_t consumed = 0, have = 0;
    while (have < count && start + consumed < order.size()) {
      const size_t take = std::min(count - have, order.size() - start - consumed);
      const std::vector<uint64_t> next(order.begin() + ptrdiff_t(start + consumed),
                                       order.begin() + ptrdiff_t(start + consumed + take));
      consumed += take;
      check_indices(next);
      std::vector<std::vector<uint8_t>> blobs(take);
      std::vector<pipeline::PreparedImage> prepared(take);
      std::vector<std::optional<Error>> errors(take);
      {
        nb::gil_scoped_release released;
        pool_.parallel_for(take, [&](size_t k) {
          const data::SampleRef& ref = source_.samples[next[k]];
          try {
            blobs[k] = data::read_sample(source_, ref);
            prepared[k] = augmenter.prepare(blobs[k], ref.path, next[k], 0, epoch, nullptr, gpu.nvjpeg != nullptr,
                                            /*defer_cpu_decode=*/true, gpu.exact != nullptr);
          } catch (const Error& e) {
            errors[k] = e.file().empty() ? e.with_file(ref.path) : e;
            if (on_error_ == pipeline::OnError::kReplace)
              prepared[k] = augmenter.prepare(replacement_, spec.replacement, next[k], 0, epoch);
          }
        });
      }
      std::vector<pipeline::PreparedImage> images;
      std::vector<uint64_t> image_index;
      for (size_t k = 0; k < take; ++k) {
        if (errors[k] && !failed(b, *errors[k], next[k])) continue;
        images.push_back(std::move(prepared[k]));
        image_index.push_back(next[k]);
      }
      std::vector<std::optional<Error>> decode_errors;
      std::vector<plan::SampleJob> jobs;
      std::vector<pipeline::PreparedImage> replacements;
      std::vector<uint64_t> sample_index;  // each job's dataset index
      {
        nb::gil_scoped_release released;
        // nvJPEG and GpuJpegDecoder decode their shares while the pool decodes the rest.
        jobs = augmenter.gpu_jobs(images, epoch, gpu.nvjpeg.get(), &decode_errors, &pool_, gpu.exact.get());
      }
      for (size_t k = 0; k < images.size(); ++k)
        for (size_t p = 0; p < images[k].plans.size(); ++p) sample_index.push_back(image_index[k]);
      for (size_t k = 0; k < images.size(); ++k) {
        if (!decode_errors[k] || !failed(b, *decode_errors[k], image_index[k])) continue;
        replacements.push_back(augmenter.prepare(replacement_, spec.replacement, image_index[k], 0, epoch));
        for (size_t p = 0; p < replacements.back().plans.size(); ++p) sample_index.push_back(image_index[k]);
      }
      if (!replacements.empty()) {
        const std::vector<plan::SampleJob> more = augmenter.gpu_jobs(replacements, epoch, nullptr);
        jobs.insert(jobs.end(), more.begin(), more.end());
      }
      have += size_t(std::count_if(decode_errors.begin(), decode_errors.end(), [](const auto& e) { return !e; })) +
              replacements.size();
      if (jobs.empty()) continue;
      // Every sample of the batch has the first one's shape and dtype (else Error, "batch").
      const ops::FoldResult& first = *jobs.front().fold;
      if (!block) {
        shape = {first.channels, first.geometry.out_h, first.geometry.out_w};
        dtype = first.dtype;
        sample_bytes = size_t(shape[0]) * shape[1] * shape[2] * dtype_size(dtype);
        capacity = std::max<size_t>(count * size_t(augmenter.chain().samples_per_image()), jobs.size()) *
                   sample_bytes;
        block = gpu.slots.take(capacity);
      }
      for (const plan::SampleJob& job : jobs) {
        const ops::FoldResult& f = *job.fold;
        if (f.dtype != dtype || f.channels != shape[0] || f.geometry.out_h != shape[1] || f.geometry.out_w != shape[2])
          throw Error(source_.samples[sample_index.front()].path, "batch",
                      "samples of one batch differ in shape or dtype; end the spec with a fixed-size resize or crop");
      }
      if ((written + jobs.size()) * sample_bytes > capacity)
        throw Error("", "batch", "internal: a batch outgrew its device block");
      plan::OutputTarget target{static_cast<std::byte*>(block.get()) + written * sample_bytes,
                                jobs.size() * sample_bytes};
      {
        nb::gil_scoped_release released;
        gpu.executor.run(jobs, spec.output.layout, &target, &pool_);
      }
      written += jobs.size();
      for (const uint64_t index : sample_index) {
        labels.push_back(source_.samples[index].label);
        sample_indices.push_back(int64_t(index));
      }
      if (record) {  // in job order: each image's plans, then the replacements'
        for (size_t k = 0; k < images.size(); ++k)
          for (const pipeline::SamplePlan& p : images[k].plans) records.push_back(record_text(b, image_index[k], p, epoch));
        for (const pipeline::PreparedImage& r : replacements)
          for (const pipeline::SamplePlan& p : r.plans) records.push_back(record_text(b, p.id.index, p, epoch));
      }
    }
    std::vector<size_t> dims{written};
    if (spec.output.layout == Layout::kHWC) dims.insert(dims.end(), {size_t(shape[1]), size_t(shape[2]), size_t(shape[0])});
    else dims.insert(dims.end(), {size_t(shape[0]), size_t(shape[1]), size_t(shape[2])});
    if (!block) block = gpu.slots.take(1);
    void* data = block.get();
    auto held = std::make_unique<std::shared_ptr<void>>(std::move(block));
    nb::capsule owner(held.get(), [](void* p) noexcept { delete static_cast<std::shared_ptr<void>*>(p); });
    held.release();
    nb::ndarray<nb::array_api> images(data, dims.size(), dims.data(), owner, nullptr, dlpack_dtype(dtype),
                                      nb::device::cuda::value, gpu.device.index);
    return nb::make_tuple(images, int64_array(labels), int64_array(sample_indices), consumed, records, b.failures);
  }

  // Appends the samples of `indices` that load (or are replaced); returns how many.
  size_t run(Batch& b, const std::vector<uint64_t>& indices, uint64_t epoch, std::vector<Row>& rows) {
    const pipeline::Augmenter& augmenter = *b.augmenter;
    check_indices(indices);
    std::vector<std::vector<pipeline::AugmentedSample>> results(indices.size());
    std::vector<std::optional<Error>> errors(indices.size());
    {
      nb::gil_scoped_release released;
      pool_.parallel_for(indices.size(), [&](size_t k) {
        const data::SampleRef& ref = source_.samples[indices[k]];
        try {
          results[k] = augmenter.run(data::read_sample(source_, ref), ref.path, indices[k], 0, epoch);
        } catch (const Error& e) {
          errors[k] = e.file().empty() ? e.with_file(ref.path) : e;
          if (on_error_ == pipeline::OnError::kReplace)
            results[k] = augmenter.run(replacement_, augmenter.chain().spec().replacement, indices[k], 0, epoch);
        }
      });
    }
    size_t added = 0;
    // The lowest index's error, whichever thread met it first.
    for (size_t k = 0; k < indices.size(); ++k) {
      if (errors[k] && !failed(b, *errors[k], indices[k])) continue;
      rows.push_back({indices[k], std::move(results[k])});
      ++added;
    }
    return added;
  }

  nb::tuple batch(const std::vector<Row>& rows) {
    const Tensor* first = nullptr;
    std::string first_file;
    std::vector<int64_t> labels, sample_indices;
    for (const Row& row : rows)
      for (const pipeline::AugmentedSample& s : row.samples) {
        const Tensor& t = s.tensor;
        const std::string& file = source_.samples[row.index].path;
        if (first == nullptr) {
          first = &t;
          first_file = file;
        } else if (t.dtype != first->dtype || t.layout != first->layout ||
                   t.height != first->height || t.width != first->width ||
                   t.channels != first->channels) {
          throw Error(file, "batch",
                      fmt::format("samples of one batch differ: {} gives {}, {} gives {}; end the "
                                  "spec with a fixed-size resize or crop",
                                  first_file, describe(*first), file, describe(t)));
        }
        labels.push_back(source_.samples[row.index].label);
        sample_indices.push_back(static_cast<int64_t>(row.index));
      }

    const size_t n = labels.size();
    const DType dtype = first ? first->dtype : DType::kUInt8;
    const size_t sample_bytes = first ? first->data.size() : 0;
    auto bytes = std::make_unique<BatchMemory>(n * sample_bytes);
    // The rows are copied (and the batch's fresh pages first touched) on the pool: a batch of
    // 256 rows of 224x224x3 float16 is 77 MB, a copy that one thread would do while the other
    // threads wait, and with 16 threads the pool makes such a batch in about 25 ms.
    std::vector<const std::byte*> from;
    from.reserve(n);
    for (const Row& r : rows)
      for (const pipeline::AugmentedSample& s : r.samples) from.push_back(s.tensor.data.data());
    {
      nb::gil_scoped_release released;
      pool_.parallel_for(n, [&](size_t i) { std::memcpy(bytes->data + i * sample_bytes, from[i], sample_bytes); });
    }

    std::vector<size_t> shape{n};
    if (first == nullptr) {
      shape.insert(shape.end(), {0, 0, 0});
    } else if (first->layout == Layout::kHWC) {
      shape.insert(shape.end(),
                   {size_t(first->height), size_t(first->width), size_t(first->channels)});
    } else {
      shape.insert(shape.end(),
                   {size_t(first->channels), size_t(first->height), size_t(first->width)});
    }
    std::byte* data = bytes->data;
    nb::capsule owner(bytes.get(), [](void* p) noexcept { delete static_cast<BatchMemory*>(p); });
    bytes.release();
    // array_api: nanobind's own object with __dlpack__ and the buffer protocol, any framework reads
    // it.
    nb::ndarray<nb::array_api> images(data, shape.size(), shape.data(), owner, nullptr,
                                      dlpack_dtype(dtype), nb::device::cpu::value);
    return nb::make_tuple(images, int64_array(labels), int64_array(sample_indices));
  }

  static pipeline::Spec with_seed(pipeline::Spec spec, std::optional<uint64_t> seed) {
    if (seed) spec.seed = *seed;
    return spec;
  }

  std::shared_ptr<const pipeline::Augmenter> augmenter_;  // swapped by set() under spec_mutex_
  mutable std::mutex spec_mutex_;
  data::Source source_;
  ThreadPool pool_;  // shared by the lanes (parallel_for takes several callers at once)
  pipeline::OnError on_error_;
  std::vector<uint8_t> replacement_;
  std::vector<std::unique_ptr<Lane>> lanes_;
};

// A source from a Python list of paths (labels -1) or of (path, label).
data::Source list_source(const std::vector<std::string>& paths,
                         const std::vector<int64_t>& labels) {
  if (paths.empty()) throw Error("<list>", "source", "no samples listed");
  if (!labels.empty() && labels.size() != paths.size())
    throw Error("<list>", "source",
                fmt::format("{} paths but {} labels", paths.size(), labels.size()));
  data::Source source;
  for (size_t i = 0; i < paths.size(); ++i)
    source.samples.push_back({paths[i], paths[i], labels.empty() ? -1 : labels[i]});
  return source;
}

// The name of a DLPack dtype for errors ("float32", "int64", "bool").
std::string dlpack_dtype_name(const nb::dlpack::dtype& t) {
  using Code = nb::dlpack::dtype_code;
  std::string kind;
  switch (static_cast<Code>(t.code)) {
    case Code::Int:
      kind = "int";
      break;
    case Code::UInt:
      kind = "uint";
      break;
    case Code::Float:
      kind = "float";
      break;
    case Code::Bfloat:
      kind = "bfloat";
      break;
    case Code::Complex:
      kind = "complex";
      break;
    case Code::Bool:
      return "bool";
    default:
      return fmt::format("DLPack type code {} of {} bits", t.code, t.bits);
  }
  return fmt::format("{}{}{}", kind, t.bits, t.lanes > 1 ? fmt::format("x{}", t.lanes) : "");
}

std::string shape_text(const nb::ndarray<nb::ro>& a) {
  std::string out = "(";
  for (size_t i = 0; i < a.ndim(); ++i) out += fmt::format("{}{}", i ? ", " : "", a.shape(i));
  return out + (a.ndim() == 1 ? ",)" : ")");
}

// gpuaug.functional's core: a spec run over uint8 arrays the caller already has (numpy, torch;
// host or CUDA), each image drawn as the dataset sample of its index (pipeline/image_batch.h),
// the result handed out through DLPack as the loader's batches are: host memory of its own, or
// a DeviceSlots block on the input's GPU. Host runs make a pool per call (no threads outlive
// a call, so a process forked after one, as DataLoader workers are, is safe); each GPU keeps
// an executor, its blocks and a converter, used by one call at a time.
class ArrayAugmenter {
 public:
  explicit ArrayAugmenter(int threads) : threads_(threads) {}

  // `arrays`: one 4-D batch (`batched`) or a list of 3-D images; `layout` NCHW, NHWC (or CHW,
  // HWC) or "" to infer it from where the dimension of 1 or 3 channels is. `indices` empty:
  // image i is sample i. The output follows the input's layout unless the spec names one.
  nb::ndarray<nb::array_api> run(const std::optional<std::string>& spec_text,
                                 const std::string& spec_name, uint64_t seed, uint64_t epoch,
                                 const std::vector<int64_t>& indices,
                                 const std::vector<nb::ndarray<nb::ro>>& arrays, bool batched,
                                 const std::string& layout, const std::string& float_dtype) {
    // Float images (float32 here) end in the caller's precision unless the spec's to_dtype
    // names another: what torchvision keeps for float16 and bfloat16 tensors.
    const std::optional<DType> precision = parse_dtype(float_dtype.empty() ? "float32" : float_dtype);
    if (!precision || *precision == DType::kUInt8)
      throw Error("", "functional", fmt::format("float_dtype '{}': expected float32, float16 or bfloat16", float_dtype));
    pipeline::Spec spec =
        spec_text ? pipeline::parse_spec(*spec_text, spec_name) : pipeline::load_spec(spec_name);
    spec.seed = seed;
    const pipeline::Augmenter augmenter(spec);
    const Input input = read_input(arrays, batched, layout);
    std::vector<uint64_t> sample_indices;
    for (const int64_t i : indices) {
      if (i < 0)
        throw Error("", "functional",
                    fmt::format("index {}: indices are dataset positions, 0 or more", i));
      sample_indices.push_back(uint64_t(i));
    }
    const Layout out_layout = spec.output.layout_given ? spec.output.layout : input.layout;
    pipeline::ImageBatchPlan batch;
    {
      nb::gil_scoped_release released;
      batch = pipeline::plan_images(augmenter, input.images, sample_indices, epoch, out_layout, *precision);
    }
    if (input.images.empty()) {
      // An empty batch still has the shape the chain gives its images' size.
      const std::vector<plan::StridedImage> probe = {input.probe};
      const pipeline::ImageBatchPlan shaped =
          pipeline::plan_images(augmenter, probe, {}, epoch, out_layout, *precision);
      batch.dtype = shaped.dtype, batch.channels = shaped.channels;
      batch.height = shaped.height, batch.width = shaped.width;
    }
    const size_t bytes = batch.rows() * batch.sample_bytes();
    std::vector<size_t> dims{batch.rows()};
    if (out_layout == Layout::kHWC)
      dims.insert(dims.end(), {size_t(batch.height), size_t(batch.width), size_t(batch.channels)});
    else
      dims.insert(dims.end(), {size_t(batch.channels), size_t(batch.height), size_t(batch.width)});

    if (input.device < 0) {
      auto memory = std::make_unique<BatchMemory>(bytes);
      {
        nb::gil_scoped_release released;
        const size_t wanted = threads_ > 0 ? size_t(threads_) : size_t(hardware_threads());
        ThreadPool pool(int(std::max<size_t>(1, std::min(wanted, batch.rows()))));
        pipeline::run_images_cpu(input.images, batch, pool, memory->data);
      }
      std::byte* data = memory->data;
      nb::capsule owner(memory.get(),
                        [](void* p) noexcept { delete static_cast<BatchMemory*>(p); });
      memory.release();
      return nb::ndarray<nb::array_api>(data, dims.size(), dims.data(), owner, nullptr,
                                        dlpack_dtype(batch.dtype), nb::device::cpu::value);
    }
    Gpu& gpu = gpu_for(input.device);
    std::shared_ptr<void> block;
    {
      std::unique_lock<std::mutex> lock(gpu.mutex, std::defer_lock);
      nb::gil_scoped_release released;
      lock.lock();
      block = gpu.slots.take(bytes);
      pipeline::run_images_gpu(input.images, batch, gpu.executor, gpu.sources, block.get(), bytes);
    }
    void* data = block.get();
    auto held = std::make_unique<std::shared_ptr<void>>(std::move(block));
    nb::capsule owner(held.get(),
                      [](void* p) noexcept { delete static_cast<std::shared_ptr<void>*>(p); });
    held.release();
    return nb::ndarray<nb::array_api>(data, dims.size(), dims.data(), owner, nullptr,
                                      dlpack_dtype(batch.dtype), nb::device::cuda::value,
                                      input.device);
  }

 private:
  struct Input {
    std::vector<plan::StridedImage> images;
    plan::StridedImage probe;  // the image size of an empty batch
    Layout layout = Layout::kCHW;
    int device = -1;  // -1: host memory
  };

  struct Gpu {
    explicit Gpu(int device) : executor(device), slots(device), sources(device) {}
    plan::CudaExecutor executor;
    plan::DeviceSlots slots;
    plan::DeviceRgbSources sources;
    std::mutex mutex;
  };

  Gpu& gpu_for(int device) {
    const std::lock_guard lock(gpus_mutex_);
    std::unique_ptr<Gpu>& gpu = gpus_[device];
    if (!gpu) gpu = std::make_unique<Gpu>(device);
    return *gpu;
  }

  // The images of a batch or list, checked: uint8 or float32, 3-D images (4-D
  // batches), 1 or 3 channels, one device; the layout given or inferred.
  static Input read_input(const std::vector<nb::ndarray<nb::ro>>& arrays, bool batched,
                          const std::string& layout) {
    if (arrays.empty())
      throw Error("", "functional", "no images: pass a batch array or a non-empty list of images");
    const size_t first_dim = batched ? 1 : 0;
    for (size_t k = 0; k < arrays.size(); ++k) {
      const nb::ndarray<nb::ro>& a = arrays[k];
      const std::string what = batched ? "the batch" : fmt::format("image {}", k);
      if (batched && a.ndim() != 4)
        throw Error(
            "", "functional",
            fmt::format(
                "the batch has shape {}: a batch is 4-D, (N, C, H, W) or (N, H, W, C); give one "
                "image as x[None], or images of different sizes as a list",
                shape_text(a)));
      if (!batched && a.ndim() != 3)
        throw Error(
            "", "functional",
            fmt::format(
                "image {} has shape {}: each image of a list is 3-D, (C, H, W) or (H, W, C)", k,
                shape_text(a)));
      const nb::dlpack::dtype t = a.dtype();
      if (t != nb::dtype<uint8_t>() && t != nb::dtype<float>())
        throw Error(
            "", "functional",
            fmt::format("{} is {}: gpuaug.functional takes uint8 images (0..255), as the pipeline "
                        "decodes them, or float32 images (0..1, torchvision's float convention)",
                        what, dlpack_dtype_name(t)));
    }
    Input input;
    // Layout: given, or the one of CHW and HWC whose channel dimension is 1 or 3 in every array.
    bool chw = false;
    if (layout == "NCHW" || layout == "CHW") {
      chw = true;
    } else if (layout == "NHWC" || layout == "HWC") {
      chw = false;
    } else if (layout.empty()) {
      const auto fits = [&](const nb::ndarray<nb::ro>& a, bool as_chw) {
        const size_t n = a.shape(first_dim + (as_chw ? 0 : 2));
        return n == 1 || n == 3;
      };
      bool fits_chw = true, fits_hwc = true;
      for (const nb::ndarray<nb::ro>& a : arrays) {
        fits_chw = fits_chw && fits(a, true);
        fits_hwc = fits_hwc && fits(a, false);
      }
      const std::string shape = shape_text(arrays.front());
      const std::string names = batched ? "'NCHW' or 'NHWC'" : "'CHW' or 'HWC'";
      if (fits_chw && fits_hwc)
        throw Error(
            "", "functional",
            fmt::format(
                "shape {} has 1 or 3 in both channel positions; pass layout={} to say which", shape,
                names));
      // The first image fits a layout that a later one breaks: name that one, not the first.
      for (size_t k = 1; !fits_chw && !fits_hwc && k < arrays.size(); ++k)
        if ((fits(arrays.front(), true) && !fits(arrays[k], true)) || (fits(arrays.front(), false) && !fits(arrays[k], false)))
          throw Error("", "functional",
                      fmt::format("image {} has shape {}, image 0 {}: a list's images share one layout, 1 or 3 "
                                  "channels first or last ({})",
                                  k, shape_text(arrays[k]), shape, names));
      if (!fits_chw && !fits_hwc)
        throw Error(
            "", "functional",
            fmt::format(
                "shape {} has neither 1 nor 3 channels first or last; gpuaug takes gray (1) or RGB "
                "(3) images (pass layout={} to name the channel dimension)",
                shape, names));
      chw = fits_chw;
    } else {
      throw Error("", "functional",
                  fmt::format("layout '{}': expected NCHW or NHWC (CHW or HWC for a list), or "
                              "None to infer it",
                              layout));
    }
    input.layout = chw ? Layout::kCHW : Layout::kHWC;
    const size_t c_dim = first_dim + (chw ? 0 : 2), y_dim = first_dim + (chw ? 1 : 0),
                 x_dim = first_dim + (chw ? 2 : 1);
    for (size_t k = 0; k < arrays.size(); ++k) {
      const nb::ndarray<nb::ro>& a = arrays[k];
      int device = -1;
      if (a.device_type() == nb::device::cuda::value)
        device = a.device_id();
      else if (a.device_type() != nb::device::cpu::value &&
               a.device_type() != nb::device::cuda_host::value)
        throw Error(
            "", "functional",
            fmt::format("{} is in memory of DLPack device type {}: gpuaug takes CPU or "
                        "CUDA arrays",
                        batched ? "the batch" : fmt::format("image {}", k), a.device_type()));
      if (k == 0)
        input.device = device;
      else if (device != input.device)
        throw Error(
            "", "functional",
            fmt::format("image {} is on {}, image 0 on {}: a list's images share a device", k,
                        device < 0 ? "the CPU" : fmt::format("cuda:{}", device),
                        input.device < 0 ? "the CPU" : fmt::format("cuda:{}", input.device)));
      const size_t channels = a.shape(c_dim);
      if (channels != 1 && channels != 3)
        throw Error(
            "", "functional",
            fmt::format(
                "{} has shape {}, {} channels as {}: gpuaug takes gray (1) or RGB (3) images",
                batched ? "the batch" : fmt::format("image {}", k), shape_text(a), channels,
                batched ? (chw ? "NCHW" : "NHWC") : (chw ? "CHW" : "HWC")));
      if (a.shape(y_dim) > size_t(INT32_MAX) || a.shape(x_dim) > size_t(INT32_MAX))
        throw Error("", "functional", fmt::format("shape {} is too large", shape_text(a)));
      plan::StridedImage s;
      s.data = static_cast<const uint8_t*>(a.data());
      s.channels = int(channels);
      s.height = int(a.shape(y_dim));
      s.width = int(a.shape(x_dim));
      s.stride_c = a.stride(c_dim);
      s.stride_y = a.stride(y_dim);
      s.stride_x = a.stride(x_dim);
      s.is_float = a.dtype() == nb::dtype<float>();
      if (!batched) {
        input.images.push_back(s);
        continue;
      }
      input.probe = s;
      for (size_t n = 0; n < a.shape(0); ++n) {
        plan::StridedImage image = s;
        image.data = s.data + int64_t(n) * a.stride(0) * int64_t(s.is_float ? sizeof(float) : 1);
        input.images.push_back(image);
      }
    }
    return input;
  }

  int threads_;
  std::mutex gpus_mutex_;
  std::map<int, std::unique_ptr<Gpu>> gpus_;
};

}  // namespace
}  // namespace gpuaug::python

NB_MODULE(_gpuaug, m) {
  using namespace gpuaug;
  using python::BatchLoader;
  m.doc() = "gpuaug's C++ core: operator descriptors, the CPU batch loader, gpuaug.Error";
  m.attr("__version__") = GPUAUG_VERSION;

  python::g_error_type = PyErr_NewExceptionWithDoc(
      "gpuaug.Error",
      "A failure in gpuaug's core, naming the file (may be empty), the stage and the cause.",
      PyExc_Exception, nullptr);
  m.attr("Error") = nb::handle(python::g_error_type);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      nb::object error = nb::handle(python::g_error_type)(nb::str(e.what()));
      error.attr("file") = e.file();
      error.attr("stage") = e.stage();
      error.attr("cause") = e.cause();
      PyErr_SetObject(python::g_error_type, error.ptr());
    }
  });

  m.def(
      "process_devices",
      [](const std::string& text) {
        std::vector<std::string> names;
        for (const Device& d : dist::process_devices(text, dist::detect_world())) names.push_back(d.name());
        return names;
      },
      nb::arg("text"), "The devices of a device text for this process (the launcher's local rank picks 'cuda').");
  m.def("op_descriptors", &python::op_descriptors,
        "Every operator's descriptor: name, summary, reference, geometric, drawn, params "
        "(name, type, default, doc), in `gpuaug ops` order.");

  nb::class_<BatchLoader>(m, "BatchLoader")
      .def(
          "__init__",
          [](BatchLoader* self, const std::optional<std::string>& spec_text,
             const std::string& spec_name, std::optional<uint64_t> seed, const std::string& source,
             int threads, const std::string& on_error, const std::string& device, int lanes) {
            new (self) BatchLoader(spec_text, spec_name, seed, data::open_source(source), threads,
                                   on_error, device, lanes);
          },
          nb::arg("spec_text").none(), nb::arg("spec_name"), nb::arg("seed").none(),
          nb::arg("source"), nb::arg("threads") = 0, nb::arg("on_error") = "raise", nb::arg("device") = "cpu",
          nb::arg("lanes") = 1)
      .def(
          "__init__",
          [](BatchLoader* self, const std::optional<std::string>& spec_text,
             const std::string& spec_name, std::optional<uint64_t> seed,
             const std::vector<std::string>& paths, const std::vector<int64_t>& labels, int threads,
             const std::string& on_error, const std::string& device, int lanes) {
            new (self) BatchLoader(spec_text, spec_name, seed, python::list_source(paths, labels),
                                   threads, on_error, device, lanes);
          },
          nb::arg("spec_text").none(), nb::arg("spec_name"), nb::arg("seed").none(),
          nb::arg("paths"), nb::arg("labels"), nb::arg("threads") = 0,
          nb::arg("on_error") = "raise", nb::arg("device") = "cpu", nb::arg("lanes") = 1)
      .def("__len__", &BatchLoader::size)
      .def_prop_ro("seed", &BatchLoader::seed)
      .def_prop_ro("classes", &BatchLoader::classes)
      .def_prop_ro("paths", &BatchLoader::paths)
      .def_prop_ro("device", &BatchLoader::device)
      .def_prop_ro("lanes", &BatchLoader::lanes)
      .def_prop_ro("device_blocks", &BatchLoader::device_blocks)
      .def("set", &BatchLoader::set, nb::arg("op"), nb::arg("param"), nb::arg("value"))
      .def("get", &BatchLoader::get, nb::arg("op"), nb::arg("param"))
      .def("indices", &BatchLoader::indices, nb::arg("epoch"), nb::arg("shuffle"), nb::arg("rank"),
           nb::arg("world_size"), nb::arg("drop_last"))
      .def("snapshot", &BatchLoader::snapshot)
      .def("load_from", &BatchLoader::load_from, nb::arg("order"), nb::arg("start"), nb::arg("count"),
           nb::arg("epoch"), nb::arg("record") = false, nb::arg("lane") = 0, nb::arg("spec").none() = nb::none());

  nb::class_<python::SpecSnapshot>(m, "SpecSnapshot", "A loader's spec at one moment (BatchLoader.snapshot).");

  nb::class_<python::ArrayAugmenter>(m, "ArrayAugmenter")
      .def(nb::init<int>(), nb::arg("threads") = 0)
      .def("run", &python::ArrayAugmenter::run, nb::arg("spec_text").none(), nb::arg("spec_name"),
           nb::arg("seed"), nb::arg("epoch"), nb::arg("indices"), nb::arg("arrays"),
           nb::arg("batched"), nb::arg("layout"), nb::arg("float_dtype") = "",
           "A spec over uint8 or float32 arrays in memory, on the CPU or a GPU (gpuaug.functional): one "
           "4-D batch or a list of 3-D "
           "images, "
           "each drawn as the dataset sample of its index; a new array on the input's device.");
}
