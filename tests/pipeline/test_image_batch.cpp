// Images in memory through the chain (pipeline/image_batch.h): the same bytes as Augmenter::run
// on the PNG of the same pixels (index, seed, epoch) in both layouts, for interleaved, planar
// and padded inputs; gray images stay one channel; local_crops rows; errors name the cause.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../common/references.h"
#include "codec/encoder.h"
#include "pipeline/image_batch.h"
#include "pipeline/spec.h"

namespace gpuaug::pipeline {
namespace {

using gpuaug_test::expect_error;
using gpuaug_test::flip_image;
using gpuaug_test::make_image;

constexpr const char* kChain =
    "seed: 11\nops:\n"
    "  - random_resized_crop: {size: [9, 13], scale: [0.2, 1.0]}\n"
    "  - horizontal_flip: {}\n"
    "  - color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}\n"
    "  - to_dtype: {dtype: float32}\n"
    "  - gaussian_noise: {sigma: 0.05}\n"
    "  - normalize: {}\n";

plan::StridedImage interleaved(const Image& image) {
  return {image.pixels.data(),
          image.height,
          image.width,
          image.channels,
          int64_t(image.stride()),
          image.channels,
          1};
}

std::vector<std::byte> run_cpu(const Augmenter& augmenter,
                               const std::vector<plan::StridedImage>& images,
                               const std::vector<uint64_t>& indices, uint64_t epoch, Layout layout,
                               ImageBatchPlan* plan_out = nullptr) {
  const ImageBatchPlan batch = plan_images(augmenter, images, indices, epoch, layout);
  std::vector<std::byte> out(batch.rows() * batch.sample_bytes());
  ThreadPool pool(2);
  run_images_cpu(images, batch, pool, out.data());
  if (plan_out != nullptr) *plan_out = batch;
  return out;
}

TEST(ImageBatch, SameBytesAsTheAugmenterOnThePngOfThePixels) {
  const Augmenter augmenter(parse_spec(kChain, "chain.yaml"));
  const std::vector<Image> images = {make_image(1, 1, 3, 1), make_image(19, 17, 3, 2),
                                     make_image(40, 30, 3, 3)};
  const std::vector<uint64_t> indices = {7, 0, 123456789012ull};
  for (const Layout layout : {Layout::kCHW, Layout::kHWC}) {
    std::vector<plan::StridedImage> views;
    for (const Image& im : images) views.push_back(interleaved(im));
    ImageBatchPlan batch;
    const std::vector<std::byte> out = run_cpu(augmenter, views, indices, 5, layout, &batch);
    ASSERT_EQ(batch.rows(), images.size());
    EXPECT_EQ(batch.dtype, DType::kFloat32);
    EXPECT_EQ(batch.channels, 3);
    EXPECT_EQ(batch.height, 9);
    EXPECT_EQ(batch.width, 13);
    Spec spec = parse_spec(kChain, "chain.yaml");
    spec.output.layout = layout;
    const Augmenter reference(spec);
    for (size_t i = 0; i < images.size(); ++i) {
      const std::vector<AugmentedSample> ref =
          reference.run(codec::encode_png(images[i]), "x.png", indices[i], 0, 5);
      ASSERT_EQ(ref.size(), 1u);
      ASSERT_EQ(ref[0].tensor.data.size(), batch.sample_bytes());
      EXPECT_EQ(std::memcmp(out.data() + i * batch.sample_bytes(), ref[0].tensor.data.data(),
                            batch.sample_bytes()),
                0)
          << "image " << i << " layout " << layout_name(layout);
    }
  }
}

TEST(ImageBatch, PlanarAndPaddedInputsGiveTheInterleavedBytes) {
  const Augmenter augmenter(parse_spec(kChain, "chain.yaml"));
  const Image image = make_image(23, 18, 3, 4);
  const int h = image.height, w = image.width;
  std::vector<uint8_t> planar(image.pixels.size());
  std::vector<uint8_t> padded(size_t(h) * (w * 3 + 7), 0xAB);  // sentinel bytes past each row
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        planar[(size_t(c) * h + y) * w + x] = image.row(y)[x * 3 + c];
        padded[size_t(y) * (w * 3 + 7) + x * 3 + c] = image.row(y)[x * 3 + c];
      }
  const std::vector<std::byte> expected =
      run_cpu(augmenter, {interleaved(image)}, {3}, 1, Layout::kCHW);
  EXPECT_EQ(
      run_cpu(augmenter, {{planar.data(), h, w, 3, w, 1, int64_t(h) * w}}, {3}, 1, Layout::kCHW),
      expected);
  EXPECT_EQ(run_cpu(augmenter, {{padded.data(), h, w, 3, w * 3 + 7, 3, 1}}, {3}, 1, Layout::kCHW),
            expected);
}

TEST(ImageBatch, GrayImagesStayOneChannel) {
  const Image gray = make_image(15, 12, 1, 5);
  const plan::StridedImage one{gray.pixels.data(), gray.height, gray.width, 1, gray.width, 1, 0};
  // A flip: the mirrored gray values, one channel (numpy-style oracle: flip_image).
  const Augmenter flip(parse_spec("ops:\n  - horizontal_flip: {p: 1}\n", "flip.yaml"));
  ImageBatchPlan batch;
  const std::vector<std::byte> out = run_cpu(flip, {one}, {}, 0, Layout::kHWC, &batch);
  EXPECT_EQ(batch.channels, 1);
  const Image mirrored = flip_image(gray, true, false);
  ASSERT_EQ(out.size(), mirrored.pixels.size());
  EXPECT_EQ(std::memcmp(out.data(), mirrored.pixels.data(), out.size()), 0);
  // Saturation and hue leave a gray image as it is (torchvision on 1-channel tensors); 3
  // output channels repeat the gray.
  const Augmenter colour(
      parse_spec("ops:\n  - color_jitter: {saturation: 0.9, hue: 0.4}\n  - grayscale: "
                 "{num_output_channels: 3}\n",
                 "c.yaml"));
  const std::vector<std::byte> three = run_cpu(colour, {one}, {}, 0, Layout::kHWC, &batch);
  EXPECT_EQ(batch.channels, 3);
  for (size_t i = 0; i < gray.pixels.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(uint8_t(three[i * 3 + c]), gray.pixels[i]) << i;
}

TEST(ImageBatch, LocalCropsGiveRowsPerImage) {
  const Augmenter augmenter(parse_spec("ops:\n  - local_crops: {n: 3, size: 8}\n", "lc.yaml"));
  const Image a = make_image(30, 20), b = make_image(25, 26);
  ImageBatchPlan batch;
  run_cpu(augmenter, {interleaved(a), interleaved(b)}, {}, 0, Layout::kCHW, &batch);
  EXPECT_EQ(batch.rows(), 6u);
  EXPECT_EQ(batch.image, (std::vector<size_t>{0, 0, 0, 1, 1, 1}));
}

TEST(ImageBatch, ErrorsNameTheCause) {
  const Augmenter resize(parse_spec("ops:\n  - resize: {size: 8}\n", "r.yaml"));
  const Image a = make_image(30, 20), b = make_image(20, 20);
  std::vector<uint8_t> two(20 * 20 * 2);
  const auto plan = [&](std::vector<plan::StridedImage> images,
                        std::vector<uint64_t> indices = {}) {
    return plan_images(resize, images, indices, 0, Layout::kCHW);
  };
  Error e = expect_error([&] { plan({interleaved(a), interleaved(b)}); });
  EXPECT_EQ(e.stage(), "functional");
  EXPECT_EQ(e.file(), "");
  EXPECT_NE(e.cause().find("image 0 gives 3x8x12 uint8, image 1 gives 3x8x8 uint8"),
            std::string::npos)
      << e.what();
  e = expect_error([&] { plan({{two.data(), 20, 20, 2, 40, 2, 1}}); });
  EXPECT_NE(e.cause().find("image 0 has 2 channels; gpuaug takes 1 (gray) or 3 (RGB)"),
            std::string::npos)
      << e.what();
  e = expect_error([&] { plan({{a.pixels.data(), 0, 5, 3, 15, 3, 1}}); });
  EXPECT_NE(e.cause().find("image 0 is 0x5"), std::string::npos) << e.what();
  e = expect_error([&] { plan({interleaved(a)}, {1, 2}); });
  EXPECT_NE(e.cause().find("2 indices for 1 images"), std::string::npos) << e.what();
}

// Float images (CPU): the uint8 image's draws, resampled without rounding to a level, so that
// 255 x the float output is within half a level of the uint8 output of the same pixels, for
// separable and warped geometry with fills and mirrored pads (read through SourceView's
// float_pixels, also under ASan in CI); planar float input gives the interleaved bytes.
TEST(ImageBatch, FloatImagesAreTheUint8RunBeforeItsRounding) {
  for (const char* ops :
       {"  - random_resized_crop: {size: [9, 13], scale: [0.2, 1.0]}\n  - horizontal_flip: {}\n",
        "  - pad: {padding: [2, 3], fill: [255, 10, 0]}\n  - rotate: {degrees: 25, interpolation: "
        "bilinear, fill: [0, 90, 255]}\n",
        "  - pad: {padding: 2, padding_mode: reflect}\n  - resize: {size: [11, 41]}\n"}) {
    const Augmenter augmenter(parse_spec(std::string("seed: 3\nops:\n") + ops, "chain.yaml"));
    const Image u8 = make_image(23, 17, 3, 5);
    std::vector<float> hwc(u8.pixels.size()), chw(u8.pixels.size());
    for (int y = 0; y < u8.height; ++y)
      for (int x = 0; x < u8.width; ++x)
        for (int c = 0; c < 3; ++c) {
          const float v = float(u8.row(y)[x * 3 + c]) * (1.0f / 255.0f);
          hwc[(size_t(y) * u8.width + x) * 3 + c] = v;
          chw[(size_t(c) * u8.height + y) * u8.width + x] = v;
        }
    const auto* f = reinterpret_cast<const uint8_t*>(hwc.data());
    const auto* p = reinterpret_cast<const uint8_t*>(chw.data());
    plan::StridedImage fi{f, u8.height, u8.width, 3, int64_t(u8.width) * 3, 3, 1, true};
    plan::StridedImage fp{p,   u8.height, u8.width, 3, u8.width, 1, int64_t(u8.height) * u8.width,
                          true};
    ImageBatchPlan plan;
    const std::vector<std::byte> ints = run_cpu(augmenter, {interleaved(u8)}, {4}, 1, Layout::kHWC);
    const std::vector<std::byte> floats = run_cpu(augmenter, {fi}, {4}, 1, Layout::kHWC, &plan);
    EXPECT_EQ(run_cpu(augmenter, {fp}, {4}, 1, Layout::kHWC), floats);
    ASSERT_EQ(plan.dtype, DType::kFloat32);
    ASSERT_EQ(floats.size(), ints.size() * sizeof(float));
    double largest = 0;
    bool kept = false;  // some value lies between two levels
    for (size_t i = 0; i < ints.size(); ++i) {
      float v = 0;
      std::memcpy(&v, floats.data() + i * sizeof(float), sizeof v);
      const double diff = std::abs(double(v) * 255.0 - double(uint8_t(ints[i])));
      largest = std::max(largest, diff);
      kept = kept || diff > 0.1;
    }
    EXPECT_LE(largest, 0.5 + 2e-3) << ops;
    EXPECT_TRUE(kept) << ops;
  }
}

}  // namespace
}  // namespace gpuaug::pipeline
