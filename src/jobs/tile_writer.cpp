// TileFileWriter: a band per tile row, filled by the tiles as they land (tile copies, or their
// 8-bit view for png and jpg), written once complete.
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
                               Layout layout, int jpeg_quality, size_t direct_bytes)
    : format_(format),
      fold_(fold),
      layout_(layout),
      width_(fold.geometry.out_w),
      height_(fold.geometry.out_h),
      channels_(fold.channels),
      file_(path),
      direct_bytes_(direct_bytes) {
  if (format == Format::kNpy) {
    const std::vector<uint8_t> header = npy_header(fold.dtype, layout, height_, width_, channels_);
    header_bytes_ = header.size();
    file_.append(header);
    return;
  }
  encoder_.emplace(
      format == Format::kPng ? codec::RowEncoder::Format::kPng : codec::RowEncoder::Format::kJpeg,
      width_, height_, channels_, jpeg_quality, [this](const uint8_t* data, size_t size) {
        file_.append({data, size});
      });
}

void TileFileWriter::put(const codec::Rect& w, const Tensor& t) {
  const bool npy = format_ == Format::kNpy;
  Band* band = nullptr;
  bool direct = false;
  {
    const std::lock_guard lock(mutex_);
    if (npy && !direct_) {
      const size_t run = size_t(w.width) * (layout_ == Layout::kHWC ? channels_ : 1);
      direct_ = run * dtype_size(t.dtype) >= direct_bytes_;
    }
    direct = npy && *direct_;
    auto [it, made] = pending_.try_emplace(w.y);
    if (made) it->second.height = w.height;
    if (made && !direct) {
      if (npy)
        it->second.tensor = Tensor(fold_.dtype, layout_, w.height, width_, channels_);
      else
        it->second.rows = Image(width_, w.height, channels_);
      rows_held_ += size_t(w.height);
      largest_rows_held_ = std::max(largest_rows_held_, rows_held_);
    }
    band = &it->second;  // std::map's elements stay where they are
  }
  // The tiles of one band fill distinct columns of it (or of the file), so no lock here.
  if (direct) {
    write_npy_tile(w, t);
  } else if (npy) {
    TensorSink(band->tensor).put({w.x, 0, w.width, w.height}, t);
  } else {
    const Image image = pipeline::viewable_image(t, fold_);
    const size_t bytes = size_t(w.width) * channels_;
    for (int y = 0; y < w.height; ++y)
      std::memcpy(band->rows.row(y) + size_t(w.x) * channels_, image.row(y), bytes);
  }
  const std::lock_guard lock(mutex_);
  band->pixels_in += size_t(w.width) * w.height;
}

void TileFileWriter::write_npy_tile(const codec::Rect& w, const Tensor& t) {
  const size_t e = dtype_size(t.dtype);
  for_each_tile_run(w, t, width_, height_, [&](size_t element, const uint8_t* run, size_t bytes) {
    file_.write_at(header_bytes_ + element * e, {run, bytes});
  });
}

void TileFileWriter::write_npy_band(int y, const Tensor& band) {
  const size_t e = dtype_size(band.dtype);
  const auto* data = reinterpret_cast<const uint8_t*>(band.data.data());
  if (layout_ == Layout::kHWC) {
    // The band's rows are one run of the file.
    file_.write_at(header_bytes_ + size_t(y) * width_ * channels_ * e, {data, band.data.size()});
    return;
  }
  const size_t plane = size_t(band.height) * width_ * e;
  for (int c = 0; c < channels_; ++c)
    file_.write_at(header_bytes_ + (size_t(c) * height_ + y) * width_ * e,
                   {data + size_t(c) * plane, plane});
}

void TileFileWriter::landed() {
  const std::lock_guard lock(mutex_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    Band& band = it->second;
    const bool direct = format_ == Format::kNpy && *direct_;  // written tile by tile: held nothing
    const int rows = band.height;
    const bool complete = band.pixels_in == size_t(width_) * rows;
    if (format_ == Format::kNpy) {
      if (!complete) {
        ++it;
        continue;
      }
      if (!direct) write_npy_band(it->first, band.tensor);
    } else {
      if (!complete || it->first != rows_written_) break;
      std::vector<const uint8_t*> pointers;
      for (int y = 0; y < rows; ++y) pointers.push_back(band.rows.row(y));
      encoder_->write(pointers.data(), rows);
    }
    rows_written_ += rows;
    if (!direct) rows_held_ -= size_t(rows);
    it = pending_.erase(it);
  }
}

void TileFileWriter::finish() {
  if (finished_) return;
  if (!pending_.empty() || rows_written_ != height_)
    throw Error("", "tile",
                fmt::format("internal: {} of {} output rows written", rows_written_, height_));
  if (encoder_) encoder_->finish();
  finished_ = true;
}

void TileFileWriter::commit() {
  finish();
  file_.commit();
}

}  // namespace gpuaug::jobs
