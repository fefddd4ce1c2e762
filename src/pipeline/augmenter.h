// Augmenter: one image's bytes -> header -> plans -> region/DCT-scaled decode -> CPU execution;
// the unit every job and thread runs. Errors name the file and the stage.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "codec/decoder.h"
#include "codec/nvjpeg_decoder.h"
#include "pipeline/chain.h"
#include "plan/cuda_executor.h"
#include "plan/gpu_jpeg_decoder.h"

namespace gpuaug::pipeline {

struct AugmentedSample {
  SamplePlan plan;  // id, drawn parameters, fold (in decoded coordinates)
  Tensor tensor;
};

// One image's plans and its decoded region, ready for the CPU or GPU executor.
struct PreparedImage {
  std::vector<SamplePlan> plans;  // geometry in decoded-image coordinates once decoded
  Image image;                    // CPU-decoded pixels
  // Left for nvJPEG: plans still in source coordinates, `region` to decode at full scale from
  // `bytes` (kept alive by the caller). Images nvJPEG refuses fall back to the CPU decoder.
  bool decode_on_gpu = false;
  codec::Rect region;
  std::span<const uint8_t> bytes;
  std::string file;
  // Left for the CPU threads to decode while nvJPEG decodes its share (prepare's
  // defer_cpu_decode): the request, from `bytes`.
  bool decode_deferred = false;
  codec::DecodeRequest cpu_request;
  // Left for GpuJpegDecoder (prepare's exact_on_gpu): the scan laid out by read_entropy, plans
  // in source coordinates, `region` for the CPU decoder should the GPU decline the scan.
  bool decode_exact_on_gpu = false;
  std::vector<uint8_t> scan_buffer;
  codec::JpegScan scan;
};

// The largest JPEG (width x height) that GpuJpegDecoder takes: it decodes whole images at full
// scale and holds 7.5-8.4 bytes a pixel of its batch on the device (4:2:0; ~14 for 4:4:4), in
// buffers rounded up to a power of two, one decoder a worker (two a GPU); the CPU threads decode
// only the region a crop reads, at DCT scale. Above this (2.1 MP: 1920x1080 and every ImageNet-
// or COCO-sized photo are below) a file is the CPU threads' in every run, so the choice never
// depends on the batch. A batch of 256 at the bound holds up to 8 GB a decoder; a decoder that
// still finds no room leaves its batch to the CPU (Augmenter::gpu_jobs).
inline constexpr uint64_t kExactGpuMaxPixels = uint64_t(1) << 21;

class Augmenter {
 public:
  explicit Augmenter(const Spec& spec) : chain_(spec) {}

  const Chain& chain() const { return chain_; }

  // All output samples of one image and copy. `file` names the input in errors.
  std::vector<AugmentedSample> run(std::span<const uint8_t> bytes, const std::string& file,
                                   uint64_t index, uint32_t copy, uint64_t epoch,
                                   const ReplayLookup* replay = nullptr) const;
  // Header, plans and region/DCT-scaled decode, without executing. With `leave_for_gpu` an
  // image nvJPEG suits and whose index falls in the spec's nvJPEG share (decode.gpu_share) is
  // not decoded here (PreparedImage::decode_on_gpu); with `defer_cpu_decode` the others are not
  // either, but left for gpu_jobs to decode on the pool while nvJPEG works (`bytes` must then
  // stay alive until gpu_jobs).
  // With `exact_on_gpu` a baseline JPEG of at most kExactGpuMaxPixels whose index falls in the
  // spec's exact share (decode.exact_share) is only read into its scan
  // (PreparedImage::decode_exact_on_gpu).
  PreparedImage prepare(std::span<const uint8_t> bytes, const std::string& file, uint64_t index,
                        uint32_t copy, uint64_t epoch, const ReplayLookup* replay = nullptr,
                        bool leave_for_gpu = false, bool defer_cpu_decode = false,
                        bool exact_on_gpu = false) const;
  // Whether nvJPEG takes sample `index` of a file it suits: the spec's share, by index % 8.
  bool nvjpeg_share(uint64_t index) const;
  // Whether GpuJpegDecoder takes sample `index` of a file it suits: the share after nvJPEG's.
  bool exact_share(uint64_t index) const;
  // Executes prepared images as one GPU batch; result[i] holds image i's samples. An image the
  // CPU fallback cannot decode (nvJPEG refused it) throws, or with `errors` lands there (sized
  // to images) and gets no samples, so that the caller applies its on_error.
  std::vector<std::vector<AugmentedSample>> execute_gpu(plan::CudaExecutor& executor,
                                                        std::vector<PreparedImage>& images,
                                                        uint64_t epoch,
                                                        codec::NvjpegDecoder* nvjpeg = nullptr,
                                                        std::vector<std::optional<Error>>* errors = nullptr,
                                                        ThreadPool* pool = nullptr,
                                                        plan::GpuJpegDecoder* exact = nullptr) const;
  // The jobs of prepared images: nvJPEG decodes those left to it on this thread while `pool`
  // decodes the deferred ones (on this thread without a pool); `errors`, sized to images here,
  // as execute_gpu's (a deferred decode that fails lands there too). The jobs point into
  // `images` and into nvJPEG's memory, valid until its next decode: run them first.
  // `exact` decodes the images left to it (PreparedImage::decode_exact_on_gpu) at the same time,
  // its jobs pointing into its memory likewise; a scan it declines the CPU decodes.
  std::vector<plan::SampleJob> gpu_jobs(std::vector<PreparedImage>& images, uint64_t epoch,
                                        codec::NvjpegDecoder* nvjpeg,
                                        std::vector<std::optional<Error>>* errors = nullptr,
                                        ThreadPool* pool = nullptr, plan::GpuJpegDecoder* exact = nullptr) const;
 private:
  Chain chain_;
};

// An 8-bit HWC image for viewing or writing as PNG/JPEG: uint8 outputs as they are; float
// outputs with the last normalize undone, times 255, rounded and clamped.
Image viewable_image(const AugmentedSample& sample);
Image viewable_image(const Tensor& tensor, const ops::FoldResult& fold);

}  // namespace gpuaug::pipeline
