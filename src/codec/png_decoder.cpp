// decode_png: libpng calls behind setjmp guards, transforms to 8-bit RGB.
#include "codec/png_decoder.h"

#include <png.h>

#include <csetjmp>
#include <cstring>
#include <string>
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

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  if (bytes.empty()) throw Error("", "decode", "empty file");
  Reader r;
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

}  // namespace gpuaug::codec
