// Images in memory through the chain: planning without a decode, then the CPU or CUDA executor.
#include "pipeline/image_batch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "plan/plan.h"

namespace gpuaug::pipeline {

namespace {

std::string describe(const ops::FoldResult& f) {
  return fmt::format("{}x{}x{} {}", f.channels, f.geometry.out_h, f.geometry.out_w,
                     dtype_name(f.dtype));
}

}  // namespace

ImageBatchPlan plan_images(const Augmenter& augmenter, std::span<const plan::StridedImage> images,
                           std::span<const uint64_t> indices, uint64_t epoch, Layout layout,
                           DType float_dtype) {
  if (!indices.empty() && indices.size() != images.size())
    throw Error("", "functional",
                fmt::format("{} indices for {} images; give one index per image", indices.size(),
                            images.size()));
  ImageBatchPlan batch;
  batch.key = RandomKey::from(augmenter.chain().spec().seed, epoch);
  batch.layout = layout;
  size_t first = 0;  // the image of row 0, for the error naming two shapes
  for (size_t i = 0; i < images.size(); ++i) {
    const plan::StridedImage& s = images[i];
    if (s.channels != 1 && s.channels != 3)
      throw Error(
          "", "functional",
          fmt::format("image {} has {} channels; gpuaug takes 1 (gray) or 3 (RGB)", i, s.channels));
    if (s.width < 1 || s.height < 1)
      throw Error("", "functional",
                  fmt::format("image {} is {}x{} (height x width); it needs at least one pixel", i,
                              s.height, s.width));
    const uint64_t index = indices.empty() ? i : indices[i];
    for (SamplePlan& p : augmenter.chain().plan(batch.key, index, 0, s.width, s.height, nullptr, s.channels,
                                                 s.is_float, float_dtype)) {
      const ops::FoldResult& f = p.fold;
      if (batch.plans.empty()) {
        first = i;
        batch.dtype = f.dtype;
        batch.channels = f.channels;
        batch.height = f.geometry.out_h;
        batch.width = f.geometry.out_w;
      } else if (f.dtype != batch.dtype || f.channels != batch.channels ||
                 f.geometry.out_h != batch.height || f.geometry.out_w != batch.width) {
        throw Error(
            "", "functional",
            fmt::format(
                "image {} gives {}, image {} gives {} (channels x height x width); the samples of "
                "one batch share a shape: end the chain with a fixed-size resize or crop",
                first, describe(batch.plans.front().fold), i, describe(f)));
      }
      batch.plans.push_back(std::move(p));
      batch.image.push_back(i);
    }
  }
  return batch;
}

void run_images_cpu(std::span<const plan::StridedImage> images, const ImageBatchPlan& batch,
                    ThreadPool& pool, std::byte* out) {
  // Images the executor cannot read in place are copied to interleaved RGB once (all of a
  // local_crops image's rows read the one copy); float images always are.
  std::vector<Image> copies(images.size());
  std::vector<std::vector<float>> float_copies(images.size());
  pool.parallel_for(images.size(), [&](size_t i) {
    if (images[i].is_float) float_copies[i] = plan::to_rgb_float(images[i]);
    else if (!plan::is_interleaved_rgb(images[i])) copies[i] = plan::to_rgb(images[i]);
  });
  const size_t bytes = batch.sample_bytes();
  pool.parallel_for(batch.rows(), [&](size_t r) {
    const size_t i = batch.image[r];
    const plan::SourceView view =
        images[i].is_float              ? plan::float_source_view(float_copies[i], images[i].width, images[i].height)
        : plan::is_interleaved_rgb(images[i]) ? plan::source_view(images[i])
                                              : plan::SourceView::of(copies[i]);
    const SamplePlan& p = batch.plans[r];
    const Tensor t = plan::execute_cpu_window(p.fold, view, {batch.key, p.id}, batch.layout,
                                              {0, 0, batch.width, batch.height});
    std::memcpy(out + r * bytes, t.data.data(), bytes);
  });
}

void run_images_gpu(std::span<const plan::StridedImage> images, const ImageBatchPlan& batch,
                    plan::CudaExecutor& executor, plan::DeviceRgbSources& sources, void* out,
                    size_t out_bytes) {
  if (batch.rows() == 0) return;
  const std::vector<const uint8_t*> rgb = sources.prepare(images);
  std::vector<plan::SampleJob> jobs(batch.rows());
  for (size_t r = 0; r < batch.rows(); ++r) {
    const plan::StridedImage& s = images[batch.image[r]];
    plan::SampleJob& job = jobs[r];
    job.fold = &batch.plans[r].fold;
    job.stream = {batch.key, batch.plans[r].id};
    job.device_source = rgb[batch.image[r]];
    job.device_width = s.width;
    job.device_height = s.height;
  }
  const size_t row_bytes = batch.sample_bytes();
  if (out_bytes < batch.rows() * row_bytes)
    throw Error("", "functional", "internal: the output block is smaller than the batch");
  // One run per stretch of rows whose images share an element type (the kernel is compiled per
  // type), of at most 65535 rows (the executor's grid holds one sample per block row).
  constexpr size_t kRowsPerRun = 65535;
  const auto is_float = [&](size_t r) { return images[batch.image[r]].is_float; };
  for (size_t first = 0; first < jobs.size();) {
    size_t count = 1;
    while (count < kRowsPerRun && first + count < jobs.size() && is_float(first + count) == is_float(first)) ++count;
    const plan::OutputTarget target{static_cast<std::byte*>(out) + first * row_bytes, count * row_bytes};
    executor.run(std::span<const plan::SampleJob>(jobs).subspan(first, count), batch.layout, &target);
    first += count;
  }
}

}  // namespace gpuaug::pipeline
