// ThreadPool: every index runs exactly once, exceptions reach the caller, the pool is reusable
// across many calls, and Error's message format.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
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

// Several threads (one per GPU in the jobs) share one pool: every caller gets each of its
// indices run exactly once, its own exceptions only, and none waits for another's job.
TEST_P(ThreadPoolSizes, ConcurrentCallersShareThePool) {
  ThreadPool pool(GetParam());
  constexpr int kCallers = 4;
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < kCallers; ++c)
    callers.emplace_back([&, c] {
      for (int round = 0; round < 50; ++round) {
        const size_t n = size_t(1 + (c * 37 + round * 11) % 200);
        std::vector<std::atomic<int>> hits(n);
        try {
          pool.parallel_for(n, [&](size_t i) {
            hits[i].fetch_add(1);
            if (c == 1 && round % 7 == 3 && i == n / 2) throw std::runtime_error("caller 1 failed");
          });
          if (c == 1 && round % 7 == 3) wrong.fetch_add(1);  // its exception was lost
        } catch (const std::runtime_error& e) {
          if (c != 1 || std::string(e.what()) != "caller 1 failed") wrong.fetch_add(1);
          continue;
        }
        for (size_t i = 0; i < n; ++i)
          if (hits[i].load() != 1) wrong.fetch_add(1);
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A caller whose job is short returns while another caller's long items still run.
TEST(ThreadPool, ShortJobDoesNotWaitForALongOne) {
  ThreadPool pool(2);
  std::atomic<bool> release{false};
  std::atomic<int> long_started{0};
  std::thread long_caller([&] {
    pool.parallel_for(2, [&](size_t) {
      long_started.fetch_add(1);
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  });
  while (long_started.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::atomic<int> count{0};
  pool.parallel_for(20, [&](size_t) { count.fetch_add(1); });  // runs on this thread alone
  EXPECT_EQ(count.load(), 20);
  release = true;
  long_caller.join();
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
