// BlockPool: blocks mapped whole and faulted in at once, a header holding each one's size; the
// shared list under a mutex, each thread's cache without one.
#include "core/block_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace gpuaug {

namespace {

// Before each block's memory: its size, so that a block of an older, smaller size is unmapped
// when it comes back. 64 bytes keep the memory cache-line aligned.
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
  for (std::byte* base : free_) munmap(base, kHeaderBytes + block_size(base));
}

size_t BlockPool::round_up(size_t bytes) {
  // The mapping, header included, is the quarter power of two (whole pages from kMinBytes up).
  const size_t mapped = kHeaderBytes + bytes;
  const size_t quarter = std::max<size_t>(std::bit_floor(mapped) / 4, 1);
  return (mapped + quarter - 1) / quarter * quarter - kHeaderBytes;
}

void BlockPool::expect(size_t bytes) {
  if (!pooled(bytes)) return;
  const size_t wanted = round_up(bytes);
  if (wanted <= block_bytes()) return;
  std::lock_guard lock(mutex_);
  if (wanted <= block_bytes_) return;
  // Every block is mapped at the new size from now on; smaller ones are dropped as they come
  // back, or as a thread finds them in its cache.
  block_bytes_ = wanted;
  for (std::byte* base : free_) munmap(base, kHeaderBytes + block_size(base));
  mapped_ -= free_.size();
  free_.clear();
}

void* BlockPool::take(size_t bytes) {
  if (!pooled(bytes)) return ::operator new(bytes);
  expect(bytes);
  size_t map_bytes;
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      std::byte* base = free_.back();
      free_.pop_back();
      return base + kHeaderBytes;
    }
    map_bytes = block_bytes_;
    ++mapped_;
  }
  try {
    return map_block(map_bytes) + kHeaderBytes;  // outside the lock: faulting in takes a while
  } catch (...) {
    std::lock_guard lock(mutex_);
    --mapped_;
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
  {
    std::lock_guard lock(mutex_);
    if (block_size(base) == block_bytes_ && (free_.size() + 1) * block_bytes_ <= kMaxFreeBytes) {
      free_.push_back(base);
      return;
    }
  }
  unmap(base);
}

void BlockPool::unmap(std::byte* base) noexcept {
  munmap(base, kHeaderBytes + block_size(base));
  std::lock_guard lock(mutex_);
  --mapped_;
}

size_t BlockPool::free_blocks() const {
  std::lock_guard lock(mutex_);
  return free_.size();
}

size_t BlockPool::mapped_blocks() const {
  std::lock_guard lock(mutex_);
  return mapped_;
}

// The blocks one thread gave back last, for its own next takes ahead of the shared list. Plain
// data, so that it can still be used after the thread's Flush ran (static objects destroyed
// after main's thread-locals): closed, it passes everything to the shared list.
struct ThreadBlocks {
  static constexpr int kBlocks = 2;  // an image and its turned-upright copy
  std::byte* blocks[kBlocks];
  int count;
  bool closed;
  // Set by a give that finds the cache full, until the next take: the thread is freeing a
  // batch (its own buffers and others'), and the next batch may be taken by other threads, so
  // every block of it goes to the shared list, the cached ones too.
  bool spilling;

  void* take(BlockPool& pool, size_t bytes) {
    if (!BlockPool::pooled(bytes)) return ::operator new(bytes);
    spilling = false;
    const size_t size = pool.block_bytes();
    if (BlockPool::round_up(bytes) <= size) {
      while (count > 0) {
        std::byte* base = blocks[--count];
        if (block_size(base) == size) return base + kHeaderBytes;
        pool.unmap(base);  // mapped before the block size last grew
      }
    }
    return pool.take(bytes);
  }

  void give(BlockPool& pool, void* p, size_t bytes) noexcept {
    if (p == nullptr) return;
    if (!BlockPool::pooled(bytes)) {
      ::operator delete(p);
      return;
    }
    std::byte* base = base_of(p);
    const size_t size = pool.block_bytes();
    if (!closed && !spilling && block_size(base) == size) {
      // Blocks kept from before the block size grew make room.
      for (int i = 0; i < count;) {
        if (block_size(blocks[i]) == size) {
          ++i;
          continue;
        }
        pool.unmap(blocks[i]);
        blocks[i] = blocks[--count];
      }
      if (count < kBlocks) {
        blocks[count++] = base;
        return;
      }
      spilling = true;
      release(pool);
    }
    pool.put(base);
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
