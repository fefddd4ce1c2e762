// detect_world: which launcher's variables win, local sizes and ranks, malformed values, and the
// communicator for one process (gather returns what it was given); chunks on demand go out once each.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "../common/references.h"
#include "dist/communicator.h"
#include "dist/world.h"

namespace gpuaug::dist {
namespace {

using gpuaug_test::expect_error;

const char* const kVariables[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "SLURM_PROCID",
                                  "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE",
                                  "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                                  "OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_RANK", "PMI_SIZE"};

class WorldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVariables) unsetenv(v);
  }
  void TearDown() override { SetUp(); }
};

TEST_F(WorldTest, NoLauncherIsOneProcess) {
  const World w = detect_world();
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.size, 1);
  EXPECT_FALSE(w.distributed());
  EXPECT_FALSE(w.mpi);
  EXPECT_EQ(communicator(w).gather("x"), std::vector<std::string>{"x"});
}

TEST_F(WorldTest, TorchrunThenOpenMpiThenSlurm) {
  setenv("SLURM_PROCID", "0", 1);
  setenv("SLURM_STEP_NUM_TASKS", "1", 1);
  setenv("OMPI_COMM_WORLD_RANK", "3", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "8", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
  World w = detect_world();  // mpirun inside an allocation: Open MPI's rank
  EXPECT_EQ(w.launcher, "mpirun");
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.size, 8);
  EXPECT_EQ(w.local_size, 4);
  EXPECT_TRUE(w.mpi);
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "2", 1);
  w = detect_world();
  EXPECT_EQ(w.launcher, "torchrun");
  EXPECT_EQ(w.rank, 1);
  EXPECT_EQ(w.size, 2);
  EXPECT_EQ(w.local_size, 1);
}

// An sbatch --ntasks=6 script (or a salloc shell) has SLURM_PROCID 0 and SLURM_NTASKS 6 but no
// step: one process, which must do all of the work.
TEST_F(WorldTest, SlurmBatchScriptIsOneProcess) {
  setenv("SLURM_PROCID", "0", 1);
  setenv("SLURM_NTASKS", "6", 1);
  setenv("SLURM_LOCALID", "0", 1);
  const World w = detect_world();
  EXPECT_EQ(w.size, 1);
  EXPECT_FALSE(w.distributed());
  EXPECT_EQ(w.launcher, "");
}

TEST_F(WorldTest, Slurm) {
  setenv("SLURM_PROCID", "5", 1);
  setenv("SLURM_NTASKS", "6", 1);
  setenv("SLURM_STEP_NUM_TASKS", "6", 1);
  setenv("SLURM_NTASKS_PER_NODE", "3", 1);
  const World w = detect_world();
  EXPECT_EQ(w.launcher, "slurm");
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.local_size, 3);
  EXPECT_GE(threads_per_process(w), 1);
}

TEST_F(WorldTest, LocalRanks) {
  setenv("RANK", "5", 1);
  setenv("WORLD_SIZE", "8", 1);
  setenv("LOCAL_RANK", "1", 1);
  setenv("LOCAL_WORLD_SIZE", "4", 1);
  World w = detect_world();
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_size, 4);
  // Explicit GPU lists are taken as written, whatever the local rank.
  EXPECT_EQ(device_list_name(process_devices("cuda:0,2", w)), "cuda:0,2");
  for (const char* v : kVariables) unsetenv(v);
  // srun without --ntasks-per-node: SLURM_LOCALID alone says how many share the machine at least.
  setenv("SLURM_PROCID", "3", 1);
  setenv("SLURM_STEP_NUM_TASKS", "4", 1);
  setenv("SLURM_LOCALID", "3", 1);
  w = detect_world();
  EXPECT_EQ(w.local_rank, 3);
  EXPECT_EQ(w.local_size, 4);
  for (const char* v : kVariables) unsetenv(v);
  setenv("OMPI_COMM_WORLD_RANK", "2", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  w = detect_world();
  EXPECT_EQ(w.local_rank, 0);
  EXPECT_EQ(w.local_size, 2);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "x", 1);
  EXPECT_THROW(detect_world(), Error);
}

TEST_F(WorldTest, MalformedValuesAreNamed) {
  setenv("RANK", "two", 1);
  setenv("WORLD_SIZE", "4", 1);
  Error e = expect_error([] { detect_world(); });
  EXPECT_EQ(e.stage(), "world");
  EXPECT_NE(e.cause().find("RANK='two'"), std::string::npos) << e.cause();
  setenv("RANK", "4", 1);
  e = expect_error([] { detect_world(); });
  EXPECT_NE(e.cause().find("rank 4 of 4"), std::string::npos) << e.cause();
}

TEST_F(WorldTest, JobsForOneProcessRefuseSeveral) {
  EXPECT_NO_THROW(require_one_process(detect_world(), "reduce"));
  setenv("RANK", "0", 1);
  setenv("WORLD_SIZE", "2", 1);
  const Error e = expect_error([] { require_one_process(detect_world(), "reduce"); });
  EXPECT_EQ(e.stage(), "world");
  EXPECT_NE(e.cause().find("reduce runs in one process"), std::string::npos) << e.cause();
  EXPECT_NE(e.cause().find("RANK, WORLD_SIZE"), std::string::npos) << e.cause();
}

}  // namespace
}  // namespace gpuaug::dist

namespace gpuaug::dist {
namespace {

// Work on demand within a process: every chunk goes out exactly once, whoever asks.
TEST(ChunkQueue, EveryChunkOnceAcrossThreads) {
  constexpr uint64_t kChunks = 10000;
  ChunkQueue queue(kChunks);
  std::vector<std::atomic<int>> taken(kChunks);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      while (const auto c = queue.next()) taken[*c].fetch_add(1);
    });
  for (auto& t : threads) t.join();
  for (uint64_t c = 0; c < kChunks; ++c) ASSERT_EQ(taken[c].load(), 1) << c;
  EXPECT_FALSE(queue.next().has_value());
  ChunkQueue empty(0);
  EXPECT_FALSE(empty.next().has_value());
}

TEST(AnyRank, OneProcessKeepsItsFlags) {
  World one;
  const std::vector<bool> flags{true, false, false, true};
  EXPECT_EQ(any_rank(communicator(one), flags), flags);
  EXPECT_TRUE(shares_work_on_demand(one));
}

}  // namespace
}  // namespace gpuaug::dist
