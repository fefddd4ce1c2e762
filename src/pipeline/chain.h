// Chain: a spec's ops instantiated and checked, and the planner that draws (or replays) one
// image's parameters and folds them into one plan per output sample.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/random.h"
#include "ops/op.h"
#include "pipeline/spec.h"

namespace gpuaug::pipeline {

struct DrawnOp {
  const ops::Op* op = nullptr;
  ops::Drawn drawn;
};

struct SamplePlan {
  SampleId id;
  ops::FoldResult fold;
  std::vector<DrawnOp> drawn;  // one per op, in chain order
};

// Recorded parameters of one output sample (one Drawn per op), or nullptr when not recorded.
using ReplayLookup = std::function<const std::vector<ops::Drawn>*(const SampleId&)>;

class Chain {
 public:
  explicit Chain(Spec spec);

  const Spec& spec() const { return spec_; }
  size_t size() const { return ops_.size(); }
  const ops::Op& op(size_t i) const { return *ops_[i]; }
  // Output samples per image and copy: local_crops' n, else 1.
  int samples_per_image() const;
  bool has_local_crops() const { return fanout_index_ >= 0; }

  // Plans of one image of width x height (oriented). With `replay`, only the recorded samples
  // are planned, from their recorded parameters. `channels` 1: a gray image (ops::SampleFold);
  // decoded files are always RGB. `float_source`: a float image in memory (ops::FoldResult),
  // whose chain ends in `float_dtype` (the caller's precision) unless to_dtype names another.
  std::vector<SamplePlan> plan(RandomKey key, uint64_t index, uint32_t copy, int width, int height,
                               const ReplayLookup* replay = nullptr, int channels = 3,
                               bool float_source = false, DType float_dtype = DType::kFloat32) const;

 private:
  Spec spec_;
  std::vector<std::unique_ptr<ops::Op>> ops_;
  int fanout_index_ = -1;
};

}  // namespace gpuaug::pipeline
