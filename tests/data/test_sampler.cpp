// Tests for epoch_order (determinism, permutation, golden orders) and shard (DistributedSampler).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "core/error.h"
#include "data/sampler.h"

namespace gpuaug::data {
namespace {

using Order = std::vector<uint64_t>;

Order iota_order(uint64_t n) {
  Order order(n);
  std::iota(order.begin(), order.end(), uint64_t{0});
  return order;
}

TEST(EpochOrder, SameSeedAndEpochGiveTheSameOrder) {
  EXPECT_EQ(epoch_order(1000, 42, 3, true), epoch_order(1000, 42, 3, true));
}

TEST(EpochOrder, DifferentEpochOrSeedGivesADifferentOrder) {
  const Order base = epoch_order(1000, 42, 3, true);
  EXPECT_NE(base, epoch_order(1000, 42, 4, true));
  EXPECT_NE(base, epoch_order(1000, 43, 3, true));
  // The seed's high half counts too (RandomKey folds it in).
  EXPECT_NE(base, epoch_order(1000, 42 + (uint64_t{1} << 32), 3, true));
}

TEST(EpochOrder, IsAPermutationThatMovesElements) {
  for (uint64_t n : {0u, 1u, 2u, 3u, 17u, 1000u}) {
    Order order = epoch_order(n, 7, 0, true);
    ASSERT_EQ(order.size(), n);
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, iota_order(n)) << "n=" << n;
  }
  EXPECT_NE(epoch_order(1000, 7, 0, true), iota_order(1000));
}

TEST(EpochOrder, NoShuffleIsIdentity) {
  EXPECT_EQ(epoch_order(0, 1, 2, false), Order{});
  EXPECT_EQ(epoch_order(37, 1, 2, false), iota_order(37));
}

// Golden orders from an independent Python model (Philox4x32-10 from the Random123 spec,
// checked against its known answer 0x6627e8d5 for zero counter and key, plus the RandomKey /
// RandomStream word layout and the Fisher-Yates walk the header documents). Other
// implementations (the Python package, other ranks) must reproduce exactly these.
TEST(EpochOrder, MatchesIndependentModel) {
  EXPECT_EQ(epoch_order(10, 0, 0, true), (Order{5, 0, 9, 2, 6, 1, 3, 7, 4, 8}));
  EXPECT_EQ(epoch_order(10, 0, 1, true), (Order{4, 8, 7, 5, 9, 3, 0, 1, 6, 2}));
  EXPECT_EQ(epoch_order(12, 0x123456789ABCDEF0ull, 7, true),
            (Order{8, 9, 10, 5, 2, 0, 3, 1, 4, 11, 6, 7}));
}

// Hand-worked from DistributedSampler's code: n=10, world=4.
// drop_last=false: total 12, padded order [0..9, 0, 1]; drop_last=true: total 8.
TEST(Shard, MatchesDistributedSamplerByHand) {
  const Order order = iota_order(10);
  EXPECT_EQ(shard(order, 0, 4, false), (Order{0, 4, 8}));
  EXPECT_EQ(shard(order, 1, 4, false), (Order{1, 5, 9}));
  EXPECT_EQ(shard(order, 2, 4, false), (Order{2, 6, 0}));
  EXPECT_EQ(shard(order, 3, 4, false), (Order{3, 7, 1}));
  EXPECT_EQ(shard(order, 0, 4, true), (Order{0, 4}));
  EXPECT_EQ(shard(order, 3, 4, true), (Order{3, 7}));
  // Padding longer than the order repeats it again (n=1, world=4).
  for (int rank = 0; rank < 4; ++rank) EXPECT_EQ(shard(Order{9}, rank, 4, false), Order{9});
  // Fewer samples than ranks with drop_last: every rank gets nothing, as in torch.
  for (int rank = 0; rank < 4; ++rank) EXPECT_TRUE(shard(Order{9, 8, 7}, rank, 4, true).empty());
  EXPECT_TRUE(shard(Order{}, 0, 4, false).empty());
}

struct ShardCase {
  uint64_t n;
  bool drop_last;
};

class ShardCover : public ::testing::TestWithParam<ShardCase> {};

// Ranks 0..3 of world 4 on a shuffled order: equal lengths; interleaving them rank by rank
// rebuilds the padded (or cut) order, so they are disjoint and together cover the whole when
// n divides, and only the padding repeats (the order's first elements) when it does not.
TEST_P(ShardCover, RanksPartitionTheOrder) {
  const auto [n, drop_last] = GetParam();
  constexpr int kWorld = 4;
  const Order order = epoch_order(n, 123, 5, true);
  std::vector<Order> shards;
  for (int rank = 0; rank < kWorld; ++rank) shards.push_back(shard(order, rank, kWorld, drop_last));

  const uint64_t per_rank = drop_last ? n / kWorld : (n + kWorld - 1) / kWorld;
  for (const Order& s : shards) EXPECT_EQ(s.size(), per_rank);

  Order interleaved;
  for (uint64_t k = 0; k < per_rank; ++k) {
    for (const Order& s : shards) interleaved.push_back(s[k]);
  }
  Order expected(order.begin(),
                 order.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(n, per_rank * kWorld)));
  for (uint64_t i = n; i < per_rank * kWorld; ++i) expected.push_back(order[i - n]);
  EXPECT_EQ(interleaved, expected);

  std::multiset<uint64_t> all(interleaved.begin(), interleaved.end());
  if (n % kWorld == 0) {
    EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), n);  // disjoint, whole
    EXPECT_EQ(all.size(), n);
  } else if (drop_last) {
    EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), all.size());  // disjoint
    EXPECT_EQ(all.size(), n - n % kWorld);
  } else {
    EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), n);  // covers all
    EXPECT_EQ(all.size(), n + (kWorld - n % kWorld));
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ShardCover,
                         ::testing::Values(ShardCase{16, false}, ShardCase{16, true},
                                           ShardCase{17, false}, ShardCase{17, true},
                                           ShardCase{19, false}, ShardCase{19, true},
                                           ShardCase{2, false}, ShardCase{2, true}),
                         [](const auto& info) {
                           return "n" + std::to_string(info.param.n) +
                                  (info.param.drop_last ? "_drop" : "_pad");
                         });

TEST(Shard, WorldOfOneIsTheWholeOrder) {
  const Order order = epoch_order(13, 1, 1, true);
  EXPECT_EQ(shard(order, 0, 1, false), order);
  EXPECT_EQ(shard(order, 0, 1, true), order);
}

void expect_shard_error(int rank, int world_size, const std::string& cause) {
  try {
    shard(iota_order(8), rank, world_size, false);
    ADD_FAILURE() << "no error for rank " << rank << " world " << world_size;
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "");
    EXPECT_EQ(e.stage(), "shard");
    EXPECT_EQ(e.cause(), cause);
    EXPECT_EQ(std::string(e.what()), "shard: " + cause);
  }
}

TEST(Shard, RejectsBadWorldAndRank) {
  expect_shard_error(0, 0, "world_size 0 must be at least 1");
  expect_shard_error(0, -2, "world_size -2 must be at least 1");
  expect_shard_error(4, 4, "rank 4 is outside [0, 4)");
  expect_shard_error(-1, 4, "rank -1 is outside [0, 4)");
}

}  // namespace
}  // namespace gpuaug::data
