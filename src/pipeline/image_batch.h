// Augmenting images already in memory (uint8 arrays on the host or one GPU) with an Augmenter,
// each image drawn as the dataset sample of its index: the core of gpuaug.functional, whose
// batches equal the Pipeline's for the same pixels, seed, epoch and indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "pipeline/augmenter.h"
#include "plan/cuda_executor.h"
#include "plan/image_source.h"

namespace gpuaug::pipeline {

// The output rows of a batch: image i's samples in chain order (several with local_crops),
// every row of one shape and dtype, so that the rows are one N x C x H x W (or N x H x W x C)
// array.
struct ImageBatchPlan {
  std::vector<SamplePlan> plans;
  std::vector<size_t> image;  // the image each row comes from
  RandomKey key{};
  Layout layout = Layout::kCHW;
  DType dtype = DType::kUInt8;
  int channels = 0, height = 0, width = 0;

  size_t rows() const { return plans.size(); }
  size_t sample_bytes() const { return size_t(channels) * height * width * dtype_size(dtype); }
};

// Plans image i as the sample of index indices[i] (i when `indices` is empty), copy 0, in
// `epoch`, with no decode: the geometry reads the image's own pixels. A 1-channel image is
// gray (ops::SampleFold); a float image's rows end in `float_dtype` (the caller's precision)
// unless the chain's to_dtype names another. Error (stage "functional") for images that are
// empty or not 1 or 3 channels, an indices list of another length, and rows that differ in
// shape or dtype.
ImageBatchPlan plan_images(const Augmenter& augmenter, std::span<const plan::StridedImage> images,
                           std::span<const uint64_t> indices, uint64_t epoch, Layout layout,
                           DType float_dtype = DType::kFloat32);

// Runs the rows on the CPU threads of `pool` (images in host memory, read in place where they
// are interleaved RGB), row r written at out + r * sample_bytes().
void run_images_cpu(std::span<const plan::StridedImage> images, const ImageBatchPlan& batch,
                    ThreadPool& pool, std::byte* out);

// Runs the rows on a GPU (images in its memory) into `out`, device memory of `out_bytes`
// (packed rows, as run_images_cpu); synchronous.
void run_images_gpu(std::span<const plan::StridedImage> images, const ImageBatchPlan& batch,
                    plan::CudaExecutor& executor, plan::DeviceRgbSources& sources, void* out,
                    size_t out_bytes);

}  // namespace gpuaug::pipeline
