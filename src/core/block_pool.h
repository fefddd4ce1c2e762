// BlockPool: the memory of decoded images and output tensors, kept mapped for reuse so that a
// long run's host memory stays flat; PoolAllocator puts a std::vector's elements in one.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace gpuaug {

// Why not malloc: glibc serves each thread from an arena of its own, and malloc_trim never cuts
// a thread arena's top. Per-image buffers of changing sizes (decoded regions, tensors) push
// some arena's top a little higher now and then, so RSS creeps up epoch after epoch though
// nothing leaks (+3-7% over 100 epochs at 16 threads, bench/RESULTS.md).
//
// Blocks have sizes of quarter powers of two, are faulted in when mapped (so a larger buffer in
// a block later does not raise RSS) and stay mapped for the next buffer. Each thread keeps the
// two largest blocks it gave back for its own next takes, which take the smallest of them that
// fits: a loop whose threads free what they took (decode, execute, drop) then settles on two
// blocks a thread however its threads interleave (a shared list alone would creep up to the
// most buffers ever alive at one moment). Decoders reserve the whole image for a crop of it
// (codec/jpeg_decoder.cpp), so the block a thread keeps fits every later crop. A thread that
// frees more blocks than it keeps without taking one in between (a batch's tensors, freed once
// the batch is copied out) sends them all to the shared list, kept by size, which then holds
// one batch's buffers for whichever threads make the next. Steady state maps nothing.
class BlockPool {
 public:
  // Smaller buffers are malloc's (its caches serve small sizes well); larger ones too, so that
  // a job over photos of every size (clean, stats: whole images) does not keep two blocks of
  // the largest a thread. The shared list keeps at most kMaxFreeBytes.
  static constexpr size_t kMinBytes = size_t(32) << 10;
  static constexpr size_t kMaxBytes = size_t(4) << 20;
  static constexpr size_t kMaxFreeBytes = size_t(1) << 30;

  BlockPool() = default;
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A block of round_up(bytes) from the shared list, or newly mapped; aligned as operator new's,
  // not zeroed (new blocks are). Throws std::bad_alloc.
  void* take(size_t bytes);
  // Back to the shared list: `p` from take(bytes), with the same `bytes`.
  void give(void* p, size_t bytes) noexcept;

  size_t free_blocks() const;    // on the shared list
  size_t mapped_blocks() const;  // taken, kept by threads and on the shared list
  size_t mapped_bytes() const;

  // The size a request is rounded up to: its mapping a quarter power of two (2^k, 1.25, 1.5 or
  // 1.75 x 2^k), so that few sizes recur and each wastes under a quarter.
  static size_t round_up(size_t bytes);
  static bool pooled(size_t bytes) { return bytes >= kMinBytes && bytes <= kMaxBytes; }

 private:
  friend struct ThreadBlocks;
  void put(std::byte* base) noexcept;  // a block of this pool back: shared list or unmapped
  void unmap(std::byte* base) noexcept;

  mutable std::mutex mutex_;
  std::map<size_t, std::vector<std::byte*>> free_;  // by block size, the last given back on top
  size_t free_blocks_ = 0, free_bytes_ = 0;
  size_t mapped_ = 0, mapped_bytes_ = 0;
};

// The pools of decoded images (Image::pixels) and of output tensors (Tensor::data). take and
// give go through the calling thread's cache of the pool first. The pools live until the
// process ends (buffers held by other static objects come back during exit).
struct ImageBlocks {
  static BlockPool& pool();
  static void* take(size_t bytes);
  static void give(void* p, size_t bytes) noexcept;
};
struct TensorBlocks {
  static BlockPool& pool();
  static void* take(size_t bytes);
  static void give(void* p, size_t bytes) noexcept;
};

// Hands the calling thread's cached blocks of both pools to their shared lists, for a thread
// that may end before its next take: a Python thread's join returns before the thread's C++
// thread-locals are destroyed, so the thread that replaces it could map new blocks while the
// old one's are still on their way back.
void release_thread_blocks() noexcept;

// release_thread_blocks() at the end of a scope; declared first, after the scope's buffers
// are freed.
struct ReleaseThreadBlocks {
  ReleaseThreadBlocks() = default;
  ~ReleaseThreadBlocks() { release_thread_blocks(); }
  ReleaseThreadBlocks(const ReleaseThreadBlocks&) = delete;
  ReleaseThreadBlocks& operator=(const ReleaseThreadBlocks&) = delete;
};

// A std::allocator whose memory comes from Pool::take (ImageBlocks, TensorBlocks).
template <typename T, typename Pool>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U, Pool>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(Pool::take(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { Pool::give(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const PoolAllocator<U, Pool>&) const noexcept {
    return true;
  }
};

}  // namespace gpuaug
