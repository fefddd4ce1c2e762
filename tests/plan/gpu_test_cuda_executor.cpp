// CPU vs GPU: every op and chains over sizes, batch sizes, dtypes and layouts give the same
// samples (uint8 bit-identical, float within 1e-5 absolute as the GPU issue requires; the
// shared per-pixel code is expected to make them bit-identical, and max differences are
// printed). Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "../common/references.h"

#include "core/error.h"
#include "core/half.h"
#include "pipeline/chain.h"
#include "plan/cuda_executor.h"
#include "plan/plan.h"

#if GPUAUG_HAVE_CUDA
#include <cuda_runtime.h>
#endif

using namespace gpuaug;

namespace {

Image random_image(int w, int h, uint32_t seed) {
  Image image(w, h, 3);
  std::mt19937 rng(seed);
  // Smooth gradients plus noise: resampling sees both edges and ramps.
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        image.row(y)[x * 3 + c] = uint8_t((x * 7 + y * 3 + c * 50 + int(rng() % 40)) % 256);
  return image;
}

struct Case {
  const char* name;
  const char* ops;
  const char* layout;
};

const Case kCases[] = {
    {"identity", "[]", "HWC"},
    {"resize_bilinear", "[{resize: {size: [13, 29]}}]", "CHW"},
    {"resize_bicubic", "[{resize: {size: 11, interpolation: bicubic}}]", "HWC"},
    {"resize_nearest", "[{resize: {size: [40, 9], interpolation: nearest}}]", "HWC"},
    {"resize_up_noaa", "[{resize: {size: [70, 90], antialias: false}}]", "HWC"},
    {"center_crop_pad", "[{center_crop: {size: [50, 25]}}]", "CHW"},
    {"random_crop_reflect", "[{random_crop: {size: 12, padding: [3, 5], pad_if_needed: true, padding_mode: reflect}}]", "HWC"},
    {"random_crop_edge", "[{random_crop: {size: [30, 30], pad_if_needed: true, padding_mode: edge}}]", "HWC"},
    {"pad_symmetric", "[{pad: {padding: [2, 3, 4, 1], padding_mode: symmetric}}]", "CHW"},
    {"pad_fill", "[{pad: {padding: 4, fill: [10, 20, 30]}}]", "HWC"},
    {"rrc_flip", "[{random_resized_crop: {size: 16}}, {horizontal_flip: {p: 0.5}}, {vertical_flip: {p: 0.5}}]", "CHW"},
    {"rotate_nearest_expand", "[{rotate: {degrees: 40, expand: true, fill: 7}}]", "HWC"},
    {"rotate_bilinear", "[{rotate: {degrees: [-30, 30], interpolation: bilinear}}]", "CHW"},
    {"affine", "[{random_affine: {degrees: 20, translate: [0.1, 0.2], scale: [0.7, 1.3], shear: [-10, 10, -5, 5], interpolation: bilinear}}]", "HWC"},
    {"rrc_then_rotate", "[{random_resized_crop: {size: 12}}, {rotate: {degrees: 25, interpolation: bicubic}}]", "HWC"},
    {"jitter", "[{color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}}]", "CHW"},
    {"gray1", "[{grayscale: {num_output_channels: 1}}, {color_jitter: {contrast: 0.5}}]", "CHW"},
    {"gray_random", "[{grayscale: {p: 0.5}}]", "HWC"},
    {"blur", "[{gaussian_blur: {kernel_size: [5, 3], sigma: [0.1, 2.0]}}]", "HWC"},
    {"jitter_blur_jitter", "[{color_jitter: {contrast: 0.5}}, {gaussian_blur: {kernel_size: 7}}, {color_jitter: {contrast: 0.3, brightness: 0.2}}]", "CHW"},
    {"erase", "[{random_erasing: {p: 1.0}}]", "HWC"},
    {"erase_random", "[{to_dtype: {dtype: float32}}, {random_erasing: {p: 1.0, value: random}}]", "CHW"},
    {"noise", "[{gaussian_noise: {sigma: 0.2}}]", "CHW"},
    {"pca_lighting", "[{pca_lighting: {alphastd: 0.5}}, {to_dtype: {dtype: float16}}]", "CHW"},
    {"rn50_f16", "[{random_resized_crop: {size: 16}}, {horizontal_flip: {}}, {to_dtype: {dtype: float16}}, {normalize: {}}]", "CHW"},
    {"rn50_bf16", "[{random_resized_crop: {size: 16}}, {to_dtype: {dtype: bfloat16}}, {normalize: {}}]", "HWC"},
    {"full_chain_f32", "[{random_resized_crop: {size: 20}}, {horizontal_flip: {}}, {color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}}, {grayscale: {p: 0.2}}, {gaussian_blur: {kernel_size: 5}}, {to_dtype: {dtype: float32}}, {gaussian_noise: {}}, {normalize: {}}, {random_erasing: {}}]", "CHW"},
    {"back_to_uint8", "[{to_dtype: {dtype: float32}}, {gaussian_noise: {sigma: 0.05}}, {to_dtype: {dtype: uint8}}]", "HWC"},
    {"local_crops", "[{local_crops: {n: 3, size: 8}}, {horizontal_flip: {}}]", "CHW"},
    // Appended, so that the indices CpuVsGpuLarge takes stay put.
    {"resize_bicubic_noaa", "[{random_crop: {size: [15, 13], pad_if_needed: true}}, {resize: {size: [23, 31], interpolation: bicubic, antialias: false}}]", "CHW"},
    {"resize_pad_reflect_fill", "[{resize: {size: [11, 9]}}, {pad: {padding: [3, 5, 2, 1], padding_mode: reflect}}, {pad: {padding: 2, fill: [9, 99, 199]}}]", "HWC"},
    {"pad_fill_rotate_fill", "[{pad: {padding: 4, fill: 50}}, {rotate: {degrees: 60, interpolation: bilinear, fill: [200, 100, 0]}}]", "CHW"},
    {"pad_reflect_pad_fill_crop", "[{pad: {padding: 2, padding_mode: reflect}}, {pad: {padding: 1, fill: 9}}, {center_crop: {size: [30, 27]}}]", "HWC"},
    {"rotate_pad_mirror", "[{rotate: {degrees: 25, fill: 60}}, {pad: {padding: [4, 2, 1, 3], padding_mode: symmetric}}, {pad: {padding: 1, padding_mode: edge}}]", "CHW"},
};

float element(const Tensor& t, size_t i) { return gpuaug_test::tensor_element(t, i); }

class CpuVsGpu : public ::testing::TestWithParam<std::tuple<Case, std::pair<int, int>, int>> {};

TEST_P(CpuVsGpu, SameSamples) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const auto& [test_case, size, batch] = GetParam();
  const std::string text = std::string("seed: 3\nops: ") + test_case.ops + "\noutput: {layout: " + test_case.layout + "}\n";
  const pipeline::Chain chain(pipeline::parse_spec(text, test_case.name));
  const Layout layout = chain.spec().output.layout;

  std::vector<Image> sources;
  for (int b = 0; b < batch; ++b) sources.push_back(random_image(size.first + b % 3, size.second + b % 2, uint32_t(b)));
  std::vector<pipeline::SamplePlan> plans;
  std::vector<int> plan_source;
  const RandomKey key = RandomKey::from(3, 1);
  for (int b = 0; b < batch; ++b)
    for (auto& p : chain.plan(key, uint64_t(b), 0, sources[b].width, sources[b].height)) {
      plans.push_back(std::move(p));
      plan_source.push_back(b);
    }
  std::vector<plan::SampleJob> jobs;
  for (size_t i = 0; i < plans.size(); ++i)
    jobs.push_back({&plans[i].fold, &sources[plan_source[i]], -1, {key, plans[i].id}});

  plan::CudaExecutor gpu(0);
  const std::vector<Tensor> got = gpu.run_to_host(jobs, layout);
  ASSERT_EQ(got.size(), plans.size());
  double max_diff = 0.0;
  size_t differing = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const Tensor want = plan::execute_cpu(plans[i].fold, sources[plan_source[i]], {key, plans[i].id}, layout);
    ASSERT_EQ(got[i].dtype, want.dtype);
    ASSERT_EQ(got[i].elements(), want.elements());
    for (size_t e = 0; e < want.elements(); ++e) {
      const double d = std::abs(double(element(got[i], e)) - double(element(want, e)));
      max_diff = std::max(max_diff, d);
      differing += d > 0;
    }
    if (want.dtype == DType::kUInt8) {
      EXPECT_EQ(std::memcmp(got[i].data.data(), want.data.data(), want.data.size()), 0)
          << test_case.name << " sample " << i << " differs";
    }
  }
  const double tolerance = plans[0].fold.dtype == DType::kUInt8 ? 0.0 : 1e-5;
  EXPECT_LE(max_diff, tolerance) << test_case.name << ": " << differing << " elements differ";
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  std::printf("[ %s %dx%d batch %d ] max |gpu - cpu| = %g over %zu elements differing\n", test_case.name,
              size.first, size.second, batch, max_diff, differing);
}

INSTANTIATE_TEST_SUITE_P(
    Ops, CpuVsGpu,
    ::testing::Combine(::testing::ValuesIn(kCases),
                       ::testing::Values(std::pair{1, 1}, std::pair{17, 19}, std::pair{64, 48}),
                       ::testing::Values(1, 7)),
    [](const auto& info) {
      const auto& size = std::get<1>(info.param);
      return std::string(std::get<0>(info.param).name) + "_" + std::to_string(size.first) + "x" +
             std::to_string(size.second) + "_b" + std::to_string(std::get<2>(info.param));
    });

// The big-image and big-batch rows of the table: 4000x3000 sources and 256 samples a batch.
class CpuVsGpuLarge : public ::testing::TestWithParam<Case> {};

TEST_P(CpuVsGpuLarge, BigSourceAndBatch256) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const Case& test_case = GetParam();
  const std::string text = std::string("seed: 5\nops: ") + test_case.ops + "\noutput: {layout: " + test_case.layout + "}\n";
  const pipeline::Chain chain(pipeline::parse_spec(text, test_case.name));
  const Layout layout = chain.spec().output.layout;
  const Image big = random_image(4000, 3000, 9);
  const Image small = random_image(37, 23, 10);
  std::vector<pipeline::SamplePlan> plans;
  std::vector<const Image*> srcs;
  const RandomKey key = RandomKey::from(5, 0);
  for (int b = 0; b < 256; ++b) {
    const Image* src = b % 64 == 0 ? &big : &small;
    for (auto& p : chain.plan(key, uint64_t(b), 0, src->width, src->height)) {
      plans.push_back(std::move(p));
      srcs.push_back(src);
    }
  }
  std::vector<plan::SampleJob> jobs;
  for (size_t i = 0; i < plans.size(); ++i) jobs.push_back({&plans[i].fold, srcs[i], -1, {key, plans[i].id}});
  plan::CudaExecutor gpu(0);
  const std::vector<Tensor> got = gpu.run_to_host(jobs, layout);
  double max_diff = 0.0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const Tensor want = plan::execute_cpu(plans[i].fold, *srcs[i], {key, plans[i].id}, layout);
    for (size_t e = 0; e < want.elements(); ++e)
      max_diff = std::max(max_diff, std::abs(double(element(got[i], e)) - double(element(want, e))));
  }
  EXPECT_LE(max_diff, plans[0].fold.dtype == DType::kUInt8 ? 0.0 : 1e-5) << test_case.name;
  std::printf("[ %s 4000x3000 + 37x23, batch 256 ] max |gpu - cpu| = %g\n", test_case.name, max_diff);
}

INSTANTIATE_TEST_SUITE_P(Chains, CpuVsGpuLarge,
                         ::testing::Values(kCases[10], kCases[13], kCases[23], kCases[25]),
                         [](const auto& info) { return std::string(info.param.name); });

// The plans of 7,000 indexes of `source` under a chain of local crops, and their jobs: more
// samples than one launch takes.
struct ManySamples {
  std::vector<pipeline::SamplePlan> plans;
  std::vector<plan::SampleJob> jobs;
};
ManySamples many_samples(const pipeline::Chain& chain, const Image& source, const RandomKey& key) {
  ManySamples many;
  for (uint64_t index = 0; index < 7000; ++index)
    for (auto& p : chain.plan(key, index, 0, source.width, source.height)) many.plans.push_back(std::move(p));
  for (const auto& p : many.plans) many.jobs.push_back({&p.fold, &source, -1, {key, p.id}});
  return many;
}

// More samples than a launch's gridDim.y takes (65,535), and more pixel ops than 16 bits count
// (2 a sample: 140,000): the executor launches in parts, and every sample, its contrast mean and
// blur rounds included, equals the CPU's. (Before, samples past op 65,535 read other samples'
// ops: 37,142 of 70,000 differed on an H100.)
TEST(CudaExecutor, BatchesBeyondOneLaunchEqualTheCpu) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const pipeline::Chain chain(pipeline::parse_spec(
      "seed: 4\nops: [{local_crops: {n: 10, size: 4}}, {color_jitter: {contrast: 0.5}}, "
      "{gaussian_blur: {kernel_size: 3}}]\noutput: {layout: HWC}\n", "many"));
  const Image source = random_image(9, 7, 11);
  const RandomKey key = RandomKey::from(4, 0);
  const ManySamples many = many_samples(chain, source, key);
  const auto& [plans, jobs] = many;
  ASSERT_GT(plans.size(), 65535u);
  std::vector<Tensor> want;
  for (const auto& p : plans) want.push_back(plan::execute_cpu(p.fold, source, {key, p.id}, Layout::kHWC));
  const auto differs = [](const Tensor& a, const Tensor& b) {
    return a.data.size() != b.data.size() || std::memcmp(a.data.data(), b.data.data(), a.data.size()) != 0;
  };
  plan::CudaExecutor gpu(0);
  // The first 1000 samples alone (one launch, few ops), then the whole batch.
  const std::vector<Tensor> small = gpu.run_to_host(std::span(jobs).first(1000), Layout::kHWC);
  size_t small_differing = 0;
  for (size_t i = 0; i < small.size(); ++i) small_differing += differs(small[i], want[i]);
  EXPECT_EQ(small_differing, 0u) << "of the first 1000 samples, run alone";
  const std::vector<Tensor> got = gpu.run_to_host(jobs, Layout::kHWC);
  ASSERT_EQ(got.size(), plans.size());
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < plans.size(); ++i)
    if (differs(got[i], want[i]) && differing++ == 0) first = i;
  EXPECT_EQ(differing, 0u) << "of " << plans.size() << " samples, the first " << first;
}

// The resample kernels of whole 8-bit separable sources (tiles, strips, one pixel a thread),
// each forced by GPUAUG_RESAMPLE_KERNEL and the automatic choice, at benchmark sizes: many
// tiles a sample, partial ones at the right and bottom, flips, shrinks past the register taps
// and past the tiles' shared rows (which then compute pixel by pixel), enlargements, pads (taps
// outside the image), and a barrier's work buffer. Every kernel must give the CPU's samples,
// bit for bit in every dtype; the executor's report says the tiles' fast path and the level
// tables did run where they should.
// Samples whose program is a level table (per-channel, position-free steps only).
enum class Tabled { kNone, kAll, kSome };
struct KernelCase {
  const char* name;
  const char* ops;
  const char* layout;
  Tabled tabled;
  bool pads;  // some tiles have taps outside the image, so go pixel by pixel
};
const KernelCase kKernelCases[] = {
    {"rn50_f16", "[{random_resized_crop: {size: 224}}, {horizontal_flip: {}}, {to_dtype: {dtype: float16}}, {normalize: {}}]", "CHW", Tabled::kAll, false},
    {"rrc_partial_tiles_vflip", "[{random_resized_crop: {size: [37, 100]}}, {vertical_flip: {}}, {horizontal_flip: {}}]", "HWC", Tabled::kAll, false},
    {"resize_shrink_bicubic", "[{resize: {size: [61, 45], interpolation: bicubic}}]", "CHW", Tabled::kAll, false},
    {"resize_enlarge", "[{resize: {size: [700, 530]}}]", "HWC", Tabled::kAll, false},
    {"resize_noaa", "[{resize: {size: [150, 120], antialias: false}}]", "HWC", Tabled::kAll, false},
    {"center_crop_pad", "[{center_crop: {size: [420, 560]}}]", "HWC", Tabled::kAll, true},
    {"rrc_contrast_f32", "[{random_resized_crop: {size: 96, scale: [0.5, 1.0]}}, {color_jitter: {contrast: 0.5}}, {to_dtype: {dtype: float32}}]", "CHW", Tabled::kNone, false},
    // Level tables in every output dtype and layout, and programs that cannot be one (noise:
    // where the pixel is; saturation and hue: the channels mix).
    {"brightness_normalize_bf16", "[{random_resized_crop: {size: 64}}, {color_jitter: {brightness: 0.5}}, {to_dtype: {dtype: bfloat16}}, {normalize: {mean: [0.5, 0.4, 0.3], std: [0.2, 0.3, 0.1]}}]", "HWC", Tabled::kAll, false},
    {"float_round_trip_u8", "[{resize: {size: 80}}, {to_dtype: {dtype: float32}}, {to_dtype: {dtype: uint8}}]", "CHW", Tabled::kAll, false},
    {"resize_normalize_f32", "[{resize: {size: [90, 70]}}, {to_dtype: {dtype: float32}}, {normalize: {}}]", "HWC", Tabled::kAll, false},
    {"rrc_f32", "[{random_resized_crop: {size: 40}}, {to_dtype: {dtype: float32}}]", "CHW", Tabled::kAll, false},
    {"rrc_noise_f32", "[{random_resized_crop: {size: 72}}, {to_dtype: {dtype: float32}}, {gaussian_noise: {sigma: 0.1}}]", "CHW", Tabled::kNone, false},
    {"rrc_saturation_hue", "[{random_resized_crop: {size: 50}}, {color_jitter: {saturation: 0.5, hue: 0.1}}]", "HWC", Tabled::kNone, false},
    // A batch of tabled samples and others (2 of the 6 turn gray, which mixes the channels).
    {"rrc_gray_some_f16", "[{random_resized_crop: {size: 96}}, {grayscale: {p: 0.5}}, {to_dtype: {dtype: float16}}, {normalize: {}}]", "CHW", Tabled::kSome, false},
    // Tabled tiles' column sums, by the rows' most taps: past the unrolled sums' 8 (bicubic
    // shrinks of 2.3x, 10 taps: the loop), and an enlargement's 4; 4, 6, 7 and 8 taps; 1 tap
    // (nearest); and rows that fit the shared sums but not with the unrolled sums' padding
    // (a bilinear shrink of 2.76x: the loop again).
    {"resize_shrink_bicubic_mid", "[{resize: {size: [160, 213], interpolation: bicubic}}, {to_dtype: {dtype: float32}}]", "HWC", Tabled::kAll, false},
    {"resize_bicubic_taps_4_to_8", "[{resize: {size: [250, 300], interpolation: bicubic}}]", "CHW", Tabled::kAll, false},
    {"resize_nearest_f16", "[{resize: {size: [200, 150], interpolation: nearest}}, {to_dtype: {dtype: float16}}]", "CHW", Tabled::kAll, false},
    {"resize_shrink_2_76", "[{resize: {size: [136, 181]}}]", "HWC", Tabled::kAll, false},
};

// Runs `jobs` on a new executor with GPUAUG_RESAMPLE_KERNEL set to `kernel` ("" unset), which
// the executor reads when it is made; its report of the run goes to `report`.
std::vector<Tensor> run_with_kernel(const char* kernel, std::span<const plan::SampleJob> jobs, Layout layout,
                                    plan::CudaExecutor::ResampleReport& report) {
  if (*kernel != 0) setenv("GPUAUG_RESAMPLE_KERNEL", kernel, 1);
  else unsetenv("GPUAUG_RESAMPLE_KERNEL");
  try {
    plan::CudaExecutor gpu(0);
    std::vector<Tensor> got = gpu.run_to_host(jobs, layout);
    report = gpu.last_resample();
    unsetenv("GPUAUG_RESAMPLE_KERNEL");
    return got;
  } catch (...) {
    unsetenv("GPUAUG_RESAMPLE_KERNEL");
    throw;
  }
}

class ResampleKernels : public ::testing::TestWithParam<std::tuple<KernelCase, const char*>> {};

TEST_P(ResampleKernels, EqualTheCpu) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const auto& [test_case, kernel] = GetParam();
  const std::string text = std::string("seed: 8\nops: ") + test_case.ops + "\noutput: {layout: " + test_case.layout + "}\n";
  const pipeline::Chain chain(pipeline::parse_spec(text, test_case.name));
  const Layout layout = chain.spec().output.layout;
  const std::pair<int, int> sizes[] = {{500, 375}, {375, 500}, {130, 97}, {1300, 980}, {64, 400}, {500, 375}};
  std::vector<Image> sources;
  for (size_t b = 0; b < std::size(sizes); ++b)
    sources.push_back(random_image(sizes[b].first, sizes[b].second, uint32_t(20 + b)));
  std::vector<pipeline::SamplePlan> plans;
  std::vector<int> plan_source;
  const RandomKey key = RandomKey::from(8, 2);
  for (size_t b = 0; b < sources.size(); ++b)
    for (auto& p : chain.plan(key, b, 0, sources[b].width, sources[b].height)) {
      plans.push_back(std::move(p));
      plan_source.push_back(int(b));
    }
  std::vector<plan::SampleJob> jobs;
  for (size_t i = 0; i < plans.size(); ++i)
    jobs.push_back({&plans[i].fold, &sources[plan_source[i]], -1, {key, plans[i].id}});
  plan::CudaExecutor::ResampleReport report;
  const std::vector<Tensor> got = run_with_kernel(kernel, jobs, layout, report);
  ASSERT_EQ(got.size(), plans.size());
  double max_diff = 0.0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const Tensor want = plan::execute_cpu(plans[i].fold, sources[plan_source[i]], {key, plans[i].id}, layout);
    ASSERT_EQ(got[i].dtype, want.dtype);
    ASSERT_EQ(got[i].data.size(), want.data.size());
    for (size_t e = 0; e < want.elements(); ++e)
      max_diff = std::max(max_diff, std::abs(double(element(got[i], e)) - double(element(want, e))));
    EXPECT_EQ(std::memcmp(got[i].data.data(), want.data.data(), want.data.size()), 0)
        << test_case.name << " sample " << i << " differs in its bits (" << sizes[plan_source[i]].first << "x"
        << sizes[plan_source[i]].second << ", max |gpu - cpu| so far " << max_diff << ")";
  }
  // Which kernel ran, and whether the tiles' fast path and the level tables did their part.
  if (*kernel != 0) {
    EXPECT_EQ(report.kernel, kernel);
  } else {
    EXPECT_TRUE(report.kernel == "tiles" || report.kernel == "strips") << report.kernel;
  }
  if (report.kernel == "tiles") {
    if (test_case.tabled == Tabled::kSome) {
      EXPECT_GT(report.tabled_samples, 0u) << test_case.name;
      EXPECT_LT(report.tabled_samples, plans.size()) << test_case.name;
    } else {
      EXPECT_EQ(report.tabled_samples, test_case.tabled == Tabled::kAll ? plans.size() : 0u) << test_case.name;
    }
    // Samples with the same program share a table: the normalize of every sample, and none of
    // the random brightnesses.
    EXPECT_LE(report.level_tables, report.tabled_samples) << test_case.name;
    if (std::string(test_case.name) == "rn50_f16") {
      EXPECT_EQ(report.level_tables, 1u);
    }
    if (std::string(test_case.name) == "brightness_normalize_bf16") {
      EXPECT_EQ(report.level_tables, report.tabled_samples);
    }
    EXPECT_GT(report.tiles, report.tiles_pixel_by_pixel) << test_case.name << ": no tile took the fast path";
    if (test_case.pads) {
      EXPECT_GT(report.tiles_pixel_by_pixel, 0u) << test_case.name;
    }
  }
  std::printf("[ %s, kernel %s ] %s: %zu tiles, %zu pixel by pixel, %zu samples tabled (%zu tables); "
              "max |gpu - cpu| = %g\n",
              test_case.name, *kernel ? kernel : "auto", report.kernel.c_str(), report.tiles,
              report.tiles_pixel_by_pixel, report.tabled_samples, report.level_tables, max_diff);
}

INSTANTIATE_TEST_SUITE_P(Kernels, ResampleKernels,
                         ::testing::Combine(::testing::ValuesIn(kKernelCases),
                                            ::testing::Values("", "tiles", "strips", "pixels")),
                         [](const auto& info) {
                           const char* kernel = std::get<1>(info.param);
                           return std::string(std::get<0>(info.param).name) + "_" + (*kernel ? kernel : "auto");
                         });

// Level tables past one launch's 65,535 samples: 70,000 local crops run as two launches of the
// table and tiles kernels, each sample with its own table.
TEST(CudaExecutor, TabledBatchesBeyondOneLaunchEqualTheCpu) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const pipeline::Chain chain(pipeline::parse_spec(
      "seed: 6\nops: [{local_crops: {n: 10, size: 4}}, {color_jitter: {brightness: 0.5}}, {to_dtype: {dtype: float16}}, "
      "{normalize: {}}]\noutput: {layout: CHW}\n", "many tabled"));
  const Image source = random_image(9, 7, 12);
  const RandomKey key = RandomKey::from(6, 0);
  const ManySamples many = many_samples(chain, source, key);
  const auto& [plans, jobs] = many;
  ASSERT_GT(plans.size(), 65535u);
  plan::CudaExecutor::ResampleReport report;
  const std::vector<Tensor> got = run_with_kernel("", jobs, Layout::kCHW, report);
  ASSERT_EQ(got.size(), plans.size());
  EXPECT_EQ(report.kernel, "tiles");
  EXPECT_EQ(report.tabled_samples, plans.size());
  // Each crop draws its own brightness (two neighbours may draw the same float, and share).
  EXPECT_LE(report.level_tables, plans.size());
  EXPECT_GE(report.level_tables, plans.size() - plans.size() / 100);
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const Tensor want = plan::execute_cpu(plans[i].fold, source, {key, plans[i].id}, Layout::kCHW);
    if (std::memcmp(got[i].data.data(), want.data.data(), want.data.size()) != 0 && differing++ == 0) first = i;
  }
  EXPECT_EQ(differing, 0u) << "of " << plans.size() << " samples, the first " << first;
}

#if GPUAUG_HAVE_CUDA
// A batch's samples copied back from the device, cut by its offsets.
std::vector<std::vector<uint8_t>> download(const plan::DeviceBatch& batch) {
  std::vector<uint8_t> all(batch.bytes);
  if (cudaMemcpy(all.data(), batch.data, batch.bytes, cudaMemcpyDeviceToHost) != cudaSuccess) return {};
  std::vector<std::vector<uint8_t>> samples;
  for (size_t i = 0; i < batch.offsets.size(); ++i) {
    const auto& shape = batch.shapes[i];
    const size_t bytes = size_t(shape[0]) * shape[1] * shape[2] * dtype_size(batch.dtype);
    samples.emplace_back(all.begin() + ptrdiff_t(batch.offsets[i]), all.begin() + ptrdiff_t(batch.offsets[i] + bytes));
  }
  return samples;
}

// Two batches in flight (submit, submit, wait): the second is packed and queued while the first
// runs, in the other set of the executor's buffers. Each equals the CPU; the host images, plans
// and jobs may go once submit returns (they are overwritten or freed before the wait here). A
// submit after the wait reuses the latest batch's set, and the first's output is still there.
// The first batch is long on the GPU (large sources: the strips kernel), so that the second is
// packed while it runs; the second has a contrast and blur (work buffers, means, blur weights),
// whose set the third (tiles, level tables) then reuses.
TEST(CudaExecutor, TwoBatchesInFlightEqualTheCpu) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  const pipeline::Chain tabled(pipeline::parse_spec(
      "seed: 3\nops: [{random_resized_crop: {size: 224}}, {horizontal_flip: {}}, {to_dtype: {dtype: float16}}, "
      "{normalize: {}}]\noutput: {layout: CHW}\n", "rn50"));
  const pipeline::Chain barriers(pipeline::parse_spec(
      "seed: 5\nops: [{random_resized_crop: {size: [48, 40]}}, {color_jitter: {contrast: 0.5}}, "
      "{gaussian_blur: {kernel_size: 5}}]\noutput: {layout: HWC}\n", "contrast blur"));
  const RandomKey key = RandomKey::from(3, 0);
  struct Batch {
    std::vector<Image> sources;
    std::vector<pipeline::SamplePlan> plans;
    std::vector<plan::SampleJob> jobs;
    std::vector<Tensor> want;
  };
  const auto make = [&](const pipeline::Chain& chain, size_t count, int width, int height, uint32_t seed) {
    Batch b;
    for (size_t i = 0; i < count; ++i)
      b.sources.push_back(random_image(width - int(i % 3) * 60, height, seed + uint32_t(i)));
    for (size_t i = 0; i < count; ++i)
      for (auto& p : chain.plan(key, i, 0, b.sources[i].width, b.sources[i].height)) b.plans.push_back(std::move(p));
    for (const auto& p : b.plans) {
      const Image& source = b.sources[p.id.index];
      b.jobs.push_back({&p.fold, &source, -1, {key, p.id}});
      b.want.push_back(plan::execute_cpu(p.fold, source, {key, p.id}, chain.spec().output.layout));
    }
    return b;
  };
  // What a batch's samples must be is in `want`; its images, plans and jobs are overwritten or
  // freed (as if gone) once it is submitted.
  const auto forget = [](Batch& b) {
    for (Image& image : b.sources) std::fill(image.pixels.begin(), image.pixels.end(), uint8_t(0));
    b.jobs.clear();
    b.plans.clear();
  };
  const auto differing = [](const std::vector<std::vector<uint8_t>>& got, const std::vector<Tensor>& want) {
    size_t count = got.size() == want.size() ? 0 : want.size();
    for (size_t i = 0; i < got.size() && i < want.size(); ++i)
      count += got[i].size() != want[i].data.size() || std::memcmp(got[i].data(), want[i].data.data(), got[i].size()) != 0;
    return count;
  };
  Batch first = make(tabled, 24, 1600, 1200, 100), second = make(barriers, 23, 500, 375, 200),
        third = make(tabled, 17, 500, 375, 300);
  plan::CudaExecutor gpu(0);
  const plan::DeviceBatch& first_out = gpu.submit(first.jobs, Layout::kCHW);
  forget(first);
  const plan::DeviceBatch& second_out = gpu.submit(second.jobs, Layout::kHWC);
  forget(second);
  EXPECT_NE(&first_out, &second_out) << "two batches in flight share a set";
  gpu.wait();
  EXPECT_EQ(differing(download(first_out), first.want), 0u) << "first batch";
  EXPECT_EQ(differing(download(second_out), second.want), 0u) << "second batch";
  EXPECT_EQ(gpu.last_resample().tabled_samples, 0u) << "the latest batch waited for is the second";
  const double after_two = gpu.total_kernel_ms();
  EXPECT_GT(after_two, 0.0);
  const plan::DeviceBatch& third_out = gpu.submit(third.jobs, Layout::kCHW);
  forget(third);
  EXPECT_EQ(&third_out, &second_out) << "after a wait, a submit reuses the latest batch's set";
  gpu.wait();
  EXPECT_EQ(differing(download(third_out), third.want), 0u) << "third batch";
  EXPECT_EQ(differing(download(first_out), first.want), 0u) << "first batch, after the third";
  EXPECT_EQ(gpu.last_resample().kernel, "tiles");
  EXPECT_EQ(gpu.last_resample().tabled_samples, third.want.size());
  EXPECT_EQ(gpu.last_resample().level_tables, 1u) << "one normalize for every sample";
  EXPECT_GT(gpu.total_kernel_ms(), after_two);
}
#endif

TEST(CudaExecutor, UnknownResampleKernelIsAnError) {
  if (!plan::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU visible";
  setenv("GPUAUG_RESAMPLE_KERNEL", "fastest", 1);
  try {
    plan::CudaExecutor executor(0);
    unsetenv("GPUAUG_RESAMPLE_KERNEL");
    FAIL() << "GPUAUG_RESAMPLE_KERNEL=fastest accepted";
  } catch (const Error& e) {
    unsetenv("GPUAUG_RESAMPLE_KERNEL");
    EXPECT_NE(std::string(e.what()).find("tiles, strips or pixels"), std::string::npos) << e.what();
  }
}

TEST(CudaExecutor, MissingDeviceIsAnError) {
  if (!plan::cuda_device_available()) {
    EXPECT_THROW(plan::CudaExecutor(0), Error);
    return;
  }
  try {
    plan::CudaExecutor executor(999);
    FAIL() << "cuda:999 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.stage(), "device");
    EXPECT_NE(std::string(e.what()).find("cuda:999"), std::string::npos) << e.what();
  }
}

}  // namespace
