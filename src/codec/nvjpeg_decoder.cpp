// NvjpegDecoder: nvJPEG handle, state and per-image parameters; the batched hardware path with
// regions of interest (nvjpegDecodeBatchedEx) and the CUDA backend's whole-image batches.
#include "codec/nvjpeg_decoder.h"

#include <cstdint>

#include "core/error.h"

#if GPUAUG_HAVE_NVJPEG
#include <nvjpeg.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "core/cuda_memory.h"
#endif

namespace gpuaug::codec {

bool NvjpegDecoder::suits(const ImageInfo& info) {
  return info.format == ImageFormat::kJpeg && !info.progressive && info.orientation == 1 &&
         (info.channels == 1 || info.channels == 3) && info.bit_depth == 8;
}

bool NvjpegDecoder::takes(std::span<const uint8_t> bytes, const ImageInfo& info) {
  const bool whole = bytes.size() >= 2 && bytes[bytes.size() - 2] == 0xFF && bytes.back() == 0xD9;
  // nvJPEG decodes a file without its DQT, or an SOF that claims more pixels than the data
  // holds, without a word, where libjpeg names the fault (tests/data/make_bad_inputs.py's
  // no_dqt.jpg, big_header_small_data.jpg, on an H100): the scans must hold at least 2 bits a
  // block (each block's DC code and its end of block are a Huffman code of a bit or more).
  const bool plausible = info.jpeg_tables_defined && info.jpeg_blocks > 0 && info.jpeg_scan_offset > 0 &&
                         info.jpeg_scan_offset <= bytes.size() &&
                         uint64_t(bytes.size() - info.jpeg_scan_offset) * 8 >= 2 * info.jpeg_blocks;
  return whole && suits(info) && plausible;
}

#if GPUAUG_HAVE_NVJPEG

namespace {

void check(nvjpegStatus_t status, const char* call) {
  if (status != NVJPEG_STATUS_SUCCESS)
    throw Error("", "decode", std::string("nvJPEG ") + call + " failed with status " + std::to_string(int(status)));
}

}  // namespace

struct NvjpegDecoder::Impl {
  int device = 0;
  nvjpegHandle_t handle = nullptr;
  nvjpegJpegState_t state = nullptr;
  nvjpegJpegStream_t stream = nullptr;
  std::vector<nvjpegDecodeParams_t> params;
  bool hardware = false;
  int initialized_batch = -1;
  CudaStream cuda_stream;  // owned: the output buffer is freed on a stream that outlives it
  DeviceBuffer output;

  ~Impl() {
    for (auto p : params) nvjpegDecodeParamsDestroy(p);
    if (stream) nvjpegJpegStreamDestroy(stream);
    if (state) nvjpegJpegStateDestroy(state);
    if (handle) nvjpegDestroy(handle);
  }
};

bool NvjpegDecoder::built() { return true; }

NvjpegDecoder::NvjpegDecoder(int device) : impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  GPUAUG_CUDA_CHECK(cudaSetDevice(device), "device");
  // The hardware engine where there is one (A100, H100); any failure means none. Strict: by
  // default nvJPEG decodes a bitstream that breaks the standard (a scan cut short before EOI,
  // stray bytes before a marker) without a word, where libjpeg names the damage; refused, such
  // a file goes to the CPU decoder, which reports it.
  const unsigned flags = NVJPEG_FLAGS_BITSTREAM_STRICT;
  const auto started = std::chrono::steady_clock::now();
  // GPUAUG_NVJPEG_BACKEND skips the hardware engine, whose start (0.6-0.8 s a handle on an H100)
  // outweighs its speed in short jobs; for measuring that trade. `default`: nvJPEG's default
  // backend (Huffman decoding on the CPU for images this size); `gpu_hybrid`: Huffman decoding on
  // the GPU too in batches of more than 50.
  const char* backend_name = std::getenv("GPUAUG_NVJPEG_BACKEND");
  const std::string_view backend = backend_name != nullptr ? backend_name : "";
  if (!backend.empty() && backend != "default" && backend != "gpu_hybrid")
    throw Error("", "decode", "GPUAUG_NVJPEG_BACKEND must be default or gpu_hybrid, not " + std::string(backend));
  if (backend.empty() &&
      nvjpegCreateEx(NVJPEG_BACKEND_HARDWARE, nullptr, nullptr, flags, &impl_->handle) == NVJPEG_STATUS_SUCCESS) {
    impl_->hardware = true;
  } else {
    impl_->handle = nullptr;
    const nvjpegBackend_t fallback = backend == "gpu_hybrid" ? NVJPEG_BACKEND_GPU_HYBRID : NVJPEG_BACKEND_DEFAULT;
    check(nvjpegCreateEx(fallback, nullptr, nullptr, flags, &impl_->handle), "nvjpegCreateEx");
  }
  check(nvjpegJpegStateCreate(impl_->handle, &impl_->state), "nvjpegJpegStateCreate");
  check(nvjpegJpegStreamCreate(impl_->handle, &impl_->stream), "nvjpegJpegStreamCreate");
  if (std::getenv("GPUAUG_TRACE_NVJPEG") != nullptr)
    std::fprintf(stderr, "nvjpeg: created (%s) in %.1f ms\n",
                 impl_->hardware ? "hardware" : backend == "gpu_hybrid" ? "gpu_hybrid" : "default",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
}

NvjpegDecoder::~NvjpegDecoder() = default;

bool NvjpegDecoder::hardware() const { return impl_->hardware; }

std::vector<std::optional<GpuDecoded>> NvjpegDecoder::decode(std::span<const GpuDecodeRequest> batch) {
  Impl& m = *impl_;
  GPUAUG_CUDA_CHECK(cudaSetDevice(m.device), "device");
  cudaStream_t stream = m.cuda_stream.get();
  std::vector<std::optional<GpuDecoded>> out(batch.size());
  while (m.params.size() < batch.size()) {
    nvjpegDecodeParams_t p;
    check(nvjpegDecodeParamsCreate(m.handle, &p), "nvjpegDecodeParamsCreate");
    m.params.push_back(p);
  }
  const bool trace = std::getenv("GPUAUG_TRACE_NVJPEG") != nullptr;
  // Which images the decoder takes, and the size of each output.
  std::vector<size_t> chosen;
  std::vector<GpuDecoded> shapes(batch.size());
  size_t total = 0;
  std::vector<size_t> offsets(batch.size(), 0);
  for (size_t i = 0; i < batch.size(); ++i) {
    const GpuDecodeRequest& r = batch[i];
    if (nvjpegJpegStreamParseHeader(m.handle, r.bytes.data(), r.bytes.size(), m.stream) != NVJPEG_STATUS_SUCCESS)
      continue;
    unsigned int w = 0, h = 0;
    if (nvjpegJpegStreamGetFrameDimensions(m.stream, &w, &h) != NVJPEG_STATUS_SUCCESS) continue;
    nvjpegDecodeParams_t p = m.params[chosen.size()];
    check(nvjpegDecodeParamsSetOutputFormat(p, NVJPEG_OUTPUT_RGBI), "nvjpegDecodeParamsSetOutputFormat");
    GpuDecoded shape;
    if (m.hardware && r.region.width > 0) {
      const Rect roi = clip_region(r.region, int(w), int(h));
      check(nvjpegDecodeParamsSetROI(p, roi.x, roi.y, roi.width, roi.height), "nvjpegDecodeParamsSetROI");
      shape = {nullptr, roi.width, roi.height, roi.x, roi.y};
    } else {
      check(nvjpegDecodeParamsSetROI(p, 0, 0, -1, -1), "nvjpegDecodeParamsSetROI");
      shape = {nullptr, int(w), int(h), 0, 0};
    }
    int unsupported = 1;
    if (m.hardware) {
      if (nvjpegDecodeBatchedSupportedEx(m.handle, m.stream, p, &unsupported) != NVJPEG_STATUS_SUCCESS) continue;
      if (unsupported != 0) continue;  // 0 means supported
    }
    if (trace)
      std::fprintf(stderr, "nvjpeg: image %zu %ux%u region %d,%d %dx%d -> out %dx%d\n", i, w, h, r.region.x,
                   r.region.y, r.region.width, r.region.height, shape.width, shape.height);
    shapes[i] = shape;
    offsets[i] = total;
    total += (size_t(shape.width) * shape.height * 3 + 255) / 256 * 256;
    chosen.push_back(i);
  }
  if (chosen.empty()) return out;
  m.output.reserve(total, stream);
  const auto started = std::chrono::steady_clock::now();
  const auto ms = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  };
  // Decodes chosen[first, first + n) as one batch. A batch fails as a whole when one bitstream
  // that passed the header parse is refused mid-decode, so a failed batch is split in two and
  // each half tried again: only the refused images go back to the CPU, not all of them.
  std::vector<char> decoded(chosen.size(), 0);
  const std::function<void(size_t, size_t)> decode_range = [&](size_t first, size_t n) {
    std::vector<const unsigned char*> data;
    std::vector<size_t> lengths;
    std::vector<nvjpegImage_t> destinations(n);
    std::vector<nvjpegDecodeParams_t> params(m.params.begin() + std::ptrdiff_t(first),
                                             m.params.begin() + std::ptrdiff_t(first + n));
    for (size_t k = 0; k < n; ++k) {
      const size_t i = chosen[first + k];
      data.push_back(batch[i].bytes.data());
      lengths.push_back(batch[i].bytes.size());
      destinations[k].channel[0] = m.output.as<unsigned char>() + offsets[i];
      destinations[k].pitch[0] = size_t(shapes[i].width) * 3;
    }
    try {
      if (m.initialized_batch != int(n)) {
        check(nvjpegDecodeBatchedInitialize(m.handle, m.state, int(n), 1, NVJPEG_OUTPUT_RGBI),
              "nvjpegDecodeBatchedInitialize");
        m.initialized_batch = int(n);
        if (trace) std::fprintf(stderr, "nvjpeg: initialized for %zu images in %.1f ms\n", n, ms());
      }
      if (trace) std::fprintf(stderr, "nvjpeg: decoding %zu images\n", n);
      if (m.hardware) {
        check(nvjpegDecodeBatchedEx(m.handle, m.state, data.data(), lengths.data(), destinations.data(),
                                    params.data(), stream), "nvjpegDecodeBatchedEx");
      } else {
        check(nvjpegDecodeBatched(m.handle, m.state, data.data(), lengths.data(), destinations.data(), stream),
              "nvjpegDecodeBatched");
      }
      GPUAUG_CUDA_CHECK(cudaStreamSynchronize(stream), "decode");
      std::fill_n(decoded.begin() + std::ptrdiff_t(first), n, char(1));
      if (trace) std::fprintf(stderr, "nvjpeg: decoded %zu images, %.1f ms with initialization\n", n, ms());
    } catch (const Error& e) {
      m.initialized_batch = -1;  // a failed batch needs a new initialization
      if (trace) std::fprintf(stderr, "nvjpeg: a batch of %zu images failed: %s\n", n, e.what());
      if (n == 1) return;  // that image falls back to the CPU
      decode_range(first, n / 2);
      decode_range(first + n / 2, n - n / 2);
    }
  };
  decode_range(0, chosen.size());
  for (size_t k = 0; k < chosen.size(); ++k) {
    if (!decoded[k]) continue;
    const size_t i = chosen[k];
    out[i] = shapes[i];
    out[i]->device_rgb = m.output.as<uint8_t>() + offsets[i];
  }
  return out;
}

#else  // no nvJPEG in this build

struct NvjpegDecoder::Impl {};
bool NvjpegDecoder::built() { return false; }
NvjpegDecoder::NvjpegDecoder(int) {
  throw Error("", "decode", "this gpuaug was built without nvJPEG; JPEGs decode on the CPU");
}
NvjpegDecoder::~NvjpegDecoder() = default;
bool NvjpegDecoder::hardware() const { return false; }
std::vector<std::optional<GpuDecoded>> NvjpegDecoder::decode(std::span<const GpuDecodeRequest> batch) {
  return std::vector<std::optional<GpuDecoded>>(batch.size());
}

#endif

}  // namespace gpuaug::codec
