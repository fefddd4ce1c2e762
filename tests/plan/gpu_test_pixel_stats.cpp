// GpuPixelStats against the CPU's integer sums (stats' reference): exact, for odd sizes, many
// images before a take, and after a take (totals start again from zero); measure()'s totals of
// each image; PinnedSlots' budget.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "../codec/codec_fixtures.h"
#include "../codec/coefficient_fixtures.h"
#include "../common/references.h"
#include "codec/jpeg_decoder.h"
#include "core/error.h"
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

// measure(): each image's own totals, from pinned slots, in batches of 1, 7 and the most, with
// odd sizes (offsets in the staging buffer that are not multiples of 3 x 256 bytes).
TEST(GpuPixelStats, MeasureGivesEachImageItsOwnExactTotals) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  PinnedSlots slots(0, GpuPixelStats::kMaxMeasured, size_t(512) << 20);
  GpuPixelStats gpu(0);
  for (size_t batch : {size_t(1), size_t(7), GpuPixelStats::kMaxMeasured}) {
    std::vector<Image> images;
    std::vector<size_t> held;
    std::vector<HostPixels> hosts;
    for (size_t k = 0; k < batch; ++k) {
      const int width = k == 0 ? 1 : int(17 + 37 * k % 301), height = k == 0 ? 1 : int(19 + 53 * k % 211);
      images.push_back(gpuaug_test::make_image(width, height, 3, uint32_t(100 * batch + k)));
      const std::optional<size_t> slot = slots.try_acquire(images.back().pixels.size());
      ASSERT_TRUE(slot.has_value()) << "image " << k;
      std::memcpy(slots.data(*slot), images.back().pixels.data(), images.back().pixels.size());
      held.push_back(*slot);
      hosts.push_back({slots.data(*slot), size_t(width) * size_t(height)});
    }
    const std::vector<PixelTotals> totals = gpu.measure(hosts);
    ASSERT_EQ(totals.size(), batch);
    for (size_t k = 0; k < batch; ++k) {
      jobs::PixelSums cpu, from_gpu;
      cpu.add(images[k]);
      from_gpu.add(totals[k]);
      EXPECT_EQ(from_gpu.to_json(), cpu.to_json()) << "batch " << batch << ", image " << k;
    }
    for (size_t slot : held) slots.release(slot);
  }
  std::vector<HostPixels> too_many(GpuPixelStats::kMaxMeasured + 1);
  EXPECT_THROW(gpu.measure(too_many), Error);
}

// JPEGs given as planes (JpegPlaneReader::read), finished on the GPU (codec::jpeg_planes_rgb),
// or as quantized DCT coefficients (read_coefficients), which the GPU first turns into those
// planes (codec::idct_block, libjpeg-turbo's IDCT): either way the totals of libjpeg-turbo's RGB
// decode exactly, at 4:4:4, 4:2:2, 4:2:0 and gray, odd sizes and chroma 1-3 samples wide,
// quality 5 to 100 (quant tables from 1 to 255: the largest coefficients), baseline and
// progressive, worst-case blocks (codec::idct_probe_jpeg), beside an interleaved RGB image in the
// same batch; all planes, all coefficients, and the two mixed.
TEST(GpuPixelStats, MeasureFinishesJpegPlanesAndCoefficientsExactly) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  std::vector<std::vector<uint8_t>> files;
  const int sizes[][2] = {{1, 1}, {3, 5}, {5, 3}, {17, 33}, {501, 377}};
  const int samplings[][2] = {{1, 1}, {2, 1}, {2, 2}};
  const int qualities[] = {5, 50, 90, 100};
  uint32_t seed = 1;
  for (const auto& size : sizes)
    for (const auto& sampling : samplings) {
      codec_test::JpegSpec spec;
      spec.luma_h = sampling[0], spec.luma_v = sampling[1];
      spec.progressive = seed % 2 == 0;
      spec.quality = qualities[seed % 4];
      files.push_back(codec_test::write_jpeg(gpuaug_test::make_image(size[0], size[1], 3, ++seed), spec));
    }
  codec_test::JpegSpec gray;
  gray.in_space = JCS_GRAYSCALE;
  gray.quality = 100;
  files.push_back(codec_test::write_jpeg(gpuaug_test::make_image(37, 29, 1, 99), gray));
  // Worst-case blocks (a DC past 16 bits once dequantized, every AC at Huffman's limit), on which
  // libjpeg-turbo's SIMD and C IDCTs differ: the GPU follows the SIMD code, as libjpeg here.
  ASSERT_TRUE(codec::libjpeg_idct_is_ported());
  files.emplace_back(codec::idct_probe_jpeg().begin(), codec::idct_probe_jpeg().end());
  std::vector<jobs::PixelSums> want(files.size() + 1);
  for (size_t k = 0; k < files.size(); ++k) want[k].add(codec::decode_jpeg(files[k], 1, {}, codec::kDefaultMaxPixels).image);
  const Image rgb = gpuaug_test::make_image(19, 7, 3, 5);
  want.back().add(rgb);
  GpuPixelStats gpu(0);  // one for every mode: later batches reuse the grown buffers
  for (const char* mode : {"planes", "coefficients", "mixed"}) {
    PinnedSlots slots(0, files.size() + 1, size_t(64) << 20);
    std::vector<HostPixels> hosts;
    for (size_t k = 0; k < files.size(); ++k) {
      codec::JpegPlaneReader reader(files[k], codec::kDefaultMaxPixels);
      ASSERT_TRUE(reader.finishable()) << k;
      const size_t pixels = size_t(reader.layout().width) * size_t(reader.layout().height);
      const bool as_coefficients = mode[0] == 'c' || (mode[0] == 'm' && k % 2 == 0);
      const auto slot = slots.try_acquire(as_coefficients ? reader.coefficient_layout().bytes : reader.layout().bytes);
      ASSERT_TRUE(slot);
      if (as_coefficients) {
        ASSERT_TRUE(reader.read_coefficients(slots.data(*slot))) << k;
        hosts.push_back({slots.data(*slot), pixels, {}, reader.coefficient_layout()});
      } else {
        reader.read(slots.data(*slot));
        hosts.push_back({slots.data(*slot), pixels, reader.layout()});
      }
    }
    const auto slot = slots.try_acquire(rgb.pixels.size());
    ASSERT_TRUE(slot);
    std::memcpy(slots.data(*slot), rgb.pixels.data(), rgb.pixels.size());
    hosts.push_back({slots.data(*slot), size_t(19 * 7)});
    const std::vector<PixelTotals> totals = gpu.measure(hosts);
    for (size_t k = 0; k < hosts.size(); ++k) {
      jobs::PixelSums got;
      got.add(totals[k]);
      EXPECT_EQ(got.to_json(), want[k].to_json()) << mode << ", image " << k;
    }
  }
}

// JPEGs given as their scans (JpegPlaneReader::read_entropy): the GPU's Huffman decoder, IDCT and
// finish give libjpeg's RGB totals exactly for codec_test::exact_decoder_jpegs (every sampling,
// qualities 5 to 100, 1x1 to 1600x1200, gray, the IDCT's worst-case blocks), in one batch with
// coefficients and RGB.
// Damaged scans (bits flipped, bytes cut): declined wherever libjpeg fails, else libjpeg's totals.
TEST(GpuPixelStats, MeasureDecodesJpegScansExactly) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  ASSERT_TRUE(codec::libjpeg_idct_is_ported());
  std::vector<std::vector<uint8_t>> files = codec_test::exact_decoder_jpegs();
  const size_t intact = files.size();
  // Damage inside the scan of a 4:2:0 image (EOI kept).
  const auto good = codec_test::write_jpeg(gpuaug_test::make_image(160, 120, 3, 3), {});
  for (int trial = 0; files.size() < 62; ++trial) files.push_back(codec_test::damaged_scan(good, uint64_t(trial) + 5, trial));
  std::vector<std::optional<jobs::PixelSums>> want(files.size());
  size_t libjpeg_fails = 0;
  for (size_t k = 0; k < files.size(); ++k) try {
      jobs::PixelSums sums;
      sums.add(codec::decode_jpeg(files[k], 1, {}, codec::kDefaultMaxPixels).image);
      want[k] = sums;
    } catch (const Error&) {
      ++libjpeg_fails;
    }
  ASSERT_GT(libjpeg_fails, 0u);
  PinnedSlots slots(0, files.size() + 2, size_t(512) << 20);
  std::vector<HostPixels> hosts;
  std::vector<size_t> file_of;
  for (size_t k = 0; k < files.size(); ++k) {
    codec::JpegPlaneReader reader(files[k], codec::kDefaultMaxPixels);
    const size_t pixels = size_t(reader.layout().width) * size_t(reader.layout().height);
    const auto slot = slots.try_acquire(reader.entropy_bytes_bound());
    ASSERT_TRUE(slot);
    const std::optional<codec::JpegScan> scan = reader.read_entropy(slots.data(*slot));
    if (!scan) {
      EXPECT_GE(k, intact) << "an intact file the GPU's Huffman decoder does not take";
      continue;
    }
    HostPixels host{slots.data(*slot), pixels};
    host.scan = *scan;
    hosts.push_back(host);
    file_of.push_back(k);
  }
  // A JPEG as coefficients and an RGB image in the same batch.
  {
    codec::JpegPlaneReader reader(files[2], codec::kDefaultMaxPixels);
    const auto slot = slots.try_acquire(reader.coefficient_layout().bytes);
    ASSERT_TRUE(slot && reader.read_coefficients(slots.data(*slot)));
    hosts.push_back({slots.data(*slot), size_t(reader.layout().width) * size_t(reader.layout().height), {},
                     reader.coefficient_layout()});
    file_of.push_back(2);
  }
  const Image rgb = gpuaug_test::make_image(19, 7, 3, 5);
  const auto slot = slots.try_acquire(rgb.pixels.size());
  ASSERT_TRUE(slot);
  std::memcpy(slots.data(*slot), rgb.pixels.data(), rgb.pixels.size());
  hosts.push_back({slots.data(*slot), size_t(19 * 7)});
  ASSERT_LE(hosts.size(), GpuPixelStats::kMaxMeasured);
  GpuPixelStats gpu(0);
  for (int round = 0; round < 2; ++round) {  // the second reuses the grown buffers
    const std::vector<PixelTotals> totals = gpu.measure(hosts);
    size_t declined = 0;
    for (size_t h = 0; h + 1 < hosts.size(); ++h) {
      const size_t k = file_of[h];
      if (totals[h].declined) {
        ++declined;
        EXPECT_GE(k, intact) << "declined an intact file, " << k;
        continue;
      }
      ASSERT_TRUE(want[k].has_value()) << "accepted a file libjpeg rejects, " << k;
      jobs::PixelSums got;
      got.add(totals[h]);
      EXPECT_EQ(got.to_json(), want[k]->to_json()) << "file " << k;
    }
    EXPECT_GT(declined, 0u);
    jobs::PixelSums got, want_rgb;
    got.add(totals.back());
    want_rgb.add(rgb);
    EXPECT_EQ(got.to_json(), want_rgb.to_json());
  }
}

// PinnedSlots never waits: none free or past the budget is nullopt (the caller sums on the CPU),
// and a released slot is given again without growing.
TEST(PinnedSlots, GiveNoneWhenAllAreTakenOrTheBudgetIsSpent) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  PinnedSlots slots(0, 3, size_t(5) << 20);
  const auto a = slots.try_acquire(size_t(2) << 20), b = slots.try_acquire(1000);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_FALSE(slots.try_acquire(size_t(3) << 20)) << "2 MiB + 256 KiB (the least a slot grows by) + 3 MiB is past the 5 MiB budget";
  const auto c = slots.try_acquire(size_t(2) << 20);
  ASSERT_TRUE(c);
  EXPECT_FALSE(slots.try_acquire(1)) << "all three are taken";
  slots.data(*a)[(size_t(2) << 20) - 1] = 7;  // the whole size is there
  slots.release(*a);
  const auto again = slots.try_acquire(size_t(1) << 20);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *a);
}
#endif

TEST(PinnedSlots, WithoutCudaThereIsNeverASlot) {
#if GPUAUG_HAVE_CUDA
  GTEST_SKIP() << "built with CUDA";
#else
  PinnedSlots slots(0, 4, size_t(64) << 20);
  EXPECT_FALSE(slots.try_acquire(100));
#endif
}

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
