// tile: one (huge) image through a spec, its output cut into tiles that are computed one by one
// from their own source regions and stitched — byte-identical to the whole image at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/gpu_workers.h"

namespace gpuaug::jobs {

struct TileOptions {
  std::string spec_path;
  std::string input;   // one image file
  std::string output;  // .png, .jpg/.jpeg (8-bit, normalize undone) or .npy (the exact tensor)
  int tile = 4096;     // side of an output tile; 0: the whole output as one tile
  uint64_t index = 0;  // the sample's index and epoch decide its random parameters
  uint64_t epoch = 0;
  std::optional<uint64_t> seed;
  int jpeg_quality = 95;
  int threads = 0;
  std::string device = "cpu";  // cpu, cuda, cuda:N, cuda:N,M,..., cuda:all: tiles in batches on the GPUs
};

struct TileSummary {
  int source_width = 0, source_height = 0;  // the decoded source (after EXIF orientation)
  int out_width = 0, out_height = 0;
  size_t tiles = 0;
  size_t largest_region_pixels = 0;  // the most source pixels one tile read (region and halo)
  // An upright JPEG or non-interlaced PNG in tiles is decoded in one pass whose rows are held
  // only while a tile row reads them: the most rows held at once (0: decoded whole).
  size_t largest_band_rows = 0;
  // png and jpg: the output is written as its tiles land; the most output rows held at once
  // waiting for the rows above them (0: npy, written in place as tiles land).
  size_t largest_output_rows = 0;
  std::vector<pipeline::WorkerShare> shares;  // tiles each GPU worker computed
  double seconds = 0.0;
};

TileSummary run_tile(const TileOptions& options);
std::string tile_summary_text(const TileSummary& summary, const TileOptions& options);

}  // namespace gpuaug::jobs
