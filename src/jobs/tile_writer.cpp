// TileFileWriter: npy tiles written in place with pwrite (any order, nothing held), png and jpg
// tile rows held until those above are encoded.
#include "jobs/tile_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "pipeline/augmenter.h"

namespace gpuaug::jobs {

std::optional<TileFileWriter::Format> TileFileWriter::format_named(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (lower == "png") return Format::kPng;
  if (lower == "jpg" || lower == "jpeg") return Format::kJpeg;
  if (lower == "npy") return Format::kNpy;
  return std::nullopt;
}

TileFileWriter::TileFileWriter(const std::string& path, Format format, const ops::FoldResult& fold,
                               Layout layout, int jpeg_quality)
    : format_(format),
      fold_(fold),
      layout_(layout),
      width_(fold.geometry.out_w),
      height_(fold.geometry.out_h),
      channels_(fold.channels),
      file_(path) {
  if (format == Format::kNpy) {
    const std::vector<uint8_t> header = npy_header(fold.dtype, layout, height_, width_, channels_);
    header_bytes_ = header.size();
    file_.append(header);
    return;
  }
  try {
    encoder_.emplace(
        format == Format::kPng ? codec::RowEncoder::Format::kPng : codec::RowEncoder::Format::kJpeg,
        width_, height_, channels_, jpeg_quality, [this](const uint8_t* data, size_t size) {
          file_.append({data, size});
        });
  } catch (const Error& e) {
    throw e.file().empty() ? e.with_file(path) : e;
  }
}

void TileFileWriter::put(const codec::Rect& w, const Tensor& t) {
  if (format_ == Format::kNpy) {
    // Each of the tile's rows (per channel in CHW) is one run of bytes in the file.
    const size_t e = dtype_size(t.dtype);
    const auto* src = reinterpret_cast<const uint8_t*>(t.data.data());
    const int planes = layout_ == Layout::kHWC ? 1 : channels_;
    const size_t run = size_t(w.width) * (layout_ == Layout::kHWC ? channels_ : 1) * e;
    for (int c = 0; c < planes; ++c)
      for (int y = 0; y < w.height; ++y) {
        const size_t element = layout_ == Layout::kHWC
                                   ? (size_t(w.y + y) * width_ + w.x) * channels_
                                   : (size_t(c) * height_ + w.y + y) * width_ + w.x;
        file_.write_at(header_bytes_ + element * e, {src + t.offset(y, 0, c) * e, run});
      }
    return;
  }
  const Image image = pipeline::viewable_image(t, fold_);
  Image* rows = nullptr;
  {
    const std::lock_guard lock(mutex_);
    PendingRows& p = pending_[w.y];
    if (p.rows.pixels.empty()) {
      p.rows = Image(width_, w.height, channels_);
      rows_held_ += size_t(w.height);
      largest_rows_held_ = std::max(largest_rows_held_, rows_held_);
    }
    rows = &p.rows;  // std::map's elements stay where they are
  }
  // Tiles of one tile row fill distinct columns of it.
  const size_t bytes = size_t(w.width) * channels_;
  for (int y = 0; y < w.height; ++y)
    std::memcpy(rows->row(y) + size_t(w.x) * channels_, image.row(y), bytes);
  const std::lock_guard lock(mutex_);
  pending_[w.y].pixels_in += size_t(w.width) * w.height;
}

void TileFileWriter::landed() {
  if (!encoder_) return;
  const std::lock_guard lock(mutex_);
  for (auto it = pending_.begin(); it != pending_.end() && it->first == encoder_->rows_written();
       it = pending_.erase(it)) {
    const Image& rows = it->second.rows;
    if (it->second.pixels_in < size_t(rows.width) * rows.height) break;
    std::vector<const uint8_t*> pointers;
    for (int y = 0; y < rows.height; ++y) pointers.push_back(rows.row(y));
    encoder_->write(pointers.data(), rows.height);
    rows_held_ -= size_t(rows.height);
  }
}

void TileFileWriter::commit() {
  if (encoder_) {
    if (!pending_.empty() || encoder_->rows_written() != height_)
      throw Error(
          "", "tile",
          fmt::format("internal: {} of {} output rows written", encoder_->rows_written(), height_));
    encoder_->finish();
  }
  file_.commit();
}

}  // namespace gpuaug::jobs
