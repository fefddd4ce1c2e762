// Images already in GPU memory through the chain (pipeline/image_batch.h): the same bytes as
// the CPU run of the same images, for interleaved, planar (CHW), padded and gray inputs, 8-bit
// and float, and chains with every kind of step. Skips without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "../common/references.h"
#include "pipeline/image_batch.h"
#include "pipeline/spec.h"

#if GPUAUG_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace gpuaug::pipeline {
namespace {

#if GPUAUG_HAVE_CUDA
// The rows of one batch as the CPU and as GPU 0 write them (the same images, on the host and in
// device memory); the GPU's empty when its copy back failed.
std::pair<std::vector<std::byte>, std::vector<std::byte>> cpu_and_gpu_rows(
    const ImageBatchPlan& batch, std::span<const plan::StridedImage> cpu_images,
    std::span<const plan::StridedImage> gpu_images, plan::DeviceSlots& slots) {
  std::vector<std::byte> cpu(batch.rows() * batch.sample_bytes());
  ThreadPool pool(2);
  run_images_cpu(cpu_images, batch, pool, cpu.data());
  plan::CudaExecutor executor(0);
  plan::DeviceRgbSources sources(0);
  const std::shared_ptr<void> out = slots.take(cpu.size());
  run_images_gpu(gpu_images, batch, executor, sources, out.get(), cpu.size());
  std::vector<std::byte> gpu(cpu.size());
  if (cudaMemcpy(gpu.data(), out.get(), gpu.size(), cudaMemcpyDeviceToHost) != cudaSuccess) gpu.clear();
  return {cpu, gpu};
}

TEST(ImageBatchGpu, SameBytesAsTheCpu) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const Augmenter augmenter(
      parse_spec("seed: 2\nops:\n"
                 "  - random_resized_crop: {size: [11, 14], scale: [0.2, 1.0]}\n"
                 "  - horizontal_flip: {}\n"
                 "  - color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}\n"
                 "  - gaussian_blur: {kernel_size: 3}\n"
                 "  - to_dtype: {dtype: float32}\n"
                 "  - gaussian_noise: {sigma: 0.05}\n"
                 "  - normalize: {}\n",
                 "chain.yaml"));
  // Host bytes of four images: interleaved 1x1, planar 17x19, interleaved with padded rows
  // 30x21, gray 12x15.
  const Image a = gpuaug_test::make_image(1, 1, 3, 1), b = gpuaug_test::make_image(19, 17, 3, 2),
              c = gpuaug_test::make_image(21, 30, 3, 3), g = gpuaug_test::make_image(15, 12, 1, 4);
  std::vector<uint8_t> planar(b.pixels.size());
  for (int y = 0; y < b.height; ++y)
    for (int x = 0; x < b.width; ++x)
      for (int k = 0; k < 3; ++k)
        planar[(size_t(k) * b.height + y) * b.width + x] = b.row(y)[x * 3 + k];
  const int pitch = c.width * 3 + 5;
  std::vector<uint8_t> padded(size_t(c.height) * pitch, 0xCD);
  for (int y = 0; y < c.height; ++y)
    std::memcpy(padded.data() + size_t(y) * pitch, c.row(y), c.stride());
  const std::vector<std::vector<uint8_t>> host = {{a.pixels.begin(), a.pixels.end()}, planar, padded,
                                                  {g.pixels.begin(), g.pixels.end()}};
  std::vector<plan::StridedImage> on_host = {
      {host[0].data(), 1, 1, 3, 3, 3, 1},
      {host[1].data(), b.height, b.width, 3, b.width, 1, int64_t(b.height) * b.width},
      {host[2].data(), c.height, c.width, 3, pitch, 3, 1},
      {host[3].data(), g.height, g.width, 1, g.width, 1, 0}};
  plan::DeviceSlots slots(0);
  std::vector<std::shared_ptr<void>> blocks;
  std::vector<plan::StridedImage> on_device = on_host;
  for (size_t i = 0; i < host.size(); ++i) {
    blocks.push_back(slots.take(host[i].size()));
    ASSERT_EQ(cudaMemcpy(blocks[i].get(), host[i].data(), host[i].size(), cudaMemcpyHostToDevice),
              cudaSuccess);
    on_device[i].data = static_cast<const uint8_t*>(blocks[i].get());
  }
  for (const Layout layout : {Layout::kCHW, Layout::kHWC}) {
    // The gray image gives one channel, the others three: two batches.
    for (const auto& [begin, end] :
         {std::pair<size_t, size_t>{0, 3}, std::pair<size_t, size_t>{3, 4}}) {
      const std::span<const plan::StridedImage> cpu_images(on_host.data() + begin, end - begin);
      const std::span<const plan::StridedImage> gpu_images(on_device.data() + begin, end - begin);
      const std::vector<uint64_t> indices = {9, 4, 1000000007ull};
      const std::span<const uint64_t> idx(indices.data(), end - begin);
      const ImageBatchPlan batch = plan_images(augmenter, cpu_images, idx, 3, layout);
      const auto [cpu, gpu] = cpu_and_gpu_rows(batch, cpu_images, gpu_images, slots);
      EXPECT_EQ(gpu, cpu) << "images " << begin << ".." << end << " layout " << layout_name(layout);
    }
  }
}

// Float images (packed in place, planar and gray converted on the GPU) give the CPU executor's
// float bytes exactly, as 8-bit ones do (same sums in the same order, no FMA contraction), for
// separable and warped geometry with fills; a float and an 8-bit image in one call run as
// separate launches into their rows; float16 precision is kept.
TEST(ImageBatchGpu, FloatImagesGiveTheCpuFloats) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const auto to_float = [](const Image& u8) {
    std::vector<float> v(u8.pixels.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(u8.pixels[i]) * (1.0f / 255.0f);
    return v;
  };
  const Image a = gpuaug_test::make_image(19, 17, 3, 5), b = gpuaug_test::make_image(23, 14, 3, 6),
              u = gpuaug_test::make_image(20, 16, 3, 7), g = gpuaug_test::make_image(15, 12, 1, 8);
  const std::vector<float> fa = to_float(a), fg = to_float(g), hwc_b = to_float(b);
  std::vector<float> fb(hwc_b.size());  // b planar
  for (int y = 0; y < b.height; ++y)
    for (int x = 0; x < b.width; ++x)
      for (int c = 0; c < 3; ++c)
        fb[(size_t(c) * b.height + y) * b.width + x] = hwc_b[(size_t(y) * b.width + x) * 3 + c];
  const auto bytes = [](const std::vector<float>& v) { return reinterpret_cast<const uint8_t*>(v.data()); };
  const std::vector<plan::StridedImage> on_host = {
      {bytes(fa), a.height, a.width, 3, int64_t(a.width) * 3, 3, 1, true},
      {u.pixels.data(), u.height, u.width, 3, int64_t(u.width) * 3, 3, 1, false},
      {bytes(fb), b.height, b.width, 3, b.width, 1, int64_t(b.height) * b.width, true},
      {bytes(fg), g.height, g.width, 1, g.width, 1, 0, true}};
  const size_t sizes[] = {fa.size() * 4, u.pixels.size(), fb.size() * 4, fg.size() * 4};
  plan::DeviceSlots slots(0);
  std::vector<std::shared_ptr<void>> blocks;
  std::vector<plan::StridedImage> on_device = on_host;
  for (size_t i = 0; i < on_host.size(); ++i) {
    blocks.push_back(slots.take(sizes[i]));
    ASSERT_EQ(cudaMemcpy(blocks[i].get(), on_host[i].data, sizes[i], cudaMemcpyHostToDevice), cudaSuccess);
    on_device[i].data = static_cast<const uint8_t*>(blocks[i].get());
  }
  const char* chains[] = {
      "  - random_resized_crop: {size: [11, 14], scale: [0.2, 1.0]}\n  - horizontal_flip: {}\n"
      "  - color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}\n"
      "  - gaussian_blur: {kernel_size: 3}\n  - to_dtype: {dtype: float32}\n"
      "  - gaussian_noise: {sigma: 0.05}\n  - normalize: {}\n",
      "  - pad: {padding: [2, 3], fill: [255, 10, 0]}\n"
      "  - rotate: {degrees: 25, interpolation: bilinear, fill: [0, 90, 255]}\n"
      "  - resize: {size: [13, 12]}\n  - to_dtype: {dtype: float32}\n",
      "  - pad: {padding: 2, padding_mode: reflect}\n  - resize: {size: [9, 10]}\n"};
  for (const char* chain : chains) {
    const Augmenter augmenter(parse_spec(std::string("seed: 4\nops:\n") + chain, "chain.yaml"));
    const bool ends_float = std::string(chain).find("to_dtype") != std::string::npos;
    // 8-bit image among the float ones only where both give float32; the gray one alone.
    std::vector<std::pair<size_t, size_t>> calls = {{0, 1}, {2, 3}, {3, 4}};
    if (ends_float) calls = {{0, 3}, {3, 4}};
    for (const DType precision : {DType::kFloat32, DType::kFloat16}) {
      if (precision == DType::kFloat16 && ends_float) continue;  // to_dtype names float32
      for (const Layout layout : {Layout::kCHW, Layout::kHWC}) {
        for (const auto& [begin, end] : calls) {
          const std::span<const plan::StridedImage> cpu_images(on_host.data() + begin, end - begin);
          const std::span<const plan::StridedImage> gpu_images(on_device.data() + begin, end - begin);
          const ImageBatchPlan batch = plan_images(augmenter, cpu_images, {}, 2, layout, precision);
          ASSERT_EQ(batch.dtype, precision);
          const auto [cpu, gpu] = cpu_and_gpu_rows(batch, cpu_images, gpu_images, slots);
          ASSERT_EQ(gpu.size(), cpu.size());
          size_t differ = 0;
          for (size_t i = 0; i < cpu.size(); ++i) differ += cpu[i] != gpu[i];
          EXPECT_EQ(differ, 0u) << chain << "images " << begin << ".." << end << " layout " << layout_name(layout)
                                << " " << dtype_name(precision);
        }
      }
    }
  }
}
#endif

TEST(ImageBatchGpu, WithoutAGpuDeviceSourcesSayWhy) {
  if (plan::cuda_device_available()) GTEST_SKIP() << "a GPU is present";
  try {
    plan::DeviceRgbSources sources(0);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.stage(), "device");
  }
}

}  // namespace
}  // namespace gpuaug::pipeline
