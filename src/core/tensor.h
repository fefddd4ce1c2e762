// Image (decoded 8-bit pixels) and Tensor (one augmented sample: dtype, layout, shape, bytes).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/block_pool.h"

namespace gpuaug {

enum class DType : uint8_t { kUInt8, kFloat32, kFloat16, kBFloat16 };
enum class Layout : uint8_t { kHWC, kCHW };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);
std::string_view layout_name(Layout layout);
std::optional<Layout> parse_layout(std::string_view name);

// Interleaved 8-bit pixels, rows packed (stride = width * channels). The pixels live in the
// image pool (core/block_pool.h): images decoded in a loop reuse the blocks of the last ones.
struct Image {
  using Pixels = std::vector<uint8_t, PoolAllocator<uint8_t, ImageBlocks>>;
  int width = 0;
  int height = 0;
  int channels = 0;
  Pixels pixels;

  Image() = default;
  Image(int w, int h, int c) : width(w), height(h), channels(c), pixels(size_t(w) * h * c) {}
  // With room for at least `capacity` bytes, so that the pool block it gets fits a larger
  // image later (a decoder reserves the whole image for a crop of it).
  Image(int w, int h, int c, size_t capacity) : width(w), height(h), channels(c) {
    pixels.reserve(std::max(capacity, size_t(w) * h * c));
    pixels.resize(size_t(w) * h * c);
  }
  uint8_t* row(int y) { return pixels.data() + size_t(y) * width * channels; }
  const uint8_t* row(int y) const { return pixels.data() + size_t(y) * width * channels; }
  size_t stride() const { return size_t(width) * channels; }
};

// Bytes that are not zeroed on allocation: every executor writes each element once. They live
// in the tensor pool (core/block_pool.h), so that a loop's outputs reuse the same blocks.
class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t size)
      : bytes_(size > 0 ? static_cast<std::byte*>(TensorBlocks::take(size)) : nullptr),
        size_(size) {}
  ~ByteBuffer() { TensorBlocks::give(bytes_, size_); }
  ByteBuffer(const ByteBuffer& other) : ByteBuffer(other.size_) {
    if (size_ > 0) std::memcpy(bytes_, other.bytes_, size_);
  }
  ByteBuffer& operator=(const ByteBuffer& other) {
    if (this != &other) *this = ByteBuffer(other);
    return *this;
  }
  ByteBuffer(ByteBuffer&& other) noexcept
      : bytes_(std::exchange(other.bytes_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    std::swap(bytes_, other.bytes_);
    std::swap(size_, other.size_);
    return *this;
  }
  std::byte* data() { return bytes_; }
  const std::byte* data() const { return bytes_; }
  size_t size() const { return size_; }

 private:
  std::byte* bytes_ = nullptr;
  size_t size_ = 0;
};

// One output sample. Elements are `dtype`, ordered by `layout`.
struct Tensor {
  DType dtype = DType::kUInt8;
  Layout layout = Layout::kCHW;
  int height = 0;
  int width = 0;
  int channels = 0;
  ByteBuffer data;

  Tensor() = default;
  Tensor(DType d, Layout l, int h, int w, int c)
      : dtype(d), layout(l), height(h), width(w), channels(c),
        data(size_t(h) * w * c * dtype_size(d)) {}
  size_t elements() const { return size_t(height) * width * channels; }
  // Element offset of (y, x, channel) under this tensor's layout.
  size_t offset(int y, int x, int c) const {
    return layout == Layout::kHWC ? (size_t(y) * width + x) * channels + c
                                  : (size_t(c) * height + y) * width + x;
  }
};

}  // namespace gpuaug
