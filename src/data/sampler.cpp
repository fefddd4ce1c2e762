// Epoch order (Philox-driven Fisher-Yates) and DistributedSampler-style sharding.
#include "data/sampler.h"

#include <numeric>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/random.h"

namespace gpuaug::data {

namespace {
// Counter words no operator reaches (a SampleId stream hits 0xFFFFFF only at copy 65535, and
// operator indices are small), so shuffling never shares draws with an augmentation.
constexpr uint64_t kShuffleIndex = 0;
constexpr uint32_t kShuffleStream = 0xFFFFFFu;
constexpr uint32_t kShuffleOp = 0xFFFFFFFFu;
}  // namespace

std::vector<uint64_t> epoch_order(uint64_t n, uint64_t seed, uint64_t epoch, bool shuffle) {
  std::vector<uint64_t> order(n);
  std::iota(order.begin(), order.end(), uint64_t{0});
  if (!shuffle || n < 2) return order;
  RandomStream stream(RandomKey::from(seed, epoch), kShuffleIndex, kShuffleStream, kShuffleOp);
  for (uint64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<uint64_t>(stream.randint(0, static_cast<int64_t>(i + 1)));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::vector<uint64_t> shard(const std::vector<uint64_t>& order, int rank, int world_size,
                            bool drop_last) {
  if (world_size < 1) {
    throw Error("", "shard", "world_size " + std::to_string(world_size) + " must be at least 1");
  }
  if (rank < 0 || rank >= world_size) {
    throw Error(
        "", "shard",
        "rank " + std::to_string(rank) + " is outside [0, " + std::to_string(world_size) + ")");
  }
  const auto n = static_cast<uint64_t>(order.size());
  const auto world = static_cast<uint64_t>(world_size);
  // DistributedSampler: num_samples = ceil(n / world), or floor(n / world) with drop_last
  // (its ceil((n - world) / world) is the floor whenever n is not a multiple).
  const uint64_t per_rank = drop_last ? n / world : (n + world - 1) / world;
  std::vector<uint64_t> mine;
  mine.reserve(per_rank);
  for (uint64_t k = 0; k < per_rank; ++k) {
    const uint64_t position = static_cast<uint64_t>(rank) + k * world;
    // Positions past the end wrap to the start: the padding repeats the order from its first
    // element, as DistributedSampler's indices += indices[:padding_size] (cyclically) does.
    mine.push_back(order[position % n]);
  }
  return mine;
}

}  // namespace gpuaug::data
