// BlockPool: blocks come back for reuse, grow to the largest request, are dropped when older
// than the block size; a thread reuses what it gave back; images and tensors live in the pools
// and still start zeroed (images) or keep their bytes when copied (tensors).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "core/block_pool.h"
#include "core/tensor.h"

namespace gpuaug {
namespace {

constexpr size_t kKiB = 1024;

TEST(BlockPool, RoundsToQuarterPowersOfTwoWithTheHeader) {
  for (size_t bytes : {BlockPool::kMinBytes, size_t(100) * kKiB, size_t(301056), size_t(562500),
                       size_t(1) << 20, BlockPool::kMaxBytes}) {
    const size_t r = BlockPool::round_up(bytes);
    EXPECT_GE(r, bytes);
    EXPECT_LE(r, bytes + bytes / 4 + 64) << bytes;
    EXPECT_EQ((r + 64) % 4096, 0u) << bytes;  // whole pages with the header
    EXPECT_EQ(BlockPool::round_up(r), r);
  }
  EXPECT_EQ(BlockPool::round_up(562500), 640 * kKiB - 64);
  EXPECT_EQ(BlockPool::round_up(524224), 512 * kKiB - 64);
}

TEST(BlockPool, ReusesTheBlockGivenBackForItsSize) {
  BlockPool pool;
  void* a = pool.take(100 * kKiB);
  std::memset(a, 7, 100 * kKiB);
  pool.give(a, 100 * kKiB);
  EXPECT_EQ(pool.free_blocks(), 1u);
  void* b = pool.take(100 * kKiB - 10);  // the same size once rounded: the same block
  EXPECT_EQ(a, b);
  void* c = pool.take(60 * kKiB);  // another size: a block of its own
  EXPECT_NE(b, c);
  EXPECT_EQ(pool.mapped_blocks(), 2u);
  EXPECT_EQ(pool.mapped_bytes(), BlockPool::round_up(100 * kKiB) + BlockPool::round_up(60 * kKiB));
  pool.give(b, 100 * kKiB - 10);
  pool.give(c, 60 * kKiB);
  EXPECT_EQ(pool.free_blocks(), 2u);
  EXPECT_EQ(pool.take(60 * kKiB), c);
  EXPECT_EQ(pool.take(100 * kKiB), a);
  pool.give(a, 100 * kKiB);
  pool.give(c, 60 * kKiB);
}

TEST(BlockPool, SmallAndHugeBuffersAreMallocs) {
  BlockPool pool;
  void* small = pool.take(BlockPool::kMinBytes - 1);
  void* huge = pool.take(BlockPool::kMaxBytes + 1);
  EXPECT_EQ(pool.mapped_blocks(), 0u);
  pool.give(small, BlockPool::kMinBytes - 1);
  pool.give(huge, BlockPool::kMaxBytes + 1);
  EXPECT_EQ(pool.free_blocks(), 0u);
}

TEST(BlockPool, ManyThreadsNeverShareABlock) {
  BlockPool pool;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const size_t bytes = (64 + size_t((i * 37 + t * 11) % 400)) * kKiB;
        auto* p = static_cast<unsigned char*>(pool.take(bytes));
        std::memset(p, t + 1, bytes);
        std::this_thread::yield();
        for (size_t k = 0; k < bytes; k += 4093)
          if (p[k] != t + 1) ++failures;
        pool.give(p, bytes);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<size_t> sizes;
  for (size_t k = 64; k < 464; ++k) sizes.insert(BlockPool::round_up(k * kKiB));
  EXPECT_LE(pool.mapped_blocks(), 8 * sizes.size());  // at most one a thread of each size
  EXPECT_EQ(pool.free_blocks(), pool.mapped_blocks());
}

// ImageBlocks and TensorBlocks go through the calling thread's cache first. Each test runs in
// a process of its own (gtest_discover_tests), on a thread of its own here.
TEST(ThreadBlocks, AThreadReusesWhatItGaveBack) {
  std::thread([] {
    BlockPool& pool = ImageBlocks::pool();
    void* a = ImageBlocks::take(600 * kKiB);
    const size_t shared = pool.free_blocks(), mapped = pool.mapped_blocks();
    ImageBlocks::give(a, 600 * kKiB);
    EXPECT_EQ(pool.free_blocks(), shared);   // kept by this thread, not shared
    void* b = ImageBlocks::take(40 * kKiB);  // a smaller buffer: the same block
    EXPECT_EQ(a, b);
    EXPECT_EQ(pool.mapped_blocks(), mapped);
    ImageBlocks::give(b, 40 * kKiB);
  }).join();
}

TEST(ThreadBlocks, AThreadKeepsItsLargestBlocksAndTakesTheBestFit) {
  std::thread([] {
    BlockPool& pool = ImageBlocks::pool();
    void* a = ImageBlocks::take(600 * kKiB);
    void* b = ImageBlocks::take(100 * kKiB);
    ImageBlocks::give(a, 600 * kKiB);
    ImageBlocks::give(b, 100 * kKiB);
    EXPECT_EQ(ImageBlocks::take(50 * kKiB), b);  // the smallest that holds it
    ImageBlocks::give(b, 50 * kKiB);
    EXPECT_EQ(ImageBlocks::take(500 * kKiB), a);
    ImageBlocks::give(a, 500 * kKiB);
    const size_t shared = pool.free_blocks();
    void* d = ImageBlocks::take(700 * kKiB);  // neither holds it: a block of its own
    EXPECT_NE(d, a);
    ImageBlocks::give(d, 700 * kKiB);  // kept instead of the smallest, which is shared
    EXPECT_EQ(pool.free_blocks(), shared + 1);
    EXPECT_EQ(ImageBlocks::take(650 * kKiB), d);
    EXPECT_EQ(ImageBlocks::take(100 * kKiB), a);
    ImageBlocks::give(d, 650 * kKiB);
    ImageBlocks::give(a, 100 * kKiB);
  }).join();
}

TEST(ThreadBlocks, AThreadKeepsTwoAndGivesABatchToTheSharedList) {
  BlockPool& pool = TensorBlocks::pool();
  const size_t before = pool.free_blocks();
  std::thread([&] {
    void* a = TensorBlocks::take(100 * kKiB);
    void* b = TensorBlocks::take(100 * kKiB);
    TensorBlocks::give(a, 100 * kKiB);
    TensorBlocks::give(b, 100 * kKiB);
    EXPECT_EQ(pool.free_blocks(), before);  // both kept by this thread
    std::vector<void*> batch;
    for (int i = 0; i < 5; ++i) batch.push_back(TensorBlocks::take(100 * kKiB));
    for (void* p : batch) TensorBlocks::give(p, 100 * kKiB);
    EXPECT_EQ(pool.free_blocks(), before + 5);  // a batch: all shared, none kept
    void* c = TensorBlocks::take(100 * kKiB);
    TensorBlocks::give(c, 100 * kKiB);
    EXPECT_EQ(pool.free_blocks(), before + 4);  // a take ends the batch: kept again
    release_thread_blocks();
    EXPECT_EQ(pool.free_blocks(), before + 5);
  }).join();
  EXPECT_EQ(pool.mapped_blocks(), pool.free_blocks());
}

TEST(ThreadBlocks, AThreadsBlocksGoToTheSharedListWhenItEnds) {
  BlockPool& pool = ImageBlocks::pool();
  std::thread([&] {
    void* a = ImageBlocks::take(100 * kKiB);
    void* b = ImageBlocks::take(100 * kKiB);
    ImageBlocks::give(a, 100 * kKiB);
    ImageBlocks::give(b, 100 * kKiB);
    EXPECT_EQ(pool.free_blocks() + 2, pool.mapped_blocks());  // both kept by this thread
  }).join();
  EXPECT_EQ(pool.free_blocks(), pool.mapped_blocks());
}

TEST(ThreadBlocks, BlocksFreedOnAnotherThreadAreReused) {
  // A batch's tensors: made on worker threads, freed by the thread that copies the batch out.
  BlockPool& pool = TensorBlocks::pool();
  const size_t before = pool.mapped_blocks();
  std::vector<size_t> mapped;
  for (int round = 0; round < 4; ++round) {
    std::vector<Tensor> batch(16);
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w)
      workers.emplace_back([&batch, w] {
        for (int k = w; k < 16; k += 4)
          batch[size_t(k)] = Tensor(DType::kFloat32, Layout::kCHW, 64, 64, 3);
      });
    for (auto& t : workers) t.join();
    mapped.push_back(pool.mapped_blocks() - before);
  }
  // The 16 alive at once, whichever threads take the next batch: the freeing thread keeps none.
  for (size_t m : mapped) EXPECT_EQ(m, 16u);
}

TEST(PooledBuffers, ImagesStartZeroedInAReusedBlock) {
  {
    Image dirty(200, 100, 3);
    std::memset(dirty.pixels.data(), 0xAB, dirty.pixels.size());
  }
  const Image image(200, 100, 3);
  for (uint8_t v : image.pixels) ASSERT_EQ(v, 0);
  EXPECT_GE(ImageBlocks::pool().mapped_blocks(), 1u);
}

TEST(PooledBuffers, AnImageCanReserveRoomForALargerOne) {
  const Image image(10, 10, 3, 600 * kKiB);
  EXPECT_EQ(image.pixels.size(), 300u);
  EXPECT_GE(image.pixels.capacity(), 600 * kKiB);
  for (uint8_t v : image.pixels) ASSERT_EQ(v, 0);
  EXPECT_EQ(Image(20, 10, 3, 10).pixels.capacity(), 600u);  // never less than the image
}

TEST(PooledBuffers, TensorBytesCopyAndMove) {
  Tensor a(DType::kUInt8, Layout::kHWC, 128, 128, 3);
  for (size_t i = 0; i < a.data.size(); ++i) a.data.data()[i] = std::byte(i * 7);
  const Tensor b = a;
  ASSERT_EQ(b.data.size(), a.data.size());
  EXPECT_NE(b.data.data(), a.data.data());
  EXPECT_EQ(std::memcmp(a.data.data(), b.data.data(), a.data.size()), 0);
  const std::byte* where = a.data.data();
  Tensor c = std::move(a);
  EXPECT_EQ(c.data.data(), where);
  EXPECT_EQ(a.data.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  Tensor small(DType::kUInt8, Layout::kHWC, 2, 2, 1);  // below the pool's sizes
  small = std::move(c);
  EXPECT_EQ(small.data.data(), where);
}

}  // namespace
}  // namespace gpuaug
