// ThreadPool: every index runs exactly once, exceptions reach the caller, the pool is reusable
// across many calls, and Error's message format.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace gpuaug {
namespace {

class ThreadPoolSizes : public ::testing::TestWithParam<int> {};

TEST_P(ThreadPoolSizes, EveryIndexRunsOnce) {
  ThreadPool pool(GetParam());
  EXPECT_GE(pool.size(), 1);
  for (size_t n : {size_t(0), size_t(1), size_t(3), size_t(1000)}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, [&](size_t i) { hits[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << n;
  }
}

TEST_P(ThreadPoolSizes, ExceptionPropagatesAndPoolStaysUsable) {
  ThreadPool pool(GetParam());
  std::atomic<int> ran{0};
  try {
    pool.parallel_for(200, [&](size_t i) {
      ran.fetch_add(1);
      if (i == 17) throw std::runtime_error("item 17 failed");
    });
    FAIL() << "expected the exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "item 17 failed");
  }
  EXPECT_GE(ran.load(), 1);
  EXPECT_LE(ran.load(), 200);
  // The failure does not leak into the next call.
  std::atomic<int> count{0};
  pool.parallel_for(50, [&](size_t) { count.fetch_add(1); });
  EXPECT_EQ(count.load(), 50);
}

TEST_P(ThreadPoolSizes, GpuaugErrorKeepsItsType) {
  ThreadPool pool(GetParam());
  try {
    pool.parallel_for(10, [](size_t i) {
      if (i == 3) throw Error("a.jpg", "decode", "bad");
    });
    FAIL() << "expected the exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "a.jpg");
    EXPECT_EQ(e.stage(), "decode");
  }
}

// A job loop (as bench and augment run batches): 100 calls back to back, each complete before
// the next starts, with results landing by index.
TEST_P(ThreadPoolSizes, HundredCallsInALoop) {
  ThreadPool pool(GetParam());
  for (int call = 0; call < 100; ++call) {
    const size_t n = 1 + size_t(call % 13) * 7;
    std::vector<int> out(n, -1);
    pool.parallel_for(n, [&](size_t i) { out[i] = int(i) * call; });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], int(i) * call) << "call " << call;
  }
}

// Each item of an outer pool runs a loop of parallel_for calls on its own inner pool.
TEST_P(ThreadPoolSizes, InnerPoolsInsideOuterItems) {
  ThreadPool outer(GetParam());
  std::vector<long> totals(4, 0);
  outer.parallel_for(4, [&](size_t k) {
    ThreadPool inner(2);
    for (int call = 0; call < 25; ++call) {
      std::atomic<long> sum{0};
      inner.parallel_for(20, [&](size_t i) { sum.fetch_add(long(i)); });
      totals[k] += sum.load();
    }
  });
  for (long t : totals) EXPECT_EQ(t, 25 * 190);
}

INSTANTIATE_TEST_SUITE_P(Threads, ThreadPoolSizes, ::testing::Values(1, 3, 0));

// parallel_for called from inside an item of the same pool, 100 times in a loop. Run on a
// helper thread so that a hang shows as a failure instead of stalling the suite.
TEST(ThreadPool, NestedCallOnTheSamePool) {
  auto pool = std::make_shared<ThreadPool>(3);
  auto done = std::make_shared<std::promise<long>>();
  auto result = done->get_future();
  std::thread([pool, done] {
    try {
      long total = 0;
      for (int call = 0; call < 100; ++call) {
        std::atomic<long> sum{0};
        pool->parallel_for(4, [&](size_t) {
          pool->parallel_for(5, [&](size_t i) { sum.fetch_add(long(i)); });
        });
        total += sum.load();
      }
      done->set_value(total);
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  }).detach();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "nested parallel_for on one pool hangs";
  EXPECT_EQ(result.get(), 100L * 4 * 10);
}

TEST(Error, WhatIsFileStageCause) {
  const Error e("photos/cat.jpg", "decode", "Premature end of JPEG file");
  EXPECT_STREQ(e.what(), "photos/cat.jpg: decode: Premature end of JPEG file");
  EXPECT_EQ(e.file(), "photos/cat.jpg");
  EXPECT_EQ(e.stage(), "decode");
  EXPECT_EQ(e.cause(), "Premature end of JPEG file");
}

TEST(Error, EmptyFileLeavesStageAndCause) {
  const Error e("", "spec", "line 3: unknown key 'sed'");
  EXPECT_STREQ(e.what(), "spec: line 3: unknown key 'sed'");
  const Error attributed = e.with_file("aug.yaml");
  EXPECT_STREQ(attributed.what(), "aug.yaml: spec: line 3: unknown key 'sed'");
  EXPECT_EQ(attributed.stage(), "spec");
  EXPECT_EQ(attributed.cause(), "line 3: unknown key 'sed'");
}

}  // namespace
}  // namespace gpuaug
