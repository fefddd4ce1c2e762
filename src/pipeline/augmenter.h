// Augmenter: one image's bytes -> header -> plans -> region/DCT-scaled decode -> CPU execution;
// the unit every job and thread runs. Errors name the file and the stage.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "pipeline/chain.h"

namespace gpuaug::pipeline {

struct AugmentedSample {
  SamplePlan plan;  // id, drawn parameters, fold (in decoded coordinates)
  Tensor tensor;
};

// One image's plans and its decoded region, ready for the CPU or GPU executor.
struct PreparedImage {
  std::vector<SamplePlan> plans;  // geometry already in decoded-image coordinates
  Image image;
};

class Augmenter {
 public:
  explicit Augmenter(const Spec& spec) : chain_(spec) {}

  const Chain& chain() const { return chain_; }

  // All output samples of one image and copy. `file` names the input in errors.
  std::vector<AugmentedSample> run(std::span<const uint8_t> bytes, const std::string& file,
                                   uint64_t index, uint32_t copy, uint64_t epoch,
                                   const ReplayLookup* replay = nullptr) const;
  // Header, plans and region/DCT-scaled decode, without executing.
  PreparedImage prepare(std::span<const uint8_t> bytes, const std::string& file, uint64_t index,
                        uint32_t copy, uint64_t epoch, const ReplayLookup* replay = nullptr) const;
  std::vector<AugmentedSample> run_file(const std::string& path, uint64_t index, uint32_t copy,
                                        uint64_t epoch, const ReplayLookup* replay = nullptr) const;

 private:
  Chain chain_;
};

// An 8-bit HWC image for viewing or writing as PNG/JPEG: uint8 outputs as they are; float
// outputs with the last normalize undone, times 255, rounded and clamped.
Image viewable_image(const AugmentedSample& sample);

}  // namespace gpuaug::pipeline
