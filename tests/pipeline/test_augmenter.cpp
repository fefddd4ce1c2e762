// Augmenter::run on PNG and JPEG bytes made here: output shape, dtype, layout and values for
// uint8 HWC/CHW, float32, float16 and bfloat16, one-channel outputs, determinism, and errors
// that name the file and the stage.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../common/references.h"
#include "codec/decoder.h"
#include "codec/encoder.h"
#include "core/thread_pool.h"
#include "pipeline/augmenter.h"
#include "plan/cuda_executor.h"
#include "plan/gpu_jpeg_decoder.h"
#include "plan/plan.h"

namespace gpuaug::pipeline {
namespace {

using gpuaug_test::expect_error;
using gpuaug_test::make_image;

std::vector<AugmentedSample> run_spec(const std::string& spec_text, const std::vector<uint8_t>& bytes,
                                      uint64_t index = 0, uint32_t copy = 0) {
  const Augmenter augmenter(parse_spec(spec_text, "test.yaml"));
  return augmenter.run(bytes, "in/memory.png", index, copy, 0);
}

template <typename T>
T element(const Tensor& t, int y, int x, int c) {
  T v;
  std::memcpy(&v, t.data.data() + t.offset(y, x, c) * sizeof(T), sizeof(T));
  return v;
}

void expect_shape(const Tensor& t, DType dtype, Layout layout, int h, int w, int c) {
  EXPECT_EQ(t.dtype, dtype);
  EXPECT_EQ(t.layout, layout);
  EXPECT_EQ(t.height, h);
  EXPECT_EQ(t.width, w);
  EXPECT_EQ(t.channels, c);
  EXPECT_EQ(t.data.size(), size_t(h) * w * c * dtype_size(dtype));
}

struct Size {
  int w, h;
};

class AugmentPng : public ::testing::TestWithParam<Size> {};

TEST_P(AugmentPng, Uint8HwcAndChwAreTheSourcePixels) {
  const Image src = make_image(GetParam().w, GetParam().h);
  const auto png = codec::encode_png(src);
  for (const char* layout : {"HWC", "CHW"}) {
    const auto out = run_spec(std::string("ops:\noutput: {layout: ") + layout + "}\n", png);
    ASSERT_EQ(out.size(), 1u);
    const Tensor& t = out[0].tensor;
    const Layout expected_layout = std::string(layout) == "HWC" ? Layout::kHWC : Layout::kCHW;
    expect_shape(t, DType::kUInt8, expected_layout, src.height, src.width, 3);
    const auto* data = reinterpret_cast<const uint8_t*>(t.data.data());
    for (int y = 0; y < src.height; ++y)
      for (int x = 0; x < src.width; ++x)
        for (int c = 0; c < 3; ++c) {
          const size_t i = expected_layout == Layout::kHWC ? (size_t(y) * src.width + x) * 3 + c
                                                           : (size_t(c) * src.height + y) * src.width + x;
          ASSERT_EQ(data[i], src.row(y)[x * 3 + c]) << layout << " " << x << "," << y << "," << c;
        }
  }
}

TEST_P(AugmentPng, FloatOutputs) {
  const Image src = make_image(GetParam().w, GetParam().h);
  const auto png = codec::encode_png(src);
  const float inv255 = static_cast<float>(1.0 / 255.0);  // ToDtype(scale=True): x * (1/255)
  for (const char* dtype : {"float32", "float16", "bfloat16"}) {
    for (const char* layout : {"HWC", "CHW"}) {
      const auto out = run_spec(std::string("ops:\n  - to_dtype: {dtype: ") + dtype + "}\noutput: {layout: " + layout + "}\n", png);
      ASSERT_EQ(out.size(), 1u);
      const Tensor& t = out[0].tensor;
      const std::string name = dtype;
      const DType d = name == "float32" ? DType::kFloat32 : name == "float16" ? DType::kFloat16 : DType::kBFloat16;
      expect_shape(t, d, std::string(layout) == "HWC" ? Layout::kHWC : Layout::kCHW, src.height, src.width, 3);
      for (int y = 0; y < src.height; ++y)
        for (int x = 0; x < src.width; ++x)
          for (int c = 0; c < 3; ++c) {
            const float v = float(src.row(y)[x * 3 + c]) * inv255;
            if (d == DType::kFloat32) {
              ASSERT_EQ(element<float>(t, y, x, c), v) << dtype << " " << layout;
            } else if (d == DType::kFloat16) {
              ASSERT_EQ(element<uint16_t>(t, y, x, c), gpuaug_test::ref_half_bits(v)) << layout;
            } else {
              ASSERT_EQ(element<uint16_t>(t, y, x, c), gpuaug_test::ref_bfloat16_bits(v)) << layout;
            }
          }
    }
  }
}

TEST_P(AugmentPng, NormalizedFloat) {
  const Image src = make_image(GetParam().w, GetParam().h);
  const auto out = run_spec("ops:\n  - normalize: {mean: [0.5, 0.25, 0.125], std: [0.5, 0.25, 2.0]}\n",
                            codec::encode_png(src));
  const Tensor& t = out.at(0).tensor;
  expect_shape(t, DType::kFloat32, Layout::kCHW, src.height, src.width, 3);
  const float mean[3] = {0.5f, 0.25f, 0.125f}, std_[3] = {0.5f, 0.25f, 2.0f};
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = float(src.row(y)[x * 3 + c]) * static_cast<float>(1.0 / 255.0);
        ASSERT_EQ(element<float>(t, y, x, c), (v - mean[c]) / std_[c]);
      }
}

// A gray PNG decodes to RGB; grayscale to one channel gives floor(0.9999 v) = v - 1 (v > 0),
// torchvision's uint8 result for R = G = B = v.
TEST_P(AugmentPng, OneChannelOutput) {
  const Image gray = make_image(GetParam().w, GetParam().h, 1);
  const auto png = codec::encode_png(gray);
  {
    const auto out = run_spec("ops:\noutput: {layout: HWC}\n", png);
    const Tensor& t = out.at(0).tensor;
    expect_shape(t, DType::kUInt8, Layout::kHWC, gray.height, gray.width, 3);
    for (int y = 0; y < gray.height; ++y)
      for (int x = 0; x < gray.width; ++x)
        for (int c = 0; c < 3; ++c) ASSERT_EQ(element<uint8_t>(t, y, x, c), gray.row(y)[x]);
  }
  for (const char* layout : {"HWC", "CHW"}) {
    const auto out = run_spec(std::string("ops:\n  - grayscale: {num_output_channels: 1}\noutput: {layout: ") + layout + "}\n", png);
    const Tensor& t = out.at(0).tensor;
    expect_shape(t, DType::kUInt8, std::string(layout) == "HWC" ? Layout::kHWC : Layout::kCHW, gray.height, gray.width, 1);
    for (int y = 0; y < gray.height; ++y)
      for (int x = 0; x < gray.width; ++x) {
        const int v = gray.row(y)[x];
        ASSERT_EQ(element<uint8_t>(t, y, x, 0), v > 0 ? v - 1 : 0) << layout << " " << x << "," << y;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, AugmentPng, ::testing::Values(Size{1, 1}, Size{17, 19}, Size{6, 3}),
                         [](const auto& info) { return std::to_string(info.param.w) + "x" + std::to_string(info.param.h); });

TEST(AugmentJpeg, IdentityIsTheDecodedImage) {
  const Image src = make_image(33, 21);
  const auto jpeg = codec::encode_jpeg(src, 95);
  const auto out = run_spec("ops:\noutput: {layout: HWC}\n", jpeg);
  const Tensor& t = out.at(0).tensor;
  expect_shape(t, DType::kUInt8, Layout::kHWC, 21, 33, 3);
  const Image decoded = codec::decode_image(jpeg, {}).image;
  EXPECT_EQ(gpuaug_test::tensor_image(t).pixels, decoded.pixels);
  double total = 0;  // a sane JPEG round trip (the test image's per-pixel texture is noisy)
  for (size_t i = 0; i < src.pixels.size(); ++i) total += std::abs(int(decoded.pixels[i]) - int(src.pixels[i]));
  EXPECT_LT(total / double(src.pixels.size()), 10.0);
}

TEST(AugmentJpeg, DctScaledResizeShapesAndValues) {
  const Image src = make_image(64, 48);
  const auto jpeg = codec::encode_jpeg(src, 95);
  for (const char* dtype : {"uint8", "float32", "float16", "bfloat16"}) {
    const auto out = run_spec(std::string("ops:\n  - resize: {size: [12, 16]}\n  - to_dtype: {dtype: ") + dtype + "}\n", jpeg);
    ASSERT_EQ(out.size(), 1u);
    const Tensor& t = out[0].tensor;
    EXPECT_EQ(t.height, 12);
    EXPECT_EQ(t.width, 16);
    EXPECT_EQ(t.channels, 3);
    EXPECT_EQ(t.layout, Layout::kCHW);
    EXPECT_EQ(dtype_name(t.dtype), dtype);
    // Close to resizing the full-resolution decode (a 1/4 DCT decode is a box-like prefilter).
    const Image view = viewable_image(out[0]);
    const Image reference = gpuaug_test::ref_resize(codec::decode_image(jpeg, {}).image, 12, 16);
    double total = 0;
    for (size_t i = 0; i < view.pixels.size(); ++i) total += std::abs(int(view.pixels[i]) - int(reference.pixels[i]));
    EXPECT_LT(total / double(view.pixels.size()), 3.0) << dtype;
  }
}

// With dct_scaling off, a JPEG is decoded only in the region the plan reads, and the output
// equals executing the same plan on a whole-image decode, bit for bit (design.md, "Decode from
// the plan").
TEST(AugmentJpeg, RegionDecodeMatchesWholeDecode) {
  const Image src = make_image(97, 61);
  const auto jpeg = codec::encode_jpeg(src, 90);
  const Image whole = codec::decode_image(jpeg, {}).image;
  for (const char* ops : {"  - random_resized_crop: {size: [13, 17], scale: [0.05, 0.3]}\n  - horizontal_flip: {}\n",
                          "  - center_crop: {size: [21, 9]}\n  - vertical_flip: {p: 1}\n",
                          "  - random_crop: {size: 11}\n  - rotate: {degrees: 40, interpolation: bilinear}\n"}) {
    const Augmenter augmenter(parse_spec(std::string("seed: 3\ndecode: {dct_scaling: false}\nops:\n") + ops, "r.yaml"));
    for (uint64_t index = 0; index < 6; ++index) {
      const auto out = augmenter.run(jpeg, "r.jpg", index, 0, 0);
      ASSERT_EQ(out.size(), 1u);
      const auto plans = augmenter.chain().plan(RandomKey::from(3, 0), index, 0, 97, 61);
      const Tensor expected = plan::execute_cpu(plans.at(0).fold, whole, {}, Layout::kCHW);
      ASSERT_EQ(out[0].tensor.data.size(), expected.data.size());
      EXPECT_EQ(std::memcmp(out[0].tensor.data.data(), expected.data.data(), expected.data.size()), 0)
          << ops << " index " << index;
    }
  }
}

TEST(Augment, SameInputsSameBytesOtherCopyDiffers) {
  const auto png = codec::encode_png(make_image(40, 30));
  const std::string spec =
      "seed: 11\nops:\n  - random_resized_crop: {size: 16}\n  - color_jitter: {brightness: 0.5, hue: 0.2}\n"
      "  - to_dtype: {dtype: float32}\n  - gaussian_noise: {sigma: 0.05}\n";
  const auto a = run_spec(spec, png, 3, 0), b = run_spec(spec, png, 3, 0), c = run_spec(spec, png, 3, 1);
  const auto bytes = [](const Tensor& t) { return std::vector<std::byte>(t.data.data(), t.data.data() + t.data.size()); };
  EXPECT_EQ(bytes(a.at(0).tensor), bytes(b.at(0).tensor));
  EXPECT_NE(bytes(a.at(0).tensor), bytes(c.at(0).tensor));
}

// Which decoder prepare leaves a file to on a GPU (CPU only here: the flags, not the decoders).
// By default gpuaug's exact GPU decoder takes every baseline JPEG up to kExactGpuMaxPixels
// (decode.exact_share: all that nvJPEG's share leaves); larger files, PNGs, and the shares a spec
// gives others go to the CPU threads (deferred to gpu_jobs) or nvJPEG.
TEST(AugmentGpuRouting, TheExactDecoderTakesJpegsUpToItsBound) {
  if (!plan::GpuJpegDecoder::exact()) GTEST_SKIP() << "this libjpeg's IDCT is not the one the GPU ports";
  const auto small = codec::encode_jpeg(make_image(64, 48), 90);
  const auto at_bound = codec::encode_jpeg(make_image(2048, 1024), 50);   // 2,097,152 pixels
  const auto past_bound = codec::encode_jpeg(make_image(2049, 1024), 50);
  const auto png = codec::encode_png(make_image(64, 48));
  const std::string ops = "ops:\n  - random_resized_crop: {size: 32}\n";
  auto exact_indices = [&](const std::string& decode, const std::vector<uint8_t>& bytes) {
    const Augmenter augmenter(parse_spec(decode + ops, "route.yaml"));
    std::string taken;
    for (uint64_t index = 0; index < 8; ++index) {
      const PreparedImage p = augmenter.prepare(bytes, "f", index, 0, 0, nullptr, /*leave_for_gpu=*/false,
                                                /*defer_cpu_decode=*/true, /*exact_on_gpu=*/true);
      EXPECT_NE(p.decode_exact_on_gpu, p.decode_deferred) << decode << " index " << index;
      taken += p.decode_exact_on_gpu ? 'x' : '.';
    }
    return taken;
  };
  EXPECT_EQ(exact_indices("", small), "xxxxxxxx");
  EXPECT_EQ(exact_indices("", at_bound), "xxxxxxxx");
  EXPECT_EQ(exact_indices("", past_bound), "........");
  EXPECT_EQ(exact_indices("", png), "........");
  EXPECT_EQ(exact_indices("decode: {exact_share: 0}\n", small), "........");
  EXPECT_EQ(exact_indices("decode: {gpu: false}\n", small), "........");
  // nvJPEG's 4/8 first (left to the CPU here: no leave_for_gpu), the exact decoder the rest.
  EXPECT_EQ(exact_indices("decode: {gpu_share: 0.5}\n", small), "....xxxx");
  EXPECT_EQ(exact_indices("decode: {gpu_share: 0.25, exact_share: 0.5}\n", small), "..xxxx..");
}

// A scan the exact decoder does not decode (declined, or no decoder at all here) is decoded by
// the CPU in gpu_jobs, at full scale: the samples equal the CPU path's with dct_scaling off,
// which equals the exact decoder's (libjpeg-turbo's pixels), so which one decoded never shows.
TEST(AugmentGpuRouting, ScansTheGpuLeavesDecodeOnTheCpuAtFullScale) {
  if (!plan::GpuJpegDecoder::exact()) GTEST_SKIP() << "this libjpeg's IDCT is not the one the GPU ports";
  const auto jpeg = codec::encode_jpeg(make_image(203, 151), 90);
  const std::string ops = "ops:\n  - random_resized_crop: {size: [24, 20], scale: [0.05, 0.5]}\n  - horizontal_flip: {}\n";
  const Augmenter augmenter(parse_spec("seed: 5\n" + ops, "declined.yaml"));
  const Augmenter full_scale(parse_spec("seed: 5\ndecode: {dct_scaling: false}\n" + ops, "cpu.yaml"));
  std::vector<PreparedImage> prepared;
  for (uint64_t index = 0; index < 8; ++index) {
    prepared.push_back(augmenter.prepare(jpeg, "d.jpg", index, 0, 2, nullptr, false, true, true));
    ASSERT_TRUE(prepared.back().decode_exact_on_gpu);
  }
  // Once on this thread, once on a pool (as a batch a GPU decoder left whole is decoded).
  ThreadPool pool(3);
  for (ThreadPool* on : {static_cast<ThreadPool*>(nullptr), &pool}) {
    std::vector<PreparedImage> images;
    for (const PreparedImage& p : prepared) images.push_back(p);
    const std::vector<plan::SampleJob> jobs = augmenter.gpu_jobs(images, 2, nullptr, nullptr, on, nullptr);
    ASSERT_EQ(jobs.size(), 8u);
    for (uint64_t index = 0; index < 8; ++index) {
      const plan::SampleJob& job = jobs[index];
      ASSERT_NE(job.source, nullptr);
      const Tensor got = plan::execute_cpu(*job.fold, *job.source, job.stream, Layout::kCHW);
      const auto want = full_scale.run(jpeg, "d.jpg", index, 0, 2);
      ASSERT_EQ(want.size(), 1u);
      ASSERT_EQ(got.data.size(), want[0].tensor.data.size());
      EXPECT_EQ(std::memcmp(got.data.data(), want[0].tensor.data.data(), got.data.size()), 0)
          << "index " << index << (on ? " on the pool" : "");
    }
  }
}

TEST(AugmentErrors, TruncatedJpegNamesTheFileAndStage) {
  const auto jpeg = codec::encode_jpeg(make_image(64, 48), 90);
  const Augmenter augmenter(parse_spec("ops:\n", "t.yaml"));
  {
    const std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + jpeg.size() * 6 / 10);
    const Error e = expect_error([&] { augmenter.run(cut, "photos/cat.jpg", 0, 0, 0); });
    EXPECT_EQ(e.file(), "photos/cat.jpg");
    EXPECT_EQ(e.stage(), "decode");
    EXPECT_EQ(std::string(e.what()).rfind("photos/cat.jpg: decode: ", 0), 0u) << e.what();
  }
  {
    const std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + 20);
    const Error e = expect_error([&] { augmenter.run(cut, "photos/dog.jpg", 0, 0, 0); });
    EXPECT_EQ(e.file(), "photos/dog.jpg");
    EXPECT_EQ(e.stage(), "header");
  }
  {
    const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
    const Error e = expect_error([&] { augmenter.run(gif, "x.gif", 0, 0, 0); });
    EXPECT_EQ(e.file(), "x.gif");
    EXPECT_EQ(e.stage(), "header");
    EXPECT_NE(std::string(e.what()).find("not a JPEG or PNG"), std::string::npos) << e.what();
  }
}

TEST(AugmentErrors, PlanErrorsNameTheFile) {
  const auto png = codec::encode_png(make_image(8, 8));
  const Augmenter augmenter(parse_spec("ops:\n  - random_crop: {size: 20}\n", "t.yaml"));
  const Error e = expect_error([&] { augmenter.run(png, "small.png", 0, 0, 0); });
  EXPECT_EQ(e.file(), "small.png");
  EXPECT_EQ(e.stage(), "plan");
}

}  // namespace
}  // namespace gpuaug::pipeline
