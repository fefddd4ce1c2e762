// encode_png and encode_jpeg: libpng and libjpeg writers behind setjmp guards.
#include "codec/encoder.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/error.h"

namespace gpuaug::codec {

namespace {

void check_image(const Image& image, bool allow_alpha) {
  const bool channels_ok =
      image.channels == 1 || image.channels == 3 || (allow_alpha && image.channels == 4);
  if (!channels_ok) {
    throw Error("", "encode",
                "cannot encode " + std::to_string(image.channels) +
                    " channels (supported: " + (allow_alpha ? "1, 3, 4)" : "1, 3)"));
  }
  if (image.width <= 0 || image.height <= 0) {
    throw Error("", "encode",
                "cannot encode an empty " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " image");
  }
  if (image.pixels.size() != size_t(image.width) * image.height * image.channels) {
    throw Error("", "encode", "pixel buffer size does not match width x height x channels");
  }
}

// --- PNG ---------------------------------------------------------------------------------

struct PngWriter {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::vector<uint8_t> out;
  char message[256] = {};
  ~PngWriter() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* w = static_cast<PngWriter*>(png_get_error_ptr(png));
  std::snprintf(w->message, sizeof w->message, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// A C++ exception must not cross libpng's frames: turn bad_alloc into png_error.
void on_png_write(png_structp png, png_bytep data, size_t length) {
  auto* w = static_cast<PngWriter*>(png_get_io_ptr(png));
  bool ok = true;
  try {
    w->out.insert(w->out.end(), data, data + length);
  } catch (...) {
    ok = false;
  }
  if (!ok) png_error(png, "out of memory");
}

void on_png_flush(png_structp) {}

// As in the decoders: libpng may longjmp back here; no object with a destructor may live in
// this frame or in step meanwhile.
template <typename Step>
bool png_guarded(PngWriter& w, const Step& step) {
  if (setjmp(png_jmpbuf(w.png))) return false;
  step();
  return true;
}

// --- JPEG --------------------------------------------------------------------------------

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first, so libjpeg's jpeg_error_mgr* is also a JpegErrorManager*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

struct JpegWriter {
  jpeg_compress_struct cinfo{};  // value-initialised: destroying before create is a no-op
  JpegErrorManager err{};
  unsigned char* buffer = nullptr;  // malloc'ed by jpeg_mem_dest
  unsigned long size = 0;
  JpegWriter() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_jpeg_error;
  }
  ~JpegWriter() {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
  }
};

template <typename Step>
bool jpeg_guarded(JpegWriter& w, const Step& step) {
  if (setjmp(w.err.jump)) return false;
  step();
  return true;
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& image) {
  check_image(image, true);
  PngWriter w;
  w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, on_png_error, on_png_warning);
  if (w.png) w.info = png_create_info_struct(w.png);
  if (!w.png || !w.info) throw Error("", "encode", "cannot create a libpng writer");
  const int color_type = image.channels == 1   ? PNG_COLOR_TYPE_GRAY
                         : image.channels == 3 ? PNG_COLOR_TYPE_RGB
                                               : PNG_COLOR_TYPE_RGBA;
  if (!png_guarded(w, [&] {
        png_set_write_fn(w.png, &w, on_png_write, on_png_flush);
        png_set_compression_level(w.png, 1);
        png_set_IHDR(w.png, w.info, png_uint_32(image.width), png_uint_32(image.height), 8,
                     color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        png_write_info(w.png, w.info);
        for (int y = 0; y < image.height; ++y) png_write_row(w.png, image.row(y));
        png_write_end(w.png, nullptr);
      })) {
    throw Error("", "encode", w.message);
  }
  return std::move(w.out);
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  check_image(image, false);
  if (quality < 1 || quality > 100) {
    throw Error("", "encode", "quality must be 1..100 (got " + std::to_string(quality) + ")");
  }
  JpegWriter w;
  jpeg_compress_struct& cinfo = w.cinfo;
  if (!jpeg_guarded(w, [&] {
        jpeg_create_compress(&cinfo);
        jpeg_mem_dest(&cinfo, &w.buffer, &w.size);
        cinfo.image_width = JDIMENSION(image.width);
        cinfo.image_height = JDIMENSION(image.height);
        cinfo.input_components = image.channels;
        cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
        jpeg_set_defaults(&cinfo);  // YCbCr 4:2:0 for RGB, ISLOW, no optimisation
        jpeg_set_quality(&cinfo, quality, TRUE);
        cinfo.optimize_coding = FALSE;
        cinfo.dct_method = JDCT_ISLOW;
        jpeg_start_compress(&cinfo, TRUE);
        while (cinfo.next_scanline < cinfo.image_height) {
          // libjpeg's prototype is not const-correct; it only reads the row.
          JSAMPROW row = const_cast<uint8_t*>(image.row(int(cinfo.next_scanline)));
          jpeg_write_scanlines(&cinfo, &row, 1);
        }
        jpeg_finish_compress(&cinfo);
      })) {
    throw Error("", "encode", w.err.message);
  }
  return std::vector<uint8_t>(w.buffer, w.buffer + w.size);
}

}  // namespace gpuaug::codec
