// demo: the main job on the project's own sample images — augmented copies, their record and
// a preview grid under one folder.
#pragma once

#include <string>

namespace gpuaug::jobs {

struct DemoPaths {
  std::string samples;  // folder of sample images
  std::string spec;     // demo.yaml
};

// Installed data first ($GPUAUG_DATA_DIR, the install prefix, beside the executable), then the
// source tree this binary was built from. Throws when none holds the samples.
DemoPaths find_demo_data(const std::string& executable);

// Writes <out>/augmented/..., <out>/params.jsonl and <out>/preview.png; returns a report.
std::string run_demo(const std::string& executable, const std::string& out_dir, int threads);

}  // namespace gpuaug::jobs
