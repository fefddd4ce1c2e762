// Philox4x32-10 against the Random123 known-answer vectors, and RandomStream's counter layout,
// uniform range, integer bounds and determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "core/philox.h"
#include "core/random.h"

namespace gpuaug {
namespace {

struct Kat {
  std::array<uint32_t, 4> counter;
  std::array<uint32_t, 2> key;
  std::array<uint32_t, 4> expected;
};

// Random123 1.09 examples/kat_vectors, "philox4x32 10" lines.
const Kat kKats[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

TEST(Philox, Random123KnownAnswers) {
  for (const Kat& kat : kKats) {
    const Philox4 out = philox4x32_10(Philox4{{kat.counter[0], kat.counter[1], kat.counter[2], kat.counter[3]}},
                                      kat.key[0], kat.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], kat.expected[i]) << "word " << i << " of kat " << std::hex << kat.counter[0];
  }
}

TEST(Philox, UniformFloatUsesTheTop24Bits) {
  EXPECT_EQ(uniform_float(0u), 0.0f);
  EXPECT_EQ(uniform_float(0xFFu), 0.0f);  // low 8 bits dropped
  EXPECT_EQ(uniform_float(0x80000000u), 0.5f);
  EXPECT_EQ(uniform_float(0xFFFFFFFFu), float(16777215.0 / 16777216.0));
  EXPECT_LT(uniform_float(0xFFFFFFFFu), 1.0f);
}

// Counter = (index low word, stream ^ index high bits << 24, op, draw); key = RandomKey.
TEST(RandomStream, DrawsPhiloxBlocksInCounterOrder) {
  const RandomKey key{0x12345678u, 0x9abcdef0u};
  RandomStream rng(key, 41, 0x0203, 5);
  for (uint32_t draw = 0; draw < 3; ++draw) {
    const Philox4 block = philox4x32_10(Philox4{{41, 0x0203, 5, draw}}, key.k0, key.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(rng.next_u32(), block.v[i]) << "draw " << draw << " word " << i;
  }
}

TEST(RandomStream, UniformIs53BitsFromTwoWords) {
  const RandomKey key{7, 11};
  RandomStream rng(key, 3, 0, 1);
  const Philox4 block = philox4x32_10(Philox4{{3, 0, 1, 0}}, 7, 11);
  const double expected = (double(block.v[0] >> 5) * 67108864.0 + double(block.v[1] >> 6)) / 9007199254740992.0;
  EXPECT_EQ(rng.uniform(), expected);
}

TEST(RandomStream, UniformInUnitIntervalWithMeanOneHalf) {
  RandomStream rng(RandomKey::from(1, 0), 0, 0, 0);
  constexpr int kN = 100000;
  double sum = 0.0, lo = 1.0, hi = 0.0;
  for (int i = 0; i < kN; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u, lo = std::min(lo, u), hi = std::max(hi, u);
  }
  // Mean of kN uniforms: standard deviation sqrt(1/12/kN) ~ 0.0009; 6 sigma.
  EXPECT_NEAR(sum / kN, 0.5, 0.0055);
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1 - 1e-3);
}

TEST(RandomStream, UniformRangeStaysInside) {
  RandomStream rng(RandomKey::from(2, 0), 0, 0, 0);
  for (int i = 0; i < 10000; ++i) {
    const double u = rng.uniform(-3.0, 5.0);
    ASSERT_GE(u, -3.0);
    ASSERT_LT(u, 5.0);
  }
  RandomStream same(RandomKey::from(2, 0), 0, 0, 0);
  EXPECT_EQ(same.uniform(90.0, 90.0), 90.0);
}

TEST(RandomStream, RandintBoundsAndRoughUniformity) {
  RandomStream rng(RandomKey::from(3, 1), 9, 0, 2);
  std::map<int64_t, int> counts;
  constexpr int kN = 70000;
  for (int i = 0; i < kN; ++i) {
    const int64_t v = rng.randint(-3, 4);  // [-3, 4) like torch.randint
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 4);
    ++counts[v];
  }
  ASSERT_EQ(counts.size(), 7u);
  for (const auto& [v, n] : counts) EXPECT_NEAR(n, kN / 7, kN / 7 / 10) << "value " << v;
  // Degenerate ranges: one value (and an empty one) give lo without consuming the stream.
  EXPECT_EQ(rng.randint(5, 6), 5);
  EXPECT_EQ(rng.randint(5, 5), 5);
  // Spans beyond 32 bits.
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = rng.randint(0, int64_t(1) << 40);
    ASSERT_GE(v, 0);
    ASSERT_LT(v, int64_t(1) << 40);
  }
}

TEST(RandomStream, NormalHasUnitVariance) {
  RandomStream rng(RandomKey::from(4, 0), 0, 0, 0);
  constexpr int kN = 50000;
  double sum = 0.0, sum2 = 0.0;
  for (int i = 0; i < kN; ++i) {
    const double n = rng.normal();
    ASSERT_TRUE(std::isfinite(n));
    sum += n, sum2 += n * n;
  }
  EXPECT_NEAR(sum / kN, 0.0, 0.03);
  EXPECT_NEAR(sum2 / kN, 1.0, 0.03);
}

std::vector<uint32_t> first_words(RandomKey key, uint64_t index, uint32_t stream, uint32_t op) {
  RandomStream rng(key, index, stream, op);
  std::vector<uint32_t> words(9);
  for (auto& w : words) w = rng.next_u32();
  return words;
}

TEST(RandomStream, SameCounterSameValuesAnyChangeDiffers) {
  const RandomKey key = RandomKey::from(123, 4);
  const auto base = first_words(key, 17, 1, 2);
  EXPECT_EQ(first_words(key, 17, 1, 2), base);
  EXPECT_NE(first_words(RandomKey::from(124, 4), 17, 1, 2), base);
  EXPECT_NE(first_words(RandomKey::from(123, 5), 17, 1, 2), base);
  EXPECT_NE(first_words(key, 18, 1, 2), base);
  EXPECT_NE(first_words(key, 17 + (uint64_t(1) << 32), 1, 2), base);  // the high index word counts
  EXPECT_NE(first_words(key, 17, 2, 2), base);
  EXPECT_NE(first_words(key, 17, 1, 3), base);
}

TEST(RandomKey, SeedHalvesAndEpochAllCount) {
  std::set<std::pair<uint32_t, uint32_t>> keys;
  for (uint64_t seed : {uint64_t(0), uint64_t(1), uint64_t(1) << 32, (uint64_t(1) << 32) + 1})
    for (uint64_t epoch : {0, 1, 2}) {
      const RandomKey k = RandomKey::from(seed, epoch);
      keys.insert({k.k0, k.k1});
    }
  EXPECT_EQ(keys.size(), 12u);
}

TEST(SampleId, StreamPacksCopyAndCrop) {
  EXPECT_EQ((SampleId{5, 0, 0}.stream()), 0u);
  EXPECT_EQ((SampleId{5, 2, 3}.stream()), 0x203u);
  EXPECT_NE((SampleId{5, 1, 0}.stream()), (SampleId{5, 0, 1}.stream()));
}

}  // namespace
}  // namespace gpuaug
