// BlockPool: blocks mapped whole and faulted in at once, a header holding each one's size; the
// shared list under a mutex, each thread's cache without one.
#include "core/block_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

namespace gpuaug {

namespace {

// Before each block's memory: its size, so that a block given back finds its place. 64 bytes
// keep the memory cache-line aligned.
constexpr size_t kHeaderBytes = 64;

std::byte* map_block(size_t bytes) {
  // MAP_POPULATE faults every page in now: a block is resident at its full size from the
  // start, so a later, larger buffer in it does not raise RSS.
  void* p = mmap(nullptr, kHeaderBytes + bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* base = static_cast<std::byte*>(p);
  std::memcpy(base, &bytes, sizeof bytes);
  return base;
}

size_t block_size(const std::byte* base) {
  size_t bytes;
  std::memcpy(&bytes, base, sizeof bytes);
  return bytes;
}

std::byte* base_of(void* p) { return static_cast<std::byte*>(p) - kHeaderBytes; }

// Never destroyed: buffers held by other static objects come back during exit. One per Tag.
template <typename Tag>
BlockPool& immortal_pool() {
  alignas(BlockPool) static std::byte storage[sizeof(BlockPool)];
  static BlockPool* pool = ::new (storage) BlockPool();
  return *pool;
}

}  // namespace

BlockPool::~BlockPool() {
  for (const auto& [size, blocks] : free_)
    for (std::byte* base : blocks) munmap(base, kHeaderBytes + size);
}

size_t BlockPool::round_up(size_t bytes) {
  // The mapping, header included, is the quarter power of two (whole pages from kMinBytes up).
  const size_t mapped = kHeaderBytes + bytes;
  const size_t quarter = std::max<size_t>(std::bit_floor(mapped) / 4, 1);
  return (mapped + quarter - 1) / quarter * quarter - kHeaderBytes;
}

void* BlockPool::take(size_t bytes) {
  if (!pooled(bytes)) return ::operator new(bytes);
  const size_t size = round_up(bytes);
  {
    std::lock_guard lock(mutex_);
    const auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      std::byte* base = it->second.back();
      it->second.pop_back();
      --free_blocks_;
      free_bytes_ -= size;
      return base + kHeaderBytes;
    }
    ++mapped_;
    mapped_bytes_ += size;
  }
  try {
    return map_block(size) + kHeaderBytes;  // outside the lock: faulting in takes a while
  } catch (...) {
    std::lock_guard lock(mutex_);
    --mapped_;
    mapped_bytes_ -= size;
    throw;
  }
}

void BlockPool::give(void* p, size_t bytes) noexcept {
  if (p == nullptr) return;
  if (!pooled(bytes)) {
    ::operator delete(p);
    return;
  }
  put(base_of(p));
}

void BlockPool::put(std::byte* base) noexcept {
  const size_t size = block_size(base);
  {
    std::lock_guard lock(mutex_);
    if (free_bytes_ + size <= kMaxFreeBytes) {
      try {
        free_[size].push_back(base);
        ++free_blocks_;
        free_bytes_ += size;
        return;
      } catch (const std::bad_alloc&) {
        // No room to list it: unmapped below.
      }
    }
  }
  unmap(base);
}

void BlockPool::unmap(std::byte* base) noexcept {
  const size_t size = block_size(base);
  munmap(base, kHeaderBytes + size);
  std::lock_guard lock(mutex_);
  --mapped_;
  mapped_bytes_ -= size;
}

size_t BlockPool::free_blocks() const {
  std::lock_guard lock(mutex_);
  return free_blocks_;
}

size_t BlockPool::mapped_blocks() const {
  std::lock_guard lock(mutex_);
  return mapped_;
}

size_t BlockPool::mapped_bytes() const {
  std::lock_guard lock(mutex_);
  return mapped_bytes_;
}

// The two largest blocks one thread gave back, for its own next takes ahead of the shared list.
// Plain data, so that it can still be used after the thread's Flush ran (static objects
// destroyed after main's thread-locals): closed, it passes everything to the shared list.
struct ThreadBlocks {
  static constexpr int kBlocks = 2;  // an image and its turned-upright copy
  std::byte* blocks[kBlocks];
  int count;
  int gives;  // since the last take; more than kBlocks: the thread is freeing a batch
  bool closed;

  // The smallest kept block that holds `bytes`: a kept block is resident anyway, and a larger
  // one serves a smaller buffer as well.
  void* take(BlockPool& pool, size_t bytes) {
    if (!BlockPool::pooled(bytes)) return ::operator new(bytes);
    gives = 0;
    const size_t size = BlockPool::round_up(bytes);
    int best = -1;
    for (int i = 0; i < count; ++i) {
      const size_t s = block_size(blocks[i]);
      if (s >= size && (best < 0 || s < block_size(blocks[best]))) best = i;
    }
    if (best < 0) return pool.take(bytes);
    std::byte* base = blocks[best];
    blocks[best] = blocks[--count];
    return base + kHeaderBytes;
  }

  // Keeps the largest blocks: they serve every buffer the smaller ones would, so a thread
  // settles on the two it needs and stops trading blocks with the shared list.
  void give(BlockPool& pool, void* p, size_t bytes) noexcept {
    if (p == nullptr) return;
    if (!BlockPool::pooled(bytes)) {
      ::operator delete(p);
      return;
    }
    std::byte* base = base_of(p);
    if (closed) {
      pool.put(base);
    } else if (++gives > kBlocks) {
      // A batch: whichever threads make the next one take it from the shared list, this
      // thread's kept blocks too (kept, they could wait there while others map new ones).
      release(pool);
      pool.put(base);
    } else if (count < kBlocks) {
      blocks[count++] = base;
    } else {
      int smallest = 0;
      for (int i = 1; i < count; ++i)
        if (block_size(blocks[i]) < block_size(blocks[smallest])) smallest = i;
      if (block_size(blocks[smallest]) < block_size(base)) std::swap(base, blocks[smallest]);
      pool.put(base);
    }
  }

  void release(BlockPool& pool) noexcept {
    while (count > 0) pool.put(blocks[--count]);
  }

  // When the thread ends, its blocks go to the shared list.
  struct Flush {
    ThreadBlocks& cache;
    BlockPool& pool;
    ~Flush() {
      cache.closed = true;
      cache.release(pool);
    }
  };
};

namespace {

template <typename Tag>
ThreadBlocks& thread_blocks() {
  thread_local ThreadBlocks cache{};
  thread_local ThreadBlocks::Flush flush{cache, Tag::pool()};
  return cache;
}

}  // namespace

void release_thread_blocks() noexcept {
  thread_blocks<ImageBlocks>().release(ImageBlocks::pool());
  thread_blocks<TensorBlocks>().release(TensorBlocks::pool());
}

BlockPool& ImageBlocks::pool() { return immortal_pool<ImageBlocks>(); }
void* ImageBlocks::take(size_t bytes) { return thread_blocks<ImageBlocks>().take(pool(), bytes); }
void ImageBlocks::give(void* p, size_t bytes) noexcept {
  thread_blocks<ImageBlocks>().give(pool(), p, bytes);
}

BlockPool& TensorBlocks::pool() { return immortal_pool<TensorBlocks>(); }
void* TensorBlocks::take(size_t bytes) { return thread_blocks<TensorBlocks>().take(pool(), bytes); }
void TensorBlocks::give(void* p, size_t bytes) noexcept {
  thread_blocks<TensorBlocks>().give(pool(), p, bytes);
}

}  // namespace gpuaug
