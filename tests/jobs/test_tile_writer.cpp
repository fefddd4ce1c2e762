// Tests for the tile output path: run_tiled's groups of tile rows and sinks, and TileFileWriter
// (npy in place, png and jpg a tile row at a time in order) against the whole-output encoders.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "codec/encoder.h"
#include "core/thread_pool.h"
#include "jobs/output_files.h"
#include "jobs/tile_writer.h"
#include "jobs/tiled_sample.h"
#include "ops/fold.h"
#include "ops/random_affine.h"
#include "pipeline/augmenter.h"
#include "plan/plan.h"

namespace gpuaug::jobs {
namespace {

namespace fs = std::filesystem;

Image pattern(int w, int h) {
  Image image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        image.row(y)[x * 3 + c] = uint8_t((x * 7 + y * 13 + c * 50 + x * y) % 251);
  return image;
}

// A resize and a rotate: every tile reads a halo.
ops::FoldResult chain(int w, int h, DType dtype) {
  ops::SampleFold f(w, h);
  f.resize(97, 131, ops::Interp::kBilinear, true);
  ops::fold_affine(f, ops::inverse_affine_matrix(0, 0, -20, 0, 0, 1.0, 0, 0), 131, 97,
                   ops::Interp::kBilinear, {10, 20, 30});
  ops::FoldResult fold = f.finish();
  fold.dtype = dtype;
  return fold;
}

// Records what lands and when landed() is called, into a tensor.
struct RecordingSink : TileSink {
  Tensor whole;
  TensorSink into{whole};
  std::mutex mutex;
  std::vector<int> rows_at_landed;  // tile rows put before each landed()
  std::vector<int> tile_rows_put;
  RecordingSink(const ops::FoldResult& fold, Layout layout)
      : whole(fold.dtype, layout, fold.geometry.out_h, fold.geometry.out_w, fold.channels) {}
  void put(const codec::Rect& w, const Tensor& t) override {
    into.put(w, t);
    const std::lock_guard lock(mutex);
    if (w.x == 0) tile_rows_put.push_back(w.y);
  }
  void landed() override { rows_at_landed.push_back(int(tile_rows_put.size())); }
};

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const auto* p = reinterpret_cast<const uint8_t*>(t.data.data());
  return {p, p + t.data.size()};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Tiles go to a sink in groups of whole tile rows of at most group_bytes of output (at least
// one row), landed() after each, and stitch to the bytes of the tensor made in one go.
TEST(RunTiled, GroupsOfTileRowsLandInTurnWithTheSameBytes) {
  const Image src = pattern(150, 110);
  const ops::FoldResult fold = chain(src.width, src.height, DType::kFloat32);
  ThreadPool pool(3);
  const TiledSample whole = run_tiled(fold, src, {}, Layout::kCHW, 16, pool);
  ASSERT_EQ(whole.tiles, size_t(7 * 9));  // 97 rows, 131 columns in 16-px tiles
  const size_t row_bytes = size_t(131) * 3 * 4 * 16;
  for (const auto& [group_bytes, landings] : {std::pair{size_t(1), 7},
                                              {row_bytes * 2, 4},
                                              {row_bytes * 3 - 1, 4},
                                              {kSinkGroupBytes, 1}}) {
    RecordingSink sink(fold, Layout::kCHW);
    const TiledSample tiled =
        run_tiled(fold, src, {}, Layout::kCHW, 16, pool, {}, nullptr, &sink, group_bytes);
    EXPECT_EQ(tiled.tensor.data.size(), 0u);  // the sink has it
    EXPECT_EQ(bytes_of(sink.whole), bytes_of(whole.tensor)) << group_bytes;
    EXPECT_EQ(int(sink.rows_at_landed.size()), landings) << group_bytes;
    EXPECT_EQ(sink.rows_at_landed.back(), 7);
  }
}

// The writer's files are the whole-output encoders' bytes whatever order the tile rows land
// in; png and jpg rows wait for those above them (bottom-up landing holds everything), npy holds
// nothing.
TEST(TileFileWriter, AnyLandingOrderWritesTheWholeOutputsFile) {
  gpuaug_test::TempDir dir("tile_writer");
  const Image src = pattern(150, 110);
  ThreadPool pool(4);
  for (const DType dtype : {DType::kUInt8, DType::kFloat16}) {
    for (const Layout layout : {Layout::kHWC, Layout::kCHW}) {
      const ops::FoldResult fold = chain(src.width, src.height, dtype);
      const Tensor whole = run_tiled(fold, src, {}, layout, 0, pool).tensor;
      const std::vector<codec::Rect> windows = tile_windows(131, 97, 20);
      for (const bool bottom_up : {false, true}) {
        // npy twice: tiles gathered in bands (their rows too short to write alone), and each
        // written straight to the file.
        for (const auto& [format, direct_bytes] :
             {std::pair{TileFileWriter::Format::kNpy, TileFileWriter::kDirectBytes},
              {TileFileWriter::Format::kNpy, size_t(1)},
              {TileFileWriter::Format::kPng, TileFileWriter::kDirectBytes},
              {TileFileWriter::Format::kJpeg, TileFileWriter::kDirectBytes}}) {
          const fs::path path = dir.root() / "out.bin";
          TileFileWriter writer(path.string(), format, fold, layout, 90, direct_bytes);
          // Tile rows one at a time, top down or bottom up, each tile cut from the whole output.
          std::vector<int> ys;
          for (const auto& w : windows)
            if (w.x == 0) ys.push_back(w.y);
          if (bottom_up) std::reverse(ys.begin(), ys.end());
          // A tile row's tiles are put from the pool's threads at once, as compute_tiles does.
          for (const int y : ys) {
            std::vector<codec::Rect> row;
            for (const auto& w : windows)
              if (w.y == y) row.push_back(w);
            pool.parallel_for(row.size(), [&](size_t k) {
              const codec::Rect& w = row[k];
              Tensor t(dtype, layout, w.height, w.width, fold.channels);
              const size_t e = dtype_size(dtype);
              for (int c = 0; c < fold.channels; ++c)
                for (int r = 0; r < w.height; ++r)
                  for (int x = 0; x < w.width; ++x)
                    std::memcpy(t.data.data() + t.offset(r, x, c) * e,
                                whole.data.data() + whole.offset(w.y + r, w.x + x, c) * e, e);
              writer.put(w, t);
            });
            writer.landed();
          }
          EXPECT_FALSE(fs::exists(path));  // only the temporary until commit
          writer.commit();
          std::vector<uint8_t> want;
          if (format == TileFileWriter::Format::kNpy) {
            want = encode_npy(whole);
            // A band at a time, in any order; nothing when each tile goes straight out.
            EXPECT_EQ(writer.largest_rows_held(), direct_bytes == 1 ? 0u : 20u);
          } else {
            const Image image = pipeline::viewable_image(whole, fold);
            want = format == TileFileWriter::Format::kPng ? codec::encode_png(image)
                                                          : codec::encode_jpeg(image, 90);
            EXPECT_EQ(writer.largest_rows_held(), bottom_up ? 97u : 20u);
          }
          const std::string got = read_file(path);
          EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), want)
              << int(format) << " dtype " << int(dtype) << " layout " << int(layout)
              << " bottom_up " << bottom_up;
          fs::remove(path);
        }
      }
    }
  }
  EXPECT_TRUE(fs::is_empty(dir.root()));
}

// A writer dropped before commit (an error on the way) leaves neither the file nor a temporary;
// an output whose folder cannot be made names the path.
TEST(TileFileWriter, UncommittedLeavesNothing) {
  gpuaug_test::TempDir dir("tile_writer");
  const ops::FoldResult fold = chain(150, 110, DType::kUInt8);
  {
    TileFileWriter writer((dir.root() / "out.png").string(), TileFileWriter::Format::kPng, fold,
                          Layout::kHWC, 90);
    Tensor t(DType::kUInt8, Layout::kHWC, 20, 20, 3);
    writer.put({0, 0, 20, 20}, t);
    writer.landed();
  }
  EXPECT_TRUE(fs::is_empty(dir.root()));
  // A missing tile is an error at commit, for npy as for png, and the file never appears.
  for (const auto& [format, direct_bytes] :
       {std::pair{TileFileWriter::Format::kNpy, size_t(1)},
        {TileFileWriter::Format::kNpy, TileFileWriter::kDirectBytes},
        {TileFileWriter::Format::kPng, TileFileWriter::kDirectBytes}}) {
    TileFileWriter writer((dir.root() / "short.bin").string(), format, fold, Layout::kHWC, 90,
                          direct_bytes);
    for (const codec::Rect& w : tile_windows(131, 97, 50))
      if (w.y == 0) writer.put(w, Tensor(DType::kUInt8, Layout::kHWC, w.height, w.width, 3));
    writer.landed();
    try {
      writer.commit();
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.cause(), "internal: 50 of 97 output rows written");
    }
  }
  EXPECT_TRUE(fs::is_empty(dir.root()));
  std::ofstream(dir.root() / "file") << "x";
  const std::string inside = (dir.root() / "file" / "out.npy").string();
  try {
    TileFileWriter writer(inside, TileFileWriter::Format::kNpy, fold, Layout::kHWC, 90);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), inside);
    EXPECT_EQ(e.stage(), "write");
  }
}

}  // namespace
}  // namespace gpuaug::jobs
