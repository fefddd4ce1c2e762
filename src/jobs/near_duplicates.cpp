// dHash, multi-index Hamming search and union-find for the clean job's near-duplicate groups.
#include "jobs/near_duplicates.h"

#include "core/pixel_moments.h"

#include <algorithm>
#include <array>
#include <bit>
#include <numeric>

namespace gpuaug::jobs {

namespace {

constexpr int kCols = 9, kRows = 8;

// For one axis of n pixels shrunk to k cells: the (cell, weight) pieces of each pixel, weights
// in units of 1/k pixel (see dhash in the header).
struct AxisPieces {
  std::vector<uint32_t> first;  // first[p] .. first[p + 1]: pixel p's pieces
  std::vector<int> cell;
  std::vector<int64_t> weight;
};

AxisPieces axis_pieces(int64_t n, int64_t k) {
  AxisPieces a;
  a.first.reserve(size_t(n) + 1);
  for (int64_t p = 0; p < n; ++p) {
    a.first.push_back(uint32_t(a.cell.size()));
    const int64_t lo = p * k, hi = (p + 1) * k;
    for (int64_t i = lo / n; i < k && i * n < hi; ++i) {
      const int64_t w = std::min(hi, (i + 1) * n) - std::max(lo, i * n);
      if (w > 0) {
        a.cell.push_back(int(i));
        a.weight.push_back(w);
      }
    }
  }
  a.first.push_back(uint32_t(a.cell.size()));
  return a;
}

}  // namespace

namespace {

// Cell i's weighted sum of one row: the pixels it covers fully weigh k, the (at most two) it
// covers in part weigh their overlap; equal to summing each pixel's pieces, just faster.
int64_t cell_sum(const int32_t* gray, int64_t n, int64_t k, int64_t i) {
  const int64_t lo = i * n, hi = (i + 1) * n;  // the cell, in units of 1/k pixel
  const int64_t p0 = lo / k, p1 = (hi - 1) / k;
  if (p0 == p1) return (hi - lo) * gray[p0];
  int32_t inner = 0;  // at most 255 * 2^23 under the pixel cap's widest row
  for (int64_t p = p0 + 1; p < p1; ++p) inner += gray[p];
  return ((p0 + 1) * k - lo) * gray[p0] + (hi - p1 * k) * gray[p1] + k * int64_t(inner);
}

}  // namespace

uint64_t dhash(const Image& image) {
  if (image.width <= 0 || image.height <= 0) return 0;
  const AxisPieces ys = axis_pieces(image.height, kRows);
  // At most 255 · width · height per cell: below 2^36 under the pixel cap.
  DhashCells sums{};
  std::array<int64_t, kCols> row_sums{};
  std::vector<int32_t> gray(size_t(image.width));
  const int c = image.channels;
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* px = image.row(y);
    if (c == 3) {
      rgb_to_gray(px, size_t(image.width), gray.data());
    } else if (c > 3) {
      for (int x = 0; x < image.width; ++x)
        gray[size_t(x)] = (19595 * int32_t(px[x * c]) + 38470 * int32_t(px[x * c + 1]) +
                           7471 * int32_t(px[x * c + 2]) + 32768) >> 16;
    } else {
      for (int x = 0; x < image.width; ++x) gray[size_t(x)] = px[x * c];
    }
    for (int i = 0; i < kCols; ++i) row_sums[size_t(i)] = cell_sum(gray.data(), image.width, kCols, i);
    for (uint32_t k = ys.first[size_t(y)]; k < ys.first[size_t(y) + 1]; ++k)
      for (int i = 0; i < kCols; ++i)
        sums[size_t(ys.cell[k])][size_t(i)] += uint64_t(ys.weight[k] * row_sums[size_t(i)]);
  }
  return dhash_from_cells(sums);
}

uint64_t dhash_from_cells(const DhashCells& sums) {
  uint64_t hash = 0;
  for (int r = 0; r < kRows; ++r)
    for (int i = 0; i + 1 < kCols; ++i)
      if (sums[size_t(r)][size_t(i)] < sums[size_t(r)][size_t(i) + 1])
        hash |= uint64_t(1) << (r * 8 + i);
  return hash;
}

std::vector<std::pair<uint32_t, uint32_t>> near_pairs(std::span<const uint64_t> hashes,
                                                      int max_distance) {
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  const size_t n = hashes.size();
  if (max_distance < 0 || n < 2) return pairs;
  if (max_distance >= 64) {
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = i + 1; j < n; ++j) pairs.emplace_back(i, j);
    return pairs;
  }
  const int chunks = max_distance + 1;
  std::vector<uint64_t> masks(static_cast<size_t>(chunks));
  for (int c = 0; c < chunks; ++c) {
    const int lo = c * 64 / chunks, hi = (c + 1) * 64 / chunks;
    masks[size_t(c)] = (hi - lo == 64 ? ~uint64_t(0) : ((uint64_t(1) << (hi - lo)) - 1)) << lo;
  }
  std::vector<std::pair<uint64_t, uint32_t>> bucket(n);  // (chunk value, index), sorted
  for (int c = 0; c < chunks; ++c) {
    for (uint32_t i = 0; i < n; ++i) bucket[i] = {hashes[i] & masks[size_t(c)], i};
    std::sort(bucket.begin(), bucket.end());
    for (size_t begin = 0; begin < n;) {
      size_t end = begin + 1;
      while (end < n && bucket[end].first == bucket[begin].first) ++end;
      for (size_t a = begin; a < end; ++a)
        for (size_t b = a + 1; b < end; ++b) {
          const uint32_t i = bucket[a].second, j = bucket[b].second;  // i < j: sorted by index
          const uint64_t diff = hashes[i] ^ hashes[j];
          if (std::popcount(diff) > max_distance) continue;
          // Counted once: at the first chunk the two agree on.
          bool earlier = false;
          for (int e = 0; e < c && !earlier; ++e) earlier = (diff & masks[size_t(e)]) == 0;
          if (!earlier) pairs.emplace_back(i, j);
        }
      begin = end;
    }
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

UnionFind::UnionFind(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0u); }

uint32_t UnionFind::find(uint32_t x) {
  while (parent_[x] != x) {
    parent_[x] = parent_[parent_[x]];
    x = parent_[x];
  }
  return x;
}

void UnionFind::unite(uint32_t a, uint32_t b) {
  a = find(a);
  b = find(b);
  if (a == b) return;
  if (b < a) std::swap(a, b);
  parent_[b] = a;  // the smaller root leads: see the header
}

std::vector<std::vector<uint32_t>> UnionFind::groups() {
  std::vector<std::vector<uint32_t>> by_root(parent_.size());
  for (uint32_t i = 0; i < parent_.size(); ++i) by_root[find(i)].push_back(i);
  std::vector<std::vector<uint32_t>> out;
  for (auto& members : by_root)
    if (members.size() >= 2) out.push_back(std::move(members));
  return out;  // roots are smallest members and members were pushed in order: all sorted
}

}  // namespace gpuaug::jobs
