// horizontal_flip: mirror left-right with probability p (exact: no resampling of its own).
// Matches torchvision.transforms.v2.RandomHorizontalFlip. Records only `applied`.
#pragma once

#include "ops/op.h"

namespace gpuaug::ops {

const OpDescriptor& horizontal_flip_descriptor();

// A flip along one axis with probability p; vertical_flip shares it.
class RandomFlip final : public Op {
 public:
  RandomFlip(const OpArgs& args, bool horizontal)
      : p_(args.number("p", 0.0, 1.0)), horizontal_(horizontal) {}
  Drawn draw(RandomStream& rng, const SampleFold&) const override {
    Drawn d;
    d.applied = rng.bernoulli(p_);
    return d;
  }
  void fold(const Drawn& d, SampleFold& fold) const override {
    if (!d.applied) return;
    horizontal_ ? fold.flip_horizontal() : fold.flip_vertical();
  }

 private:
  double p_;
  bool horizontal_;
};

}  // namespace gpuaug::ops
