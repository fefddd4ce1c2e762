// clean's building blocks and the job itself: XXH64 and the pixel hash, dHash, the multi-index
// near-duplicate search against a brute-force scan, union-find groups, and run_clean/run_restore
// on a small tree of images written here.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../common/references.h"
#include "../common/temp_dir.h"
#include "codec/decoder.h"
#include "codec/encoder.h"
#include "core/content_hash.h"
#include "jobs/clean.h"
#include "jobs/near_duplicates.h"
#include "jobs/stop_signal.h"

namespace gpuaug::jobs {
namespace {

namespace fs = std::filesystem;

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Test vectors from the reference implementation (python-xxhash 3.x, xxh64_intdigest), which
// cover each tail length path and the 32-byte stripe loop.
TEST(ContentHash, Xxh64MatchesReferenceVectors) {
  EXPECT_EQ(xxh64(bytes_of("")), 0xef46db3751d8e999ULL);
  EXPECT_EQ(xxh64(bytes_of("a")), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(xxh64(bytes_of("abc")), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(xxh64(bytes_of("abcdefghijklmnopqrstuvwxyz12345")), 0x467605901b01d6f6ULL);
  std::string s99;
  for (int k = 0; k < 3; ++k) s99 += "abcdefghijklmnopqrstuvwxyz012345";
  s99 += "xyz";
  EXPECT_EQ(xxh64(bytes_of(s99)), 0x4cb5fa190b7faa27ULL);
  std::string s1029;
  for (int k = 0; k < 4; ++k)
    for (int b = 0; b < 256; ++b) s1029 += char(b);
  s1029 += "tail!";
  EXPECT_EQ(xxh64(bytes_of(s1029), 12345), 0xa6aa8be651361838ULL);
}

TEST(ContentHash, PixelHashSeesPixelsAndSize) {
  const Image a = gpuaug_test::make_image(17, 19, 3, 1);
  Image same = a;
  EXPECT_EQ(pixel_hash(a), pixel_hash(same));
  Image one_bit = a;
  one_bit.pixels[one_bit.pixels.size() / 2] ^= 1;
  EXPECT_NE(pixel_hash(a), pixel_hash(one_bit));
  EXPECT_NE(pixel_hash(a), pixel_hash(gpuaug_test::make_image(17, 19, 3, 2)));
  // Same bytes, other shape: 2x6 and 3x4 (and 6x2) of the same 36 bytes differ.
  Image w2(2, 6, 3), w3(3, 4, 3), w6(6, 2, 3);
  for (size_t k = 0; k < w2.pixels.size(); ++k)
    w2.pixels[k] = w3.pixels[k] = w6.pixels[k] = uint8_t(k * 7);
  EXPECT_NE(pixel_hash(w2), pixel_hash(w3));
  EXPECT_NE(pixel_hash(w2), pixel_hash(w6));
  EXPECT_NE(pixel_hash(w3), pixel_hash(w6));
  // Flat images of the same size but another value, and of another size.
  Image black(8, 8, 3), black9(9, 8, 3), gray(8, 8, 3);
  std::fill(gray.pixels.begin(), gray.pixels.end(), uint8_t(128));
  EXPECT_NE(pixel_hash(black), pixel_hash(gray));
  EXPECT_NE(pixel_hash(black), pixel_hash(black9));
}

// dHash from an independent per-cell computation: the mean of the gray values over each
// cell's rectangle in continuous coordinates, in long double (the header's formula).
uint64_t reference_dhash(const Image& img) {
  std::vector<long double> gray(size_t(img.width) * img.height);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.row(y) + size_t(x) * img.channels;
      gray[size_t(y) * img.width + x] = (19595 * p[0] + 38470 * p[1] + 7471 * p[2] + 32768) >> 16;
    }
  auto overlap = [](long double a0, long double a1, long double b0, long double b1) {
    return std::max(0.0L, std::min(a1, b1) - std::max(a0, b0));
  };
  long double cell[8][9];
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 9; ++c) {
      const long double y0 = r * (long double)img.height / 8,
                        y1 = (r + 1) * (long double)img.height / 8;
      const long double x0 = c * (long double)img.width / 9,
                        x1 = (c + 1) * (long double)img.width / 9;
      long double sum = 0;
      for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x)
          sum += overlap(y, y + 1, y0, y1) * overlap(x, x + 1, x0, x1) *
                 gray[size_t(y) * img.width + x];
      cell[r][c] = sum;
    }
  uint64_t h = 0;
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c)
      if (cell[r][c] + 1e-9L < cell[r][c + 1]) h |= uint64_t(1) << (r * 8 + c);
  return h;
}

TEST(Dhash, MatchesAreaAverageReference) {
  for (auto [w, h] :
       std::vector<std::pair<int, int>>{{9, 8}, {17, 19}, {40, 30}, {3, 5}, {100, 7}, {1, 1}}) {
    const Image img = gpuaug_test::make_image(w, h, 3, uint32_t(w * 31 + h));
    EXPECT_EQ(dhash(img), reference_dhash(img)) << w << "x" << h;
  }
}

TEST(Dhash, GradientsAndFlatImages) {
  Image ramp(90, 80, 3), flat(90, 80, 3);
  for (int y = 0; y < 80; ++y)
    for (int x = 0; x < 90; ++x)
      for (int c = 0; c < 3; ++c) ramp.row(y)[x * 3 + c] = uint8_t(x * 2);
  EXPECT_EQ(dhash(ramp), ~uint64_t(0));  // brighter to the right everywhere
  EXPECT_EQ(dhash(flat), 0u);
}

std::vector<std::pair<uint32_t, uint32_t>> brute_force_pairs(const std::vector<uint64_t>& h,
                                                             int d) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (uint32_t i = 0; i < h.size(); ++i)
    for (uint32_t j = i + 1; j < h.size(); ++j)
      if (std::popcount(h[i] ^ h[j]) <= d) out.emplace_back(i, j);
  return out;
}

// Random hashes plus planted neighbours at every distance up to d + 2 (so pairs just outside
// the radius are there to be wrongly found), and exact repeats.
std::vector<uint64_t> planted_hashes(uint32_t seed, size_t n, int max_flip) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> h;
  while (h.size() < n) {
    const uint64_t base = rng();
    h.push_back(base);
    const int copies = int(rng() % 3);
    for (int k = 0; k < copies && h.size() < n; ++k) {
      uint64_t near = base;
      const int flips = int(rng() % uint64_t(max_flip + 1));
      for (int f = 0; f < flips; ++f) near ^= uint64_t(1) << (rng() % 64);
      h.push_back(near);
    }
  }
  std::shuffle(h.begin(), h.end(), rng);
  return h;
}

TEST(NearPairs, MultiIndexEqualsBruteForce) {
  for (int d : {0, 1, 3, 6, 10, 17}) {
    for (uint32_t seed : {1u, 2u, 3u}) {
      const auto h = planted_hashes(seed * 100 + uint32_t(d), 1500, d + 2);
      const auto expected = brute_force_pairs(h, d);
      EXPECT_EQ(near_pairs(h, d), expected) << "d=" << d << " seed=" << seed;
      EXPECT_FALSE(expected.empty()) << "the plant should give near pairs, d=" << d;
    }
  }
}

TEST(NearPairs, EdgeCases) {
  EXPECT_TRUE(near_pairs(std::vector<uint64_t>{}, 6).empty());
  EXPECT_TRUE(near_pairs(std::vector<uint64_t>{5}, 6).empty());
  const std::vector<uint64_t> h = {0, ~uint64_t(0), 0, 1};
  EXPECT_TRUE(near_pairs(h, -1).empty());  // search off
  EXPECT_EQ(near_pairs(h, 0), (std::vector<std::pair<uint32_t, uint32_t>>{{0, 2}}));
  EXPECT_EQ(near_pairs(h, 63), brute_force_pairs(h, 63));
  EXPECT_EQ(near_pairs(h, 64), brute_force_pairs(h, 64));  // all six pairs
  EXPECT_EQ(near_pairs(h, 64).size(), 6u);
}

TEST(UnionFind, GroupsAreSortedAndLedBySmallest) {
  UnionFind sets(10);
  sets.unite(7, 3);
  sets.unite(9, 7);
  sets.unite(5, 1);
  sets.unite(8, 8);
  sets.unite(1, 5);  // again
  EXPECT_EQ(sets.find(9), 3u);
  EXPECT_EQ(sets.find(5), 1u);
  EXPECT_EQ(sets.groups(), (std::vector<std::vector<uint32_t>>{{1, 5}, {3, 7, 9}}));
  sets.unite(9, 5);  // joins both sets: led by 1
  EXPECT_EQ(sets.groups(), (std::vector<std::vector<uint32_t>>{{1, 3, 5, 7, 9}}));
  EXPECT_EQ(sets.find(7), 1u);
}

TEST(UnionFind, MatchesNaiveComponents) {
  std::mt19937 rng(5);
  const uint32_t n = 300;
  UnionFind sets(n);
  std::vector<uint32_t> label(n);
  for (uint32_t i = 0; i < n; ++i) label[i] = i;
  for (int k = 0; k < 200; ++k) {
    const uint32_t a = rng() % n, b = rng() % n;
    sets.unite(a, b);
    const uint32_t from = label[b], to = label[a];
    for (auto& l : label)
      if (l == from) l = to;
  }
  std::map<uint32_t, std::vector<uint32_t>> naive;
  for (uint32_t i = 0; i < n; ++i) naive[label[i]].push_back(i);
  std::vector<std::vector<uint32_t>> expected;
  for (auto& [l, members] : naive)
    if (members.size() >= 2) expected.push_back(members);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sets.groups(), expected);
}

// ---- The job on a small tree ------------------------------------------------------------

struct TempDir : gpuaug_test::TempDir {
  TempDir() : gpuaug_test::TempDir("clean") {}
};

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// A smooth picture from a seed: a few random plane waves, so dHashes of different seeds differ.
Image picture(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double fx[3], fy[3], ph[3];
  for (int k = 0; k < 3; ++k) {
    fx[k] = (u(rng) - 0.5) * 0.3;
    fy[k] = (u(rng) - 0.5) * 0.3;
    ph[k] = u(rng) * 6.28;
  }
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.row(y)[x * 3 + c] =
            uint8_t(127.5 + 120 * std::sin(fx[c] * x + fy[c] * y + ph[c]) *
                                std::cos(fx[(c + 1) % 3] * y + ph[(c + 2) % 3]));
  return img;
}

std::map<std::string, std::string> tree_bytes(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).generic_string();
    if (e.is_directory()) {
      out[rel] = "<dir>";
    } else {
      std::ifstream in(e.path(), std::ios::binary);
      out[rel] = std::string(std::istreambuf_iterator<char>(in), {});
    }
  }
  return out;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

struct SmallTree {
  fs::path input;
  std::map<std::string, std::vector<std::string>> expected;  // file -> reasons
};

SmallTree make_small_tree(const fs::path& root) {
  SmallTree t;
  t.input = root / "in";
  const Image base = picture(64, 48, 1);
  write_bytes(t.input / "a/base.png", codec::encode_png(base));
  write_bytes(t.input / "a/base_copy.png", codec::encode_png(base));
  Image brighter = base;
  for (auto& v : brighter.pixels) v = uint8_t(std::min(255, v + 6));
  write_bytes(t.input / "a/base_bright.png", codec::encode_png(brighter));
  for (uint32_t k = 0; k < 6; ++k)
    write_bytes(t.input / ("b/clean_" + std::to_string(k) + ".png"),
                codec::encode_png(picture(50, 40, 100 + k)));
  write_bytes(t.input / "b/png_named.jpg", codec::encode_png(picture(50, 40, 200)));
  write_bytes(t.input / "b/tiny.png", codec::encode_png(picture(20, 20, 300)));
  write_bytes(t.input / "b/empty.png", {});
  auto jpeg = codec::encode_jpeg(picture(64, 64, 400), 90);
  jpeg.resize(jpeg.size() / 2);
  write_bytes(t.input / "b/cut.jpg", jpeg);
  Image flat(40, 40, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t(90));
  write_bytes(t.input / "b/flat.png", codec::encode_png(flat));
  write_bytes(t.input / "b/strip.png", codec::encode_png(picture(200, 1, 500)));
  t.expected = {{"a/base_bright.png", {"near_duplicate"}},
                {"a/base_copy.png", {"duplicate"}},
                {"b/png_named.jpg", {"extension_mismatch"}},
                {"b/tiny.png", {"tiny"}},
                {"b/empty.png", {"zero_byte"}},
                {"b/cut.jpg", {"truncated"}},
                {"b/flat.png", {"near_constant"}},
                {"b/strip.png", {"tiny", "extreme_aspect"}}};
  return t;
}

TEST(RunClean, FindsPlantedProblemsAndQuarantineRoundTrips) {
  TempDir dir;
  const SmallTree tree = make_small_tree(dir.root());
  const auto before = tree_bytes(tree.input);
  CleanOptions options;
  options.input = tree.input.string();
  options.report_path = (dir.root() / "out/report.json").string();
  options.csv_path = (dir.root() / "out/report.csv").string();
  options.progress = false;
  options.threads = 3;
  const CleanSummary summary = run_clean(options);
  EXPECT_EQ(summary.images, 15u);
  EXPECT_EQ(summary.flagged, tree.expected.size());
  EXPECT_EQ(summary.duplicate_groups, 1u);
  EXPECT_EQ(summary.near_duplicate_groups, 1u);
  EXPECT_FALSE(fs::exists(options.report_path + ".journal"));  // finished
  const nlohmann::json report = read_json(options.report_path);
  std::map<std::string, std::vector<std::string>> found;
  for (const auto& f : report["findings"])
    found[f["file"]] = f["reasons"].get<std::vector<std::string>>();
  EXPECT_EQ(found, tree.expected);
  for (const auto& f : report["findings"])
    if (f["file"] == "a/base_copy.png" || f["file"] == "a/base_bright.png") {
      EXPECT_EQ(f["keeper"], "a/base.png");
      EXPECT_TRUE(f["group"].is_number());
    } else {
      EXPECT_TRUE(f["group"].is_null());
    }
  EXPECT_EQ(report["summary"]["tiny"], 2);
  EXPECT_EQ(report["summary"]["unreadable"], 0);
  EXPECT_EQ(tree_bytes(tree.input), before);  // untouched without --quarantine

  // Same report with one thread.
  CleanOptions one = options;
  one.threads = 1;
  one.report_path = (dir.root() / "out/report1.json").string();
  one.csv_path = (dir.root() / "out/report1.csv").string();
  run_clean(one);
  EXPECT_EQ(read_json(one.report_path), report);
  EXPECT_EQ(tree_bytes(dir.root() / "out")["report1.csv"],
            tree_bytes(dir.root() / "out")["report.csv"]);

  // Quarantine moves exactly the flagged files; restore brings the tree back.
  CleanOptions q = options;
  q.report_path = (dir.root() / "out/report_q.json").string();
  q.csv_path.clear();
  q.quarantine_dir = (dir.root() / "quarantine").string();
  const CleanSummary moved = run_clean(q);
  EXPECT_EQ(moved.quarantined, tree.expected.size());
  auto after = tree_bytes(tree.input);
  auto expected_after = before;
  for (const auto& [file, reasons] : tree.expected) {
    expected_after.erase(file);
    EXPECT_TRUE(fs::exists(fs::symlink_status(fs::path(q.quarantine_dir) / file))) << file;
  }
  EXPECT_EQ(after, expected_after);
  EXPECT_TRUE(fs::exists(fs::path(q.quarantine_dir) / kQuarantineManifest));
  EXPECT_EQ(run_restore(q.quarantine_dir, false), tree.expected.size());
  EXPECT_EQ(tree_bytes(tree.input), before);
  EXPECT_FALSE(fs::exists(fs::path(q.quarantine_dir) / kQuarantineManifest));
  EXPECT_TRUE(fs::is_empty(q.quarantine_dir));
}

TEST(RunClean, FileListNamingOneFileTwiceKeepsIt) {
  TempDir dir;
  const fs::path in = dir.root() / "in";
  write_bytes(in / "a.png", codec::encode_png(picture(60, 50, 1)));
  write_bytes(in / "b.png", codec::encode_png(picture(60, 50, 2)));
  {
    std::ofstream list(in / "list.txt");
    list << "a.png\n./a.png\nb.png\n";
  }
  CleanOptions options;
  options.input = (in / "list.txt").string();
  options.report_path = (dir.root() / "report.json").string();
  options.quarantine_dir = (dir.root() / "q").string();
  options.progress = false;
  const CleanSummary summary = run_clean(options);
  EXPECT_EQ(summary.by_reason.at("duplicate"), 1u);
  EXPECT_EQ(summary.quarantined, 0u);  // ./a.png is a.png itself
  EXPECT_TRUE(fs::exists(in / "a.png"));

  // --near-dup-distance -1 turns the near-duplicate search off.
  const SmallTree tree = make_small_tree(dir.root() / "tree");
  CleanOptions off;
  off.input = tree.input.string();
  off.report_path = (dir.root() / "off.json").string();
  off.near_dup_distance = -1;
  off.progress = false;
  const CleanSummary no_near = run_clean(off);
  EXPECT_EQ(no_near.near_duplicate_groups, 0u);
  EXPECT_EQ(no_near.duplicate_groups, 1u);
  EXPECT_EQ(no_near.by_reason.count("near_duplicate"), 0u);
}

TEST(RunClean, RefusesQuarantineInsideInput) {
  TempDir dir;
  const SmallTree tree = make_small_tree(dir.root());
  CleanOptions options;
  options.input = tree.input.string();
  options.report_path = (dir.root() / "report.json").string();
  options.quarantine_dir = (tree.input / "a" / "q").string();
  options.progress = false;
  const Error e = gpuaug_test::expect_error([&] { run_clean(options); });
  EXPECT_EQ(e.stage(), "quarantine");
  EXPECT_NE(e.cause().find("inside the input tree"), std::string::npos) << e.what();
  options.quarantine_dir = tree.input.string() + "/";
  EXPECT_THROW(run_clean(options), Error);
  EXPECT_FALSE(fs::exists(tree.input / "a" / "q"));
}

CleanOptions small_tree_options(const TempDir& dir, const SmallTree& tree) {
  CleanOptions options;
  options.input = tree.input.string();
  options.report_path = (dir.root() / "report.json").string();
  options.progress = false;
  options.threads = 2;
  return options;
}

// An uninterrupted run's report (removed after reading), then a run stopped before its first
// item: every item skipped, the journal left with its header alone.
nlohmann::json report_then_stopped_journal(const CleanOptions& options) {
  run_clean(options);
  const nlohmann::json reference = read_json(options.report_path);
  fs::remove(options.report_path);
  StopOnSignal stop;
  std::raise(SIGINT);
  EXPECT_THROW(run_clean(options), Interrupted);
  clear_stop_request();
  return reference;
}

TEST(RunClean, StopLeavesAJournalThatResumeUses) {
  TempDir dir;
  const SmallTree tree = make_small_tree(dir.root());
  CleanOptions options = small_tree_options(dir, tree);
  const nlohmann::json reference = report_then_stopped_journal(options);
  const fs::path journal = options.report_path + ".journal";
  ASSERT_TRUE(fs::exists(journal));
  EXPECT_FALSE(fs::exists(options.report_path));
  const Error fresh = gpuaug_test::expect_error([&] { run_clean(options); });
  EXPECT_EQ(fresh.stage(), "journal");
  EXPECT_NE(fresh.cause().find("--resume"), std::string::npos) << fresh.what();

  options.resume = true;
  CleanOptions other = options;
  other.min_side = 10;
  const Error changed = gpuaug_test::expect_error([&] { run_clean(other); });
  EXPECT_NE(changed.cause().find("min_side"), std::string::npos) << changed.what();

  // What a killed run leaves: entries for some files. A journalled entry is taken as it is (its
  // made-up finding shows in the report); one whose file has another size is analysed again.
  const auto size = [&](const char* f) { return int64_t(fs::file_size(tree.input / f)); };
  auto entry = [](const char* file, int64_t bytes, const char* detail) {
    return nlohmann::json{
        {"index", 0},
        {"file", file},
        {"size", bytes},
        {"status", "decoded"},
        {"width", 50},
        {"height", 40},
        {"pixel_hash", "0123456789abcdef"},
        {"dhash", "0"},
        {"channels", 3},
        {"mean", {0.0, 0.0, 0.0}},
        {"std", {0.0, 0.0, 0.0}},
        {"decoder", "cpu"},
        {"searchable", false},
        {"findings", nlohmann::json::array({nlohmann::json::array({"tiny", detail})})}};
  };
  {
    std::ofstream out(journal, std::ios::app);
    out << entry("b/clean_0.png", size("b/clean_0.png"), "from the journal").dump() << "\n";
    out << entry("b/clean_1.png", size("b/clean_1.png") + 1, "stale").dump() << "\n";
    out << R"({"index": 3, "file": "b/clean_2.png", "si)";  // torn by the kill: dropped
  }
  const CleanSummary resumed = run_clean(options);
  EXPECT_EQ(resumed.resumed, 1u);
  EXPECT_FALSE(fs::exists(journal));
  nlohmann::json report = read_json(options.report_path);
  ASSERT_FALSE(report["findings"].empty());
  bool seen = false;
  for (auto it = report["findings"].begin(); it != report["findings"].end(); ++it)
    if ((*it)["file"] == "b/clean_0.png") {
      EXPECT_EQ((*it)["detail"], "from the journal");
      report["findings"].erase(it);
      seen = true;
      break;
    }
  EXPECT_TRUE(seen);
  report["summary"]["tiny"] = report["summary"]["tiny"].get<int>() - 1;
  EXPECT_EQ(report, reference);  // everything else as an uninterrupted run
}

// What a GPU run journals for the files nvJPEG measured ("decoder": "nvjpeg": no pixel hash, its
// own values) is confirmed on the CPU where it might be an exact duplicate, and kept as it is
// elsewhere; runs here without a GPU, from a journal written as nvJPEG's would be.
TEST(RunClean, FilesNvjpegMeasuredAreDecodedAgainWhereTheyMightBeDuplicates) {
  TempDir dir;
  const SmallTree tree = make_small_tree(dir.root());
  CleanOptions options = small_tree_options(dir, tree);
  const nlohmann::json reference = report_then_stopped_journal(options);
  const fs::path journal = options.report_path + ".journal";
  ASSERT_TRUE(fs::exists(journal));
  // As nvJPEG might see them: a copy of a/base.png a little off (2 dHash bits, 0.2 level),
  // and a clean picture with a made-up finding, far from every other file.
  auto measured = [&](const char* file, int bits, double shift, nlohmann::json findings) {
    const codec::DecodedImage decoded = codec::decode_image(codec::read_file((tree.input / file).string()), {});
    const Image& image = decoded.image;
    std::array<double, 3> mean{}, sq{}, std{};
    const double n = double(image.width * image.height);
    for (size_t p = 0; p < image.pixels.size(); ++p) {
      mean[p % 3] += image.pixels[p];
      sq[p % 3] += double(image.pixels[p]) * image.pixels[p];
    }
    for (int c = 0; c < 3; ++c) {
      mean[size_t(c)] /= n;
      std[size_t(c)] = std::sqrt(std::max(0.0, sq[size_t(c)] / n - mean[size_t(c)] * mean[size_t(c)]));
      mean[size_t(c)] += shift;
    }
    return nlohmann::json{{"index", 0},
                          {"file", file},
                          {"size", int64_t(fs::file_size(tree.input / file))},
                          {"status", "decoded"},
                          {"width", image.width},
                          {"height", image.height},
                          {"pixel_hash", "0"},
                          {"dhash", fmt::format("{:016x}", dhash(image) ^ ((uint64_t(1) << bits) - 1))},
                          {"channels", 3},
                          {"mean", mean},
                          {"std", std},
                          {"decoder", "nvjpeg"},
                          {"searchable", true},
                          {"findings", std::move(findings)}};
  };
  {
    std::ofstream out(journal, std::ios::app);
    out << measured("a/base_copy.png", 2, 0.2, nlohmann::json::array()).dump() << "\n";
    out << measured("b/clean_3.png", 0, 40.0,
                    nlohmann::json::array({nlohmann::json::array({"tiny", "as measured"})}))
               .dump()
        << "\n";
  }
  options.resume = true;
  const CleanSummary summary = run_clean(options);
  EXPECT_EQ(summary.resumed, 2u);
  EXPECT_EQ(summary.measured_on_gpu, 2u);
  EXPECT_EQ(summary.confirmed_on_cpu, 1u);  // the copy: decoded again, found a duplicate again
  EXPECT_EQ(summary.largest_dhash_change, 2);
  EXPECT_NEAR(summary.largest_mean_change, 0.2, 1e-9);
  nlohmann::json report = read_json(options.report_path);
  bool seen = false;
  for (auto it = report["findings"].begin(); it != report["findings"].end(); ++it)
    if ((*it)["file"] == "b/clean_3.png") {
      EXPECT_EQ((*it)["detail"], "as measured");  // far from every file: kept as nvJPEG saw it
      report["findings"].erase(it);
      seen = true;
      break;
    }
  EXPECT_TRUE(seen);
  report["summary"]["tiny"] = report["summary"]["tiny"].get<int>() - 1;
  EXPECT_EQ(report, reference);
}

TEST(RunRestore, RefusesToOverwriteAndSkipsFilesAlreadyBack) {
  TempDir dir;
  const SmallTree tree = make_small_tree(dir.root());
  const auto before = tree_bytes(tree.input);
  CleanOptions options;
  options.input = tree.input.string();
  options.report_path = (dir.root() / "report.json").string();
  options.quarantine_dir = (dir.root() / "q").string();
  options.progress = false;
  run_clean(options);
  const fs::path q = options.quarantine_dir;
  // A file reappears at its original place: nothing moves.
  write_bytes(tree.input / "b/tiny.png", {1, 2, 3});
  const Error e = gpuaug_test::expect_error([&] { run_restore(q.string(), false); });
  EXPECT_EQ(e.stage(), "restore");
  EXPECT_NE(e.cause().find("never overwrites"), std::string::npos) << e.what();
  EXPECT_TRUE(fs::exists(q / "b/flat.png"));
  // Put back by hand (as a kill between the manifest line and the move leaves it): skipped.
  fs::remove(tree.input / "b/tiny.png");
  fs::rename(q / "b/tiny.png", tree.input / "b/tiny.png");
  EXPECT_EQ(run_restore(q.string(), false), tree.expected.size() - 1);
  EXPECT_EQ(tree_bytes(tree.input), before);
  const Error none = gpuaug_test::expect_error([&] { run_restore(q.string(), false); });
  EXPECT_NE(none.cause().find("no quarantine manifest"), std::string::npos) << none.what();
}

}  // namespace
}  // namespace gpuaug::jobs
