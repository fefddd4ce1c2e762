// Tiles on the GPU: every tile of an output, run by the CUDA executor from only its source
// region (a strided host view, uploaded alone), equals the same pixels of the GPU's whole-image
// run bit for bit, and the CPU's tile (uint8 equal, float within 1e-5 as the GPU executor's
// tests allow). Several tiles go in one batch, as `gpuaug tile --device cuda` sends them.
// Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../common/references.h"
#include "../common/tile_cases.h"
#include "core/half.h"
#include "pipeline/chain.h"
#include "pipeline/spec.h"
#include "plan/cuda_executor.h"
#include "plan/plan.h"

namespace gpuaug::pipeline {
namespace {

using gpuaug_test::copy_region;
using gpuaug_test::expect_window_equal;
using gpuaug_test::make_image;
using gpuaug_test::RegionCopy;
using gpuaug_test::TileCase;

float element(const Tensor& t, size_t i) { return gpuaug_test::tensor_element(t, i); }

class GpuTiling : public ::testing::TestWithParam<TileCase> {};

TEST_P(GpuTiling, TilesEqualTheWholeRunAndTheCpu) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  plan::CudaExecutor executor(0);
  const Spec spec = parse_spec(std::string("seed: 11\nops:\n") + GetParam().ops, "tile.yaml");
  const Chain chain(spec);
  for (const auto& [w, h] : {std::pair{97, 61}, std::pair{33, 101}}) {
    const Image src = make_image(w, h);
    for (uint64_t index = 0; index < 3; ++index) {
      const RandomKey key = RandomKey::from(spec.seed, 0);
      const std::vector<SamplePlan> plans = chain.plan(key, index, 0, w, h);
      const ops::FoldResult& fold = plans.at(0).fold;
      const plan::PixelStreamId stream{key, plans[0].id};
      for (const Layout layout : {Layout::kHWC, Layout::kCHW}) {
        plan::SampleJob whole_job{&fold, &src, -1, stream};
        const Tensor whole = executor.run_to_host({&whole_job, 1}, layout).at(0);
        const int W = fold.geometry.out_w, H = fold.geometry.out_h;
        for (const auto& [tw, th] : {std::pair{7, 5}, std::pair{16, 16}, std::pair{W, 9}, std::pair{29, H}}) {
          std::vector<codec::Rect> windows;
          for (int y = 0; y < H; y += th)
            for (int x = 0; x < W; x += tw) windows.push_back({x, y, std::min(tw, W - x), std::min(th, H - y)});
          std::vector<RegionCopy> parts;
          parts.reserve(windows.size());
          std::vector<plan::SampleJob> jobs;
          for (const codec::Rect& window : windows) {
            parts.push_back(copy_region(src, plan::source_region(fold, w, h, window)));
            plan::SampleJob job{&fold, nullptr, -1, stream};
            job.source_view = parts.back().view;
            job.window = window;
            jobs.push_back(job);
          }
          const std::vector<Tensor> tiles = executor.run_to_host(jobs, layout);
          const std::string what = std::string(GetParam().name) + " " + std::to_string(w) + "x" + std::to_string(h) +
                                   " index " + std::to_string(index) + " tile " + std::to_string(tw) + "x" +
                                   std::to_string(th);
          for (size_t k = 0; k < windows.size(); ++k) {
            expect_window_equal(whole, tiles[k], windows[k], what + " (GPU whole)");
            const Tensor cpu = plan::execute_cpu_window(fold, parts[k].view, stream, layout, windows[k]);
            ASSERT_EQ(cpu.data.size(), tiles[k].data.size());
            for (size_t i = 0; i < cpu.elements(); ++i) {
              const float a = element(cpu, i), b = element(tiles[k], i);
              if (cpu.dtype == DType::kUInt8 ? a != b : !(std::fabs(a - b) <= 1e-5f)) {
                ADD_FAILURE() << what << ": GPU tile differs from the CPU tile at element " << i << ": " << b
                              << " vs " << a;
                return;
              }
            }
            if (HasFailure()) return;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Chains, GpuTiling, ::testing::ValuesIn(gpuaug_test::kTileCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(GpuTiling, ContrastInATileIsRefused) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  plan::CudaExecutor executor(0);
  const Spec spec = parse_spec("seed: 1\nops:\n  - color_jitter: {contrast: 0.5}\n", "c.yaml");
  const Image src = make_image(20, 10);
  const auto plans = Chain(spec).plan(RandomKey::from(1, 0), 0, 0, 20, 10);
  plan::SampleJob job{&plans.at(0).fold, &src, -1, {}};
  job.window = {0, 0, 10, 10};
  EXPECT_THROW(executor.run_to_host({&job, 1}, Layout::kHWC), Error);
}

}  // namespace
}  // namespace gpuaug::pipeline
