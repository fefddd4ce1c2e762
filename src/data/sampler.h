// Epoch order and per-rank shards: which dataset indices each rank reads, in which order.
#pragma once

#include <cstdint>
#include <vector>

namespace gpuaug::data {

// The order of one epoch: identity when !shuffle, else a permutation that depends only on
// (seed, epoch, n) — Fisher-Yates driven by RandomStream(RandomKey::from(seed, epoch), index=0,
// stream=0xFFFFFF, op_index=0xFFFFFFFF) (a stream no operator uses). Every rank computes it alike.
// The exact walk, for anyone reproducing it: for i = n-1 down to 1, j = randint(0, i + 1),
// swap(order[i], order[j]).
std::vector<uint64_t> epoch_order(uint64_t n, uint64_t seed, uint64_t epoch, bool shuffle);

// torch.utils.data.DistributedSampler semantics on that order: with drop_last=false pad by
// repeating from the start until the length is a multiple of world_size, with drop_last=true
// cut to a multiple; rank r takes positions r, r+world, r+2*world, ... Errors (stage "shard")
// for world_size < 1 or rank outside [0, world_size).
std::vector<uint64_t> shard(const std::vector<uint64_t>& order, int rank, int world_size,
                            bool drop_last);

}  // namespace gpuaug::data
