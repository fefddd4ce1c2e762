// decode_png and PngRowReader: libpng calls behind setjmp guards, transforms to 8-bit RGB.
#include "codec/png_decoder.h"

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "codec/image_info.h"
#include "core/error.h"

namespace gpuaug::codec {

namespace {

struct Reader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::span<const uint8_t> bytes;
  size_t pos = 0;
  char message[256] = {};

  ~Reader() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
  Error error() const { return Error("", "decode", message); }
};

void on_error(png_structp png, png_const_charp message) {
  auto* reader = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof reader->message, "%s", message);
  png_longjmp(png, 1);
}

// libpng's warnings are about benign things (ancillary-chunk CRCs, odd profiles); data that
// cannot be decoded reaches on_error.
void on_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep out, size_t length) {
  auto* reader = static_cast<Reader*>(png_get_io_ptr(png));
  if (reader->bytes.size() - reader->pos < length) png_error(png, "truncated PNG data");
  std::memcpy(out, reader->bytes.data() + reader->pos, length);
  reader->pos += length;
}

// Runs step, whose libpng calls may longjmp back here on error. Neither this frame nor step
// may hold an object with a destructor while libpng runs; callers throw after it returns
// false.
template <typename Step>
bool guarded(Reader& r, const Step& step) {
  if (setjmp(png_jmpbuf(r.png))) return false;
  step();
  return true;
}

// Reads the header and sets up the transforms to 8-bit RGB rows; returns (width, height).
std::pair<png_uint_32, png_uint_32> start_reading(Reader& r, std::span<const uint8_t> bytes, uint64_t max_pixels) {
  if (bytes.empty()) throw Error("", "decode", "empty file");
  r.bytes = bytes;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
  if (r.png) r.info = png_create_info_struct(r.png);
  if (!r.png || !r.info) throw Error("", "decode", "cannot create a libpng reader");
  png_set_read_fn(r.png, &r, on_read);
  // Skip every ancillary chunk but tRNS (libpng's meaning of -1) unread: none changes the 8-bit
  // RGB we return, and libpng would otherwise allocate a chunk's claimed length before reading
  // it (a 44-byte file whose eXIf claims 1 GiB asked malloc for 1 GiB) and inflate zTXt/iCCP.
  png_set_keep_unknown_chunks(r.png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);

  png_uint_32 width = 0, height = 0;
  if (!guarded(r, [&] {
        png_read_info(r.png, r.info);
        width = png_get_image_width(r.png, r.info);
        height = png_get_image_height(r.png, r.info);
      })) {
    throw r.error();
  }
  check_image_size(width, height, max_pixels, "decode");

  if (!guarded(r, [&] {
        png_set_strip_16(r.png);
        png_set_palette_to_rgb(r.png);  // also expands tRNS to alpha, stripped below
        png_set_expand_gray_1_2_4_to_8(r.png);
        png_set_gray_to_rgb(r.png);
        png_set_strip_alpha(r.png);
        png_set_interlace_handling(r.png);
        png_read_update_info(r.png, r.info);
      })) {
    throw r.error();
  }
  if (png_get_rowbytes(r.png, r.info) != size_t(width) * 3) {
    throw Error("", "decode", "libpng did not produce 8-bit RGB rows");
  }
  return {width, height};
}

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  Reader r;
  const auto [width, height] = start_reading(r, bytes, max_pixels);
  Image image(int(width), int(height), 3);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.row(int(y));

  if (!guarded(r, [&] {
        png_read_image(r.png, rows.data());
        png_read_end(r.png, nullptr);
      })) {
    throw r.error();
  }
  return image;
}

struct PngRowReader::Impl {
  Reader r;
  int width = 0, height = 0, read = 0;
};

PngRowReader::PngRowReader(std::span<const uint8_t> bytes, uint64_t max_pixels) : impl_(std::make_unique<Impl>()) {
  const auto [width, height] = start_reading(impl_->r, bytes, max_pixels);
  if (png_get_interlace_type(impl_->r.png, impl_->r.info) != PNG_INTERLACE_NONE)
    throw Error("", "decode", "an interlaced PNG is not read row by row (decode it whole)");
  impl_->width = int(width), impl_->height = int(height);
}

PngRowReader::~PngRowReader() = default;

int PngRowReader::width() const { return impl_->width; }
int PngRowReader::rows() const { return impl_->height; }
int PngRowReader::rows_read() const { return impl_->read; }

void PngRowReader::read(uint8_t* const* dst, int count) {
  Impl& m = *impl_;
  count = std::min(count, m.height - m.read);
  if (count <= 0) return;
  if (!guarded(m.r, [&] {
        png_read_rows(m.r.png, const_cast<png_bytepp>(dst), nullptr, png_uint_32(count));
        m.read += count;
        if (m.read == m.height) png_read_end(m.r.png, nullptr);
      })) {
    throw m.r.error();
  }
}

}  // namespace gpuaug::codec
