// Near-duplicate search: the 64-bit dHash of an image, pairs of hashes within a Hamming
// distance found by multi-index hashing (no all-pairs scan), and union-find grouping.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace gpuaug::jobs {

// Difference hash (Krawetz, "Kind of Like That", 2013): the image in grayscale, shrunk to 9
// columns x 8 rows, bit (8·row + col) set when cell (row, col) is darker than (row, col + 1).
// Gray is Pillow's convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16 (1- and 2-channel
// images use their first channel). The shrink is a plain area average written here, not the
// resize operator: each cell is the exact, fractionally weighted mean of the pixels it covers
// (an antialiased box filter), summed in integers — a pixel p of an n-pixel axis gives cell i
// of k the length of [i·n, (i+1)·n) ∩ [p·k, (p+1)·k) — so the hash has no rounding to depend
// on and bench/clean_baseline.py computes the same bits with numpy. Every cell has the same
// total weight, so comparing sums compares means.
uint64_t dhash(const Image& image);

// The hash from the cell sums dhash computes (rows x columns, in its units): what the GPU's
// digest (plan/image_digest.h) gives.
using DhashCells = std::array<std::array<uint64_t, 9>, 8>;
uint64_t dhash_from_cells(const DhashCells& cells);

// Pairs (i, j), i < j, with popcount(hashes[i] ^ hashes[j]) <= max_distance, sorted; empty
// when max_distance < 0. Multi-index hashing (Norouzi, Punjani, Fleet, "Fast Search in Hamming
// Space with Multi-Index Hashing", CVPR 2012): the 64 bits are cut into max_distance + 1
// chunks; two hashes within max_distance differ in at most max_distance chunks, so by
// pigeonhole they agree exactly on at least one. Bucketing by (chunk, value) and checking only
// the pairs that share a bucket (counted at the first chunk they share) finds every pair with
// work near n·(max_distance + 1)·log n plus the candidates, instead of n²/2 comparisons.
// max_distance >= 64 puts every pair within reach (the answer itself is then n²/2 pairs).
std::vector<std::pair<uint32_t, uint32_t>> near_pairs(std::span<const uint64_t> hashes,
                                                      int max_distance);

// Disjoint sets over [0, n) (path halving); the root of a set is always its smallest member,
// so the first file in sorted order leads its group whatever order the unions came in.
class UnionFind {
 public:
  explicit UnionFind(size_t n);
  uint32_t find(uint32_t x);
  void unite(uint32_t a, uint32_t b);
  // The sets of two or more members, each sorted, ordered by their smallest member.
  std::vector<std::vector<uint32_t>> groups();

 private:
  std::vector<uint32_t> parent_;
};

}  // namespace gpuaug::jobs
