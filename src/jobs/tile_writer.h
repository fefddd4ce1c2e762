// The output file of `tile` (and of augment's images above --tile-threshold) written as its tiles
// land, so that the output is never whole in memory: a tile row's tiles gather in a band, and a
// complete band goes to its place in an npy file at once, or to the png/jpg encoder in order.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "codec/encoder.h"
#include "core/tensor.h"
#include "jobs/output_files.h"
#include "jobs/tiled_sample.h"
#include "ops/fold.h"

namespace gpuaug::jobs {

class TileFileWriter final : public TileSink {
 public:
  enum class Format { kPng, kJpeg, kNpy };
  // npy: tiles whose rows are runs of at least this many bytes go straight to the file (below).
  static constexpr size_t kDirectBytes = 4096;
  // "png", "jpg" or "jpeg", "npy" (any case); nullopt for another name.
  static std::optional<Format> format_named(const std::string& name);

  // The output of `fold` (its size, channels and dtype, and its normalize undone for png and
  // jpg as pipeline::viewable_image does) in `layout`, to `path` through an AtomicFile. The
  // encoder's refusals (channels, a JPEG too wide) throw with no file named: they are the
  // image's, which the caller names.
  TileFileWriter(const std::string& path, Format format, const ops::FoldResult& fold, Layout layout,
                 int jpeg_quality, size_t direct_bytes = kDirectBytes);

  // From several threads at once, each with another window.
  void put(const codec::Rect& window, const Tensor& tile) override;
  // Complete bands go out: npy ones to their offsets in any order (one write a band, a channel
  // in CHW, unless written tile by tile); png and jpg ones once those above are written (a vertical
  // flip's land bottom up, so there every band is held until the top one lands).
  void landed() override;
  // After the last tile: the file is complete (every row written, the encoder finished) and
  // closed, not yet in place. Throws if a row is missing.
  void finish();
  // Moves the finished file into place.
  void commit();

  // The most output rows held at once, waiting to be written.
  size_t largest_rows_held() const { return largest_rows_held_; }

 private:
  struct Band {
    Tensor tensor;   // npy gathered: the band's output in the output's dtype and layout
    Image rows;      // png, jpg: its 8-bit rows
    int height = 0;  // the tile row's
    size_t pixels_in = 0;
  };
  void write_npy_band(int y, const Tensor& band);
  void write_npy_tile(const codec::Rect& window, const Tensor& tile);

  Format format_;
  const ops::FoldResult& fold_;
  Layout layout_;
  int width_, height_, channels_;
  AtomicFile file_;
  size_t header_bytes_ = 0;  // npy
  // npy: tiles whose rows are runs of at least direct_bytes_ go straight to the file (nothing
  // held: a 4096-pixel tile row of a 50000-pixel-wide float output would be a 2.4 GB band);
  // narrower ones gather in bands, so that tiny tiles do not make millions of tiny writes.
  // Decided by the first tile, for the writer's life.
  size_t direct_bytes_;
  std::optional<bool> direct_;
  std::optional<codec::RowEncoder> encoder_;  // png, jpg
  std::mutex mutex_;
  std::map<int, Band> pending_;  // by the band's first output row
  int rows_written_ = 0;
  bool finished_ = false;
  size_t rows_held_ = 0, largest_rows_held_ = 0;
};

}  // namespace gpuaug::jobs
