// GpuImageDigest against the CPU (clean's reference): the dHash bits of jobs::dhash and the exact
// channel sums, for the smallest image the GPU takes, odd sizes, and images taller than one grid
// of row blocks.
#include <gtest/gtest.h>

#include "../common/references.h"
#include "core/error.h"
#include "jobs/near_duplicates.h"
#include "plan/cuda_executor.h"
#include "plan/image_digest.h"

#if GPUAUG_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace gpuaug::plan {
namespace {

#if GPUAUG_HAVE_CUDA
TEST(GpuImageDigest, EqualsTheCpuDhashAndSumsExactly) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  std::vector<Image> images = {gpuaug_test::make_image(9, 8, 3, 1),     gpuaug_test::make_image(17, 19, 3, 2),
                               gpuaug_test::make_image(500, 375, 3, 3), gpuaug_test::make_image(375, 500, 3, 4),
                               gpuaug_test::make_image(1021, 33, 3, 5), gpuaug_test::make_image(12, 70001, 3, 6)};
  // A smooth picture too, where neighbouring cells are close and a wrong weight flips bits.
  Image smooth(640, 480, 3);
  for (int y = 0; y < smooth.height; ++y)
    for (int x = 0; x < smooth.width; ++x)
      for (int c = 0; c < 3; ++c) smooth.row(y)[3 * x + c] = uint8_t((x / 3 + y / 5 + 40 * c) % 256);
  images.push_back(smooth);
  std::vector<void*> device(images.size());
  std::vector<DeviceRgbImage> batch;
  for (size_t i = 0; i < images.size(); ++i) {
    ASSERT_EQ(cudaMalloc(&device[i], images[i].pixels.size()), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(device[i], images[i].pixels.data(), images[i].pixels.size(), cudaMemcpyHostToDevice),
              cudaSuccess);
    batch.push_back({static_cast<const uint8_t*>(device[i]), images[i].width, images[i].height});
  }
  GpuImageDigest gpu(0);
  for (int round = 0; round < 2; ++round) {  // the second checks that totals start from zero
    const std::vector<ImageDigest> digests = gpu.digest(batch);
    ASSERT_EQ(digests.size(), images.size());
    for (size_t i = 0; i < images.size(); ++i) {
      const Image& image = images[i];
      EXPECT_EQ(jobs::dhash_from_cells(digests[i].cells), jobs::dhash(image)) << image.width << "x" << image.height;
      std::array<uint64_t, 3> sum{}, sum_sq{};
      for (size_t p = 0; p < image.pixels.size(); ++p) {
        sum[p % 3] += image.pixels[p];
        sum_sq[p % 3] += uint64_t(image.pixels[p]) * image.pixels[p];
      }
      EXPECT_EQ(digests[i].sum, sum) << i;
      EXPECT_EQ(digests[i].sum_sq, sum_sq) << i;
      // Every cell weighs the same: 72 units a pixel in all, whatever the size.
      uint64_t cells = 0;
      for (const auto& row : digests[i].cells)
        for (uint64_t v : row) cells += v;
      uint64_t gray = 0;
      for (int y = 0; y < image.height; ++y)
        for (int x = 0; x < image.width; ++x) {
          const uint8_t* px = image.row(y) + 3 * x;
          gray += (19595u * px[0] + 38470u * px[1] + 7471u * px[2] + 32768u) >> 16;
        }
      EXPECT_EQ(cells, 72 * gray) << i;
    }
  }
  EXPECT_TRUE(gpu.digest({}).empty());
  for (void* p : device) cudaFree(p);
}
#endif

TEST(GpuImageDigest, WithoutAGpuConstructionSaysWhy) {
  if (cuda_device_available()) GTEST_SKIP() << "a GPU is present";
  try {
    GpuImageDigest gpu(0);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.stage(), "device");
  }
}

}  // namespace
}  // namespace gpuaug::plan
