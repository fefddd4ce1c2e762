// demo: locating the bundled samples and running augment + preview on them.
#include "jobs/demo.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "jobs/augment.h"
#include "jobs/preview.h"

namespace gpuaug::jobs {

namespace fs = std::filesystem;

DemoPaths find_demo_data(const std::string& executable) {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("GPUAUG_DATA_DIR")) candidates.emplace_back(env);
  candidates.emplace_back(GPUAUG_INSTALL_DATADIR);
  std::error_code ec;
  const fs::path exe = fs::weakly_canonical(fs::path(executable), ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "gpuaug");
  candidates.push_back(fs::path(GPUAUG_SOURCE_DIR) / "data");
  for (const fs::path& dir : candidates)
    if (fs::is_directory(dir / "samples", ec) && fs::is_regular_file(dir / "demo.yaml", ec))
      return {(dir / "samples").string(), (dir / "demo.yaml").string()};
  throw Error("", "demo", "sample images not found; set GPUAUG_DATA_DIR to a folder holding "
                          "samples/ and demo.yaml, or reinstall with `bash scripts/setup.sh`");
}

std::string run_demo(const std::string& executable, const std::string& out_dir, int threads) {
  const DemoPaths data = find_demo_data(executable);
  AugmentOptions augment;
  augment.spec_path = data.spec;
  augment.input = data.samples;
  augment.output = (fs::path(out_dir) / "augmented").string();
  augment.copies = 4;
  augment.threads = threads;
  augment.record_path = (fs::path(out_dir) / "params.jsonl").string();
  const AugmentSummary summary = run_augment(augment);

  PreviewOptions preview;
  preview.spec_path = data.spec;
  preview.input = data.samples;
  preview.output = (fs::path(out_dir) / "preview.png").string();
  preview.n = 16;
  preview.threads = threads;
  const int pairs = run_preview(preview);

  return fmt::format(
      "gpuaug demo: {} images from {} with {}\n"
      "  {} augmented samples: {}\n"
      "  drawn parameters:    {}\n"
      "  preview ({} pairs):   {}\n"
      "  took {:.2f} s\n",
      summary.images, data.samples, data.spec, summary.written, augment.output,
      augment.record_path, pairs, preview.output, summary.seconds);
}

}  // namespace gpuaug::jobs
