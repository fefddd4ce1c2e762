// Chain: op construction with spec-attributed errors, and per-sample planning.
#include "pipeline/chain.h"

#include <fmt/format.h>

#include "core/error.h"
#include "ops/registry.h"

namespace gpuaug::pipeline {

namespace {

// Colour ops commute with geometry up to rounding and are moved after it; noise, blur,
// erasing, normalize and casts do not, so they must follow every geometric op.
bool may_precede_geometry(const std::string& name) {
  return name == "color_jitter" || name == "grayscale";
}

// Pads and crops (that may reach past the image) one chain may hold: each keeps its own border
// in the plan (ops::Edge), and with a second warp's this keeps every axis within
// ops::kMaxEdges; with the warps' own fills, within ops::kMaxFills.
constexpr int kMaxBorderOps = 4;

// Refuses chains whose borders one plan cannot hold (fold.h): too many; a pad between two
// warps, whose matrices compose into one, leaving the pad no image to surround; a mirrored pad
// between two resamplings (resize, warp), which become one filter from the source, so no
// resampled image exists for it to mirror (a fill there folds, within that approximation).
void check_borders(const Spec& spec, const std::vector<std::unique_ptr<ops::Op>>& ops) {
  using Role = ops::Op::GeometryRole;
  int borders = 0, warps = 0;
  const OpSpec* last_warp = nullptr;
  const OpSpec* last_resampling = nullptr;
  const OpSpec* pad_after_warp = nullptr;            // the first since last_warp
  const OpSpec* mirror_after_resampling = nullptr;  // the first since last_resampling
  for (size_t i = 0; i < ops.size(); ++i) {
    const Role role = ops[i]->geometry_role();
    const OpSpec& op = spec.ops[i];
    const bool pads = role == Role::kPad || role == Role::kMirrorPad;
    if (pads || role == Role::kCrop) {
      if (++borders > kMaxBorderOps)
        throw Error(spec.name, "spec",
                    fmt::format("line {}: {} makes {} pad and crop ops; a chain holds at most {} (each "
                                "keeps its own border rule and fill in the one resampling)",
                                op.line, op.name, borders, kMaxBorderOps));
      if (pads && last_warp != nullptr && pad_after_warp == nullptr) pad_after_warp = &op;
      if (role == Role::kMirrorPad && last_resampling != nullptr && mirror_after_resampling == nullptr)
        mirror_after_resampling = &op;
    }
    if (role != Role::kWarp && role != Role::kResize) continue;
    if (role == Role::kWarp && pad_after_warp != nullptr)
      throw Error(spec.name, "spec",
                  fmt::format("line {}: {} (line {}) pads between {} (line {}) and {} (line {}); two "
                              "warps fold into one matrix, which leaves no image between them for "
                              "the pad to surround; pad before {} or after {}",
                              op.line, pad_after_warp->name, pad_after_warp->line, last_warp->name,
                              last_warp->line, op.name, op.line, last_warp->name, op.name));
    if (mirror_after_resampling != nullptr)
      throw Error(spec.name, "spec",
                  fmt::format("line {}: {} (line {}) mirrors between {} (line {}) and {} (line {}); "
                              "both resample in one step from the source, so no resampled image "
                              "exists between them to mirror; mirror before {} or after {}, or pad "
                              "with a fill",
                              op.line, mirror_after_resampling->name, mirror_after_resampling->line,
                              last_resampling->name, last_resampling->line, op.name, op.line,
                              last_resampling->name, op.name));
    last_resampling = &op;
    if (role != Role::kWarp) continue;
    last_warp = &op;
    if (borders + ++warps > ops::kMaxFills - 1)
      throw Error(spec.name, "spec",
                  fmt::format("line {}: {} makes {} pad, crop and warp ops, each with its own fill; "
                              "a chain holds at most {}",
                              op.line, op.name, borders + warps, ops::kMaxFills - 1));
  }
}

}  // namespace

Chain::Chain(Spec spec) : spec_(std::move(spec)) {
  const OpSpec* blocking = nullptr;
  for (const OpSpec& op_spec : spec_.ops) {
    const ops::OpDescriptor* descriptor = ops::find_op(op_spec.name);
    if (descriptor == nullptr) continue;
    if (!descriptor->geometric && !may_precede_geometry(op_spec.name) && blocking == nullptr)
      blocking = &op_spec;
    if (descriptor->geometric && blocking != nullptr)
      throw Error(spec_.name, "spec",
                  fmt::format("line {}: {} comes after {} (line {}); geometric ops fold into one "
                              "resampling that runs first, so move {} before {}",
                              op_spec.line, op_spec.name, blocking->name, blocking->line,
                              op_spec.name, blocking->name));
  }
  for (size_t i = 0; i < spec_.ops.size(); ++i) {
    const OpSpec& op_spec = spec_.ops[i];
    const ops::OpDescriptor* descriptor = ops::find_op(op_spec.name);
    if (descriptor == nullptr)
      throw Error(spec_.name, "spec", fmt::format("line {}: unknown op '{}'; valid ops: {}",
                                                  op_spec.line, op_spec.name, ops::op_names()));
    try {
      auto op = descriptor->make(ops::OpArgs(*descriptor, op_spec.params, op_spec.line));
      op->bind(descriptor, static_cast<uint16_t>(i));
      if (op->fanout() > 0) {
        if (fanout_index_ >= 0)
          throw Error("", "spec", fmt::format("line {}: only one local_crops per chain", op_spec.line));
        fanout_index_ = static_cast<int>(i);
      }
      ops_.push_back(std::move(op));
    } catch (const Error& e) {
      throw e.with_file(spec_.name);
    }
  }
  check_borders(spec_, ops_);
}

int Chain::samples_per_image() const {
  return fanout_index_ >= 0 ? ops_[fanout_index_]->fanout() : 1;
}

std::vector<SamplePlan> Chain::plan(RandomKey key, uint64_t index, uint32_t copy, int width,
                                    int height, const ReplayLookup* replay, int channels, bool float_source,
                                    DType float_dtype) const {
  const size_t split = fanout_index_ >= 0 ? size_t(fanout_index_) : ops_.size();
  auto run_ops = [&](size_t begin, size_t end, const SampleId& id, ops::SampleFold& fold,
                     std::vector<DrawnOp>& drawn, const std::vector<ops::Drawn>* recorded) {
    for (size_t k = begin; k < end; ++k) {
      const ops::Op& op = *ops_[k];
      ops::Drawn d;
      try {  // a draw's error (a crop larger than the image) names the op's line too
        if (recorded != nullptr) {
          d = (*recorded)[k];
        } else {
          RandomStream rng(key, id.index, id.stream(), static_cast<uint32_t>(k));
          d = op.draw(rng, fold);
        }
        op.fold(d, fold);
      } catch (const Error& e) {
        const OpSpec& op_spec = spec_.ops[k];
        std::string cause = e.cause();
        if (cause.starts_with(op_spec.name + ": ")) cause.erase(0, op_spec.name.size() + 2);  // named once
        throw Error(e.file(), e.stage(), fmt::format("line {}: {}: {}", op_spec.line, op_spec.name, cause));
      }
      drawn.push_back({&op, d});
    }
  };

  std::vector<SamplePlan> plans;
  const int crops = samples_per_image();
  const uint32_t first_crop = fanout_index_ >= 0 ? 1 : 0;
  // Ops before local_crops are drawn once per image (stream without a crop).
  const SampleId shared_id{index, copy, 0};
  const std::vector<ops::Drawn>* shared_recorded = nullptr;
  if (replay != nullptr) {
    for (int j = 0; j < crops && shared_recorded == nullptr; ++j)
      shared_recorded = (*replay)(SampleId{index, copy, first_crop + uint32_t(j)});
    if (shared_recorded == nullptr) return plans;
  }
  ops::SampleFold shared(width, height, channels, float_source);
  if (float_source) shared.set_output_dtype(float_dtype);
  std::vector<DrawnOp> shared_drawn;
  run_ops(0, split, shared_id, shared, shared_drawn, shared_recorded);
  for (int j = 0; j < crops; ++j) {
    const SampleId id{index, copy, first_crop + uint32_t(j)};
    const std::vector<ops::Drawn>* recorded = replay != nullptr ? (*replay)(id) : nullptr;
    if (replay != nullptr && recorded == nullptr) continue;
    ops::SampleFold fold = shared;
    std::vector<DrawnOp> drawn = shared_drawn;
    run_ops(split, ops_.size(), id, fold, drawn, recorded);
    plans.push_back({id, fold.finish(), std::move(drawn)});
    // decode.max_pixels bounds outputs as it bounds inputs: a resize or pad to 65536 a side
    // would otherwise allocate and write gigabytes, or end in a bare bad_alloc.
    const ops::Geometry& g = plans.back().fold.geometry;
    if (uint64_t(g.out_w) * uint64_t(g.out_h) > spec_.decode.max_pixels)
      throw Error("", "plan",
                  fmt::format("the output would be {}x{} = {} pixels, above max_pixels {} (decode.max_pixels in "
                              "the spec bounds outputs too)",
                              g.out_w, g.out_h, uint64_t(g.out_w) * uint64_t(g.out_h), spec_.decode.max_pixels));
  }
  return plans;
}

}  // namespace gpuaug::pipeline
