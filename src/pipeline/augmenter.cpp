// Augmenter: the per-image path on the CPU.
#include "pipeline/augmenter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <future>

#include "codec/decoder.h"
#include "codec/jpeg_decoder.h"
#include "core/error.h"
#include "core/half.h"
#include "plan/plan.h"

namespace gpuaug::pipeline {

bool Augmenter::nvjpeg_share(uint64_t index) const {
  return int(index % 8) < chain_.spec().decode.gpu_eighths();
}

bool Augmenter::exact_share(uint64_t index) const {
  const DecodeOptions& d = chain_.spec().decode;
  return int(index % 8) >= d.gpu_eighths() && int(index % 8) < d.gpu_eighths() + d.exact_eighths();
}

PreparedImage Augmenter::prepare(std::span<const uint8_t> bytes, const std::string& file,
                                uint64_t index, uint32_t copy, uint64_t epoch,
                                const ReplayLookup* replay, bool leave_for_gpu, bool defer_cpu_decode,
                                bool exact_on_gpu) const {
  try {
    const Spec& spec = chain_.spec();
    const codec::ImageInfo info = codec::peek_image(bytes, spec.decode.max_pixels);
    const RandomKey key = RandomKey::from(spec.seed, epoch);
    PreparedImage prepared;
    prepared.plans =
        chain_.plan(key, index, copy, info.oriented_width(), info.oriented_height(), replay);
    if (prepared.plans.empty()) return prepared;
    std::vector<const ops::FoldResult*> folds;
    for (const SamplePlan& p : prepared.plans) folds.push_back(&p.fold);
    if (leave_for_gpu && spec.decode.gpu && nvjpeg_share(index) && codec::NvjpegDecoder::takes(bytes, info)) {
      // nvJPEG decodes the region at full scale (its scaling is not used: outputs stay close
      // to the CPU decoder's).
      prepared.decode_on_gpu = true;
      prepared.region = plan::decode_needs(folds, info.oriented_width(), info.oriented_height(), false).region;
      prepared.bytes = bytes;
      prepared.file = file;
      return prepared;
    }
    if (exact_on_gpu && spec.decode.gpu && exact_share(index) && info.format == codec::ImageFormat::kJpeg &&
        info.orientation == 1 && uint64_t(info.width) * uint64_t(info.height) <= kExactGpuMaxPixels &&
        plan::GpuJpegDecoder::exact()) {
      // Whole and at full scale, as the GPU decodes it; where it does not take the file, decoded
      // below as any other.
      codec::JpegPlaneReader reader(bytes, spec.decode.max_pixels);
      if (reader.finishable()) {
        prepared.scan_buffer.resize(reader.entropy_bytes_bound());
        if (std::optional<codec::JpegScan> scan = reader.read_entropy(prepared.scan_buffer.data())) {
          prepared.decode_exact_on_gpu = true;
          prepared.scan = *scan;
          prepared.region = plan::decode_needs(folds, info.oriented_width(), info.oriented_height(), false).region;
          prepared.bytes = bytes;
          prepared.file = file;
          return prepared;
        }
        prepared.scan_buffer = {};
      }
    }
    const plan::DecodeNeeds needs = plan::decode_needs(folds, info.oriented_width(),
                                                       info.oriented_height(), spec.decode.dct_scaling);
    codec::DecodeRequest request;
    request.region = needs.region;
    request.scale_denom = needs.scale_denom;
    request.max_pixels = spec.decode.max_pixels;
    if (defer_cpu_decode) {
      prepared.decode_deferred = true;
      prepared.cpu_request = request;
      prepared.bytes = bytes;
      prepared.file = file;
      return prepared;
    }
    codec::DecodedImage decoded = codec::decode_image(bytes, request);
    for (SamplePlan& p : prepared.plans)
      p.fold.geometry = plan::retarget(p.fold.geometry, decoded.scale_denom, decoded.origin_x,
                                       decoded.origin_y, decoded.grid_offset_x, decoded.grid_offset_y);
    prepared.image = std::move(decoded.image);
    return prepared;
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw e.with_file(file);
  } catch (const std::bad_alloc&) {
    throw Error(file, "decode", "out of memory");
  }
}

std::vector<AugmentedSample> Augmenter::run(std::span<const uint8_t> bytes, const std::string& file,
                                            uint64_t index, uint32_t copy, uint64_t epoch,
                                            const ReplayLookup* replay) const {
  PreparedImage prepared = prepare(bytes, file, index, copy, epoch, replay);
  const RandomKey key = RandomKey::from(chain_.spec().seed, epoch);
  std::vector<AugmentedSample> out;
  out.reserve(prepared.plans.size());
  try {
    for (SamplePlan& p : prepared.plans) {
      Tensor t = plan::execute_cpu(p.fold, prepared.image, {key, p.id}, chain_.spec().output.layout);
      out.push_back({std::move(p), std::move(t)});
    }
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw e.with_file(file);
  }
  return out;
}

namespace {

// Decodes `request` on the CPU into `image` and moves its plans to the decoded pixels.
void decode_on_cpu(PreparedImage& image, const codec::DecodeRequest& request) {
  codec::DecodedImage cpu = codec::decode_image(image.bytes, request);
  for (SamplePlan& p : image.plans)
    p.fold.geometry = plan::retarget(p.fold.geometry, cpu.scale_denom, cpu.origin_x, cpu.origin_y,
                                     cpu.grid_offset_x, cpu.grid_offset_y);
  image.image = std::move(cpu.image);
}

}  // namespace

std::vector<plan::SampleJob> Augmenter::gpu_jobs(std::vector<PreparedImage>& images, uint64_t epoch,
                                                 codec::NvjpegDecoder* nvjpeg,
                                                 std::vector<std::optional<Error>>* errors, ThreadPool* pool,
                                                 plan::GpuJpegDecoder* exact) const {
  const RandomKey key = RandomKey::from(chain_.spec().seed, epoch);
  std::vector<std::optional<Error>> failures(images.size());
  // A decode that failed: raised (no `errors`), or recorded and the image left without samples
  // so that the caller raises, skips or replaces it.
  auto failed = [&](size_t i, const Error& e) {
    failures[i] = e.file().empty() ? e.with_file(images[i].file) : e;
    images[i].plans.clear();
  };
  // Image i decoded on this thread by `request`; false (and recorded) where that fails.
  auto decode_here = [&](size_t i, const codec::DecodeRequest& request) {
    try {
      decode_on_cpu(images[i], request);
      return true;
    } catch (const Error& e) {
      failed(i, e);
    } catch (const std::bad_alloc&) {
      failed(i, Error(images[i].file, "decode", "out of memory"));
    }
    return false;
  };
  std::vector<size_t> pending, deferred, scanned;
  std::vector<codec::GpuDecodeRequest> requests;
  std::vector<plan::JpegScanInput> scans;
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].decode_on_gpu) {
      pending.push_back(i);
      requests.push_back({images[i].bytes, images[i].region});
    }
    if (images[i].decode_deferred) deferred.push_back(i);
    if (images[i].decode_exact_on_gpu) {
      scanned.push_back(i);
      scans.push_back({images[i].scan_buffer, images[i].scan});
    }
  }
  // GpuJpegDecoder's share on a thread of its own (its stream), beside nvJPEG and the pool.
  std::future<std::vector<std::optional<codec::GpuDecoded>>> exact_side;
  if (!scans.empty() && exact != nullptr)
    exact_side = std::async(std::launch::async, [&] { return exact->decode(scans); });
  // The CPU's share on the pool, at the same time as nvJPEG's below on this thread.
  auto decode_deferred = [&](size_t k) {
    if (decode_here(deferred[k], images[deferred[k]].cpu_request)) images[deferred[k]].decode_deferred = false;
  };
  std::future<void> cpu_side;
  if (pool != nullptr && !deferred.empty())
    cpu_side = std::async(std::launch::async, [&] { pool->parallel_for(deferred.size(), decode_deferred); });
  std::vector<std::optional<codec::GpuDecoded>> decoded(pending.size());
  std::exception_ptr nvjpeg_error;
  try {
    if (!pending.empty() && nvjpeg != nullptr) decoded = nvjpeg->decode(requests);
  } catch (...) {
    nvjpeg_error = std::current_exception();  // rethrown once the CPU side is done with `images`
  }
  std::vector<std::optional<codec::GpuDecoded>> exact_decoded(scanned.size());
  try {
    if (exact_side.valid()) exact_decoded = exact_side.get();
  } catch (const Error& e) {
    // Out of device memory (a batch of large photos on a small GPU): every scan is left to the
    // CPU below, at full scale, which gives the exact decoder's pixels. Anything else is raised.
    if (e.stage() != "device memory" && !nvjpeg_error) nvjpeg_error = std::current_exception();
  } catch (...) {
    if (!nvjpeg_error) nvjpeg_error = std::current_exception();
  }
  if (cpu_side.valid()) cpu_side.get();
  else
    for (size_t k = 0; k < deferred.size(); ++k) decode_deferred(k);
  if (nvjpeg_error) std::rethrow_exception(nvjpeg_error);
  std::vector<const codec::GpuDecoded*> on_device(images.size(), nullptr);
  // Image i as a GPU decoder left it: decoded (its plans moved onto the decoded part; GpuJpegDecoder's
  // is the whole image), or refused by nvJPEG or declined (damaged data, or no room on the device):
  // then the CPU decodes the same region, at full scale, and names any fault (on the pool: a
  // whole batch may come back).
  std::vector<size_t> left;
  auto place = [&](size_t i, const std::optional<codec::GpuDecoded>& decoded_here) {
    if (!decoded_here) {
      left.push_back(i);
      return;
    }
    for (SamplePlan& p : images[i].plans)
      p.fold.geometry = plan::retarget(p.fold.geometry, 1, decoded_here->origin_x, decoded_here->origin_y);
    on_device[i] = &*decoded_here;
  };
  for (size_t k = 0; k < scanned.size(); ++k) place(scanned[k], exact_decoded[k]);
  for (size_t k = 0; k < pending.size(); ++k) place(pending[k], decoded[k]);
  auto decode_left = [&](size_t k) {
    codec::DecodeRequest request;
    request.region = images[left[k]].region;
    request.max_pixels = chain_.spec().decode.max_pixels;
    decode_here(left[k], request);
  };
  if (pool != nullptr && left.size() > 1) pool->parallel_for(left.size(), decode_left);
  else
    for (size_t k = 0; k < left.size(); ++k) decode_left(k);
  if (errors) {
    *errors = std::move(failures);
  } else {
    for (const auto& f : failures)
      if (f) throw *f;
  }
  std::vector<plan::SampleJob> jobs;
  for (size_t i = 0; i < images.size(); ++i)
    for (const SamplePlan& p : images[i].plans) {
      plan::SampleJob job{&p.fold, &images[i].image, -1, {key, p.id}};
      if (on_device[i] != nullptr) {
        job.source = nullptr;
        job.device_source = on_device[i]->device_rgb;
        job.device_width = on_device[i]->width;
        job.device_height = on_device[i]->height;
      }
      jobs.push_back(job);
    }
  return jobs;
}

std::vector<std::vector<AugmentedSample>> Augmenter::execute_gpu(
    plan::CudaExecutor& executor, std::vector<PreparedImage>& images, uint64_t epoch,
    codec::NvjpegDecoder* nvjpeg, std::vector<std::optional<Error>>* errors, ThreadPool* pool,
    plan::GpuJpegDecoder* exact) const {
  const std::vector<plan::SampleJob> jobs = gpu_jobs(images, epoch, nvjpeg, errors, pool, exact);
  std::vector<Tensor> tensors = executor.run_to_host(jobs, chain_.spec().output.layout, pool);
  std::vector<std::vector<AugmentedSample>> out(images.size());
  size_t next = 0;
  for (size_t i = 0; i < images.size(); ++i)
    for (SamplePlan& p : images[i].plans) out[i].push_back({std::move(p), std::move(tensors[next++])});
  return out;
}

Image viewable_image(const AugmentedSample& sample) { return viewable_image(sample.tensor, sample.plan.fold); }

Image viewable_image(const Tensor& t, const ops::FoldResult& fold) {
  Image image(t.width, t.height, t.channels);
  for (int y = 0; y < t.height; ++y)
    for (int x = 0; x < t.width; ++x)
      for (int c = 0; c < t.channels; ++c) {
        const size_t i = t.offset(y, x, c);
        float v = 0.0f;
        switch (t.dtype) {
          case DType::kUInt8:
            image.row(y)[x * t.channels + c] = reinterpret_cast<const uint8_t*>(t.data.data())[i];
            continue;
          case DType::kFloat32:
            v = reinterpret_cast<const float*>(t.data.data())[i];
            break;
          case DType::kFloat16:
            v = half_bits_to_float(reinterpret_cast<const uint16_t*>(t.data.data())[i]);
            break;
          case DType::kBFloat16:
            v = bfloat16_bits_to_float(reinterpret_cast<const uint16_t*>(t.data.data())[i]);
            break;
        }
        if (fold.has_normalize) v = v * fold.norm_std[c] + fold.norm_mean[c];
        image.row(y)[x * t.channels + c] =
            static_cast<uint8_t>(std::clamp(std::nearbyint(v * 255.0f), 0.0f, 255.0f));
      }
  return image;
}

}  // namespace gpuaug::pipeline
