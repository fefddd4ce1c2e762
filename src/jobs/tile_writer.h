// The output file of `tile` written as its tiles land, so that rank 0 never holds the whole
// output: npy bytes go straight to their place in the file, png and jpg rows to the encoder.
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
  // "png", "jpg" or "jpeg", "npy" (any case); nullopt for another name.
  static std::optional<Format> format_named(const std::string& name);

  // The output of `fold` (its size, channels and dtype, and its normalize undone for png and
  // jpg as pipeline::viewable_image does) in `layout`, to `path` through an AtomicFile.
  TileFileWriter(const std::string& path, Format format, const ops::FoldResult& fold, Layout layout,
                 int jpeg_quality);

  void put(const codec::Rect& window, const Tensor& tile) override;
  // png and jpg: the tile rows now complete and next in order go to the encoder; a tile row
  // below one still missing waits (a vertical flip's rows land from the bottom up, so there
  // the whole output is held).
  void landed() override;
  // After the last tile: the file is complete and moved into place.
  void commit();

  // png and jpg: the most output rows held at once, waiting for the encoder.
  size_t largest_rows_held() const { return largest_rows_held_; }

 private:
  struct PendingRows {
    Image rows;  // the tile row's output rows, 8-bit
    size_t pixels_in = 0;
  };

  Format format_;
  const ops::FoldResult& fold_;
  Layout layout_;
  int width_, height_, channels_;
  AtomicFile file_;
  size_t header_bytes_ = 0;                   // npy
  std::optional<codec::RowEncoder> encoder_;  // png, jpg
  std::mutex mutex_;
  std::map<int, PendingRows> pending_;  // by the tile row's first output row
  size_t rows_held_ = 0, largest_rows_held_ = 0;
};

}  // namespace gpuaug::jobs
