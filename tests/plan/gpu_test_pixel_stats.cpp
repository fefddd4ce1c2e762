// GpuPixelStats against the CPU's integer sums (stats' reference): exact, for odd sizes, many
// images before a take, and after a take (totals start again from zero).
#include <gtest/gtest.h>


#include "core/error.h"
#include "../common/references.h"
#include "jobs/stats.h"
#include "plan/cuda_executor.h"
#include "plan/pixel_stats.h"

#if GPUAUG_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace gpuaug::plan {
namespace {

#if GPUAUG_HAVE_CUDA
TEST(GpuPixelStats, EqualsTheCpuSumsExactly) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  const std::vector<Image> images = {gpuaug_test::make_image(1, 1, 3, 1), gpuaug_test::make_image(333, 97, 3, 2), gpuaug_test::make_image(1024, 768, 3, 3),
                                     gpuaug_test::make_image(5, 4000, 3, 4)};
  std::vector<void*> device(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    ASSERT_EQ(cudaMalloc(&device[i], images[i].pixels.size()), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(device[i], images[i].pixels.data(), images[i].pixels.size(), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  GpuPixelStats gpu(0);
  for (int round = 0; round < 2; ++round) {  // the second round checks take() reset the totals
    jobs::PixelSums cpu, from_gpu;
    for (size_t i = 0; i < images.size(); ++i) {
      cpu.add(images[i]);
      gpu.add(static_cast<const uint8_t*>(device[i]), size_t(images[i].width) * images[i].height);
    }
    from_gpu.add(gpu.take());
    EXPECT_EQ(from_gpu.to_json(), cpu.to_json());
  }
  for (void* p : device) cudaFree(p);
}
#endif

TEST(GpuPixelStats, WithoutAGpuConstructionSaysWhy) {
  if (cuda_device_available()) GTEST_SKIP() << "a GPU is present";
  try {
    GpuPixelStats gpu(0);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.stage(), "device");
  }
}

}  // namespace
}  // namespace gpuaug::plan
