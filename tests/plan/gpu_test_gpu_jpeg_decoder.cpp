// GpuJpegDecoder against decode_jpeg (libjpeg-turbo, the CPU path's decoder): the same RGB bytes,
// for every sampling it takes, qualities 5-100, optimized tables, 1x1 to 1600x1200 and gray, over
// more than one group of the decoder's passes; damaged scans declined wherever libjpeg fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "../codec/codec_fixtures.h"
#include "../codec/coefficient_fixtures.h"
#include "../common/references.h"
#include "codec/jpeg_decoder.h"
#include "core/error.h"
#include "plan/cuda_executor.h"
#include "plan/gpu_jpeg_decoder.h"

#if GPUAUG_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace gpuaug::plan {
namespace {

#if GPUAUG_HAVE_CUDA
struct Laid {
  std::vector<uint8_t> buffer;
  codec::JpegScan scan;
};

std::optional<Laid> lay_out(const std::vector<uint8_t>& file) {
  codec::JpegPlaneReader reader(file, codec::kDefaultMaxPixels);
  if (!reader.finishable()) return std::nullopt;
  Laid laid;
  laid.buffer.resize(reader.entropy_bytes_bound());
  const std::optional<codec::JpegScan> scan = reader.read_entropy(laid.buffer.data());
  if (!scan) return std::nullopt;
  laid.scan = *scan;
  return laid;
}

// Whether the decoded pixels on the device are the image's bytes.
bool same_pixels(const codec::GpuDecoded& d, const Image& want) {
  std::vector<uint8_t> got(size_t(d.width) * size_t(d.height) * 3);
  EXPECT_EQ(cudaMemcpy(got.data(), d.device_rgb, got.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  return std::equal(got.begin(), got.end(), want.pixels.begin(), want.pixels.end());
}

TEST(GpuJpegDecoder, GivesLibjpegsPixels) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  ASSERT_TRUE(GpuJpegDecoder::exact());
  std::vector<std::vector<uint8_t>> files = codec_test::exact_decoder_jpegs();
  // Past one group of the decoder's passes (256 scans): small ones fill the rest.
  for (int k = 0; files.size() < 300; ++k)
    files.push_back(codec_test::write_jpeg(gpuaug_test::make_image(9 + k % 13, 7 + k % 11, 3, uint32_t(500 + k)), {}));
  std::vector<Laid> laid;
  std::vector<JpegScanInput> inputs;
  for (const auto& f : files) {
    auto l = lay_out(f);
    ASSERT_TRUE(l) << "an encoder's baseline file the decoder does not take";
    laid.push_back(std::move(*l));
  }
  for (const Laid& l : laid) inputs.push_back({l.buffer, l.scan});
  GpuJpegDecoder decoder(0);
  for (int round = 0; round < 2; ++round) {  // the second reuses the grown buffers
    const auto decoded = decoder.decode(inputs);
    ASSERT_EQ(decoded.size(), files.size());
    for (size_t k = 0; k < files.size(); ++k) {
      ASSERT_TRUE(decoded[k]) << "declined file " << k;
      const Image want = codec::decode_jpeg(files[k], 1, {}, codec::kDefaultMaxPixels).image;
      ASSERT_EQ(decoded[k]->width, want.width) << k;
      ASSERT_EQ(decoded[k]->height, want.height) << k;
      EXPECT_EQ(decoded[k]->origin_x, 0);
      EXPECT_TRUE(same_pixels(*decoded[k], want)) << "file " << k << " differs from libjpeg's pixels";
    }
  }
}

TEST(GpuJpegDecoder, DeclinesDamagedScansWhereLibjpegFails) {
  if (!cuda_device_available()) GTEST_SKIP() << "no GPU";
  const auto good = codec_test::write_jpeg(gpuaug_test::make_image(160, 120, 3, 3), {});
  std::vector<std::vector<uint8_t>> files;
  std::vector<Laid> laid;
  for (int trial = 0; files.size() < 120; ++trial) {
    std::vector<uint8_t> bytes = codec_test::damaged_scan(good, uint64_t(trial) + 17, trial);
    auto l = lay_out(bytes);
    if (!l) continue;  // read_entropy already declined it (a marker made or lost)
    files.push_back(std::move(bytes));
    laid.push_back(std::move(*l));
  }
  std::vector<JpegScanInput> inputs;
  for (const Laid& l : laid) inputs.push_back({l.buffer, l.scan});
  GpuJpegDecoder decoder(0);
  const auto decoded = decoder.decode(inputs);
  size_t declined = 0, libjpeg_failed = 0;
  for (size_t k = 0; k < files.size(); ++k) {
    std::optional<Image> want;
    try {
      want = codec::decode_jpeg(files[k], 1, {}, codec::kDefaultMaxPixels).image;
    } catch (const Error&) {
      ++libjpeg_failed;
    }
    if (!decoded[k]) {
      ++declined;
      continue;
    }
    ASSERT_TRUE(want) << "accepted file " << k << ", which libjpeg rejects";
    EXPECT_TRUE(same_pixels(*decoded[k], *want)) << "file " << k;
  }
  EXPECT_GT(libjpeg_failed, 10u);
  EXPECT_EQ(declined, libjpeg_failed) << "declined a file libjpeg decodes";
}
#endif

TEST(GpuJpegDecoder, WithoutAGpuConstructionSaysWhy) {
  if (cuda_device_available()) GTEST_SKIP() << "a GPU is present";
  try {
    GpuJpegDecoder decoder(0);
    FAIL() << "constructed without a GPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.stage(), "device");
  }
}

}  // namespace
}  // namespace gpuaug::plan
