// encode_png, encode_jpeg and RowEncoder: libpng and libjpeg writers behind setjmp guards, their
// bytes going to a sink as they are made.
#include "codec/encoder.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "core/error.h"

namespace gpuaug::codec {

namespace {

// --- PNG ---------------------------------------------------------------------------------

struct PngWriter {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const RowEncoder::Sink* sink = nullptr;
  std::exception_ptr sink_error;  // what the sink threw, rethrown once out of libpng's frames
  char message[256] = {};
  ~PngWriter() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* w = static_cast<PngWriter*>(png_get_error_ptr(png));
  std::snprintf(w->message, sizeof w->message, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// A C++ exception must not cross libpng's frames: kept, and libpng stopped with png_error.
void on_png_write(png_structp png, png_bytep data, size_t length) {
  auto* w = static_cast<PngWriter*>(png_get_io_ptr(png));
  try {
    (*w->sink)(data, length);
  } catch (...) {
    w->sink_error = std::current_exception();
  }
  if (w->sink_error) png_error(png, "the output could not be written");
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

// A destination that hands each full buffer to the sink (libjpeg's own jpeg_mem_dest would
// hold the whole file).
struct JpegDestination {
  jpeg_destination_mgr pub;  // first, so libjpeg's pointer is also a JpegDestination*
  const RowEncoder::Sink* sink = nullptr;
  std::exception_ptr sink_error;
  JOCTET buffer[64 * 1024];
};

struct JpegWriter {
  jpeg_compress_struct cinfo{};  // value-initialised: destroying before create is a no-op
  JpegErrorManager err{};
  JpegDestination dest{};
  JpegWriter() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_jpeg_error;
  }
  ~JpegWriter() { jpeg_destroy_compress(&cinfo); }
};

// Hands `size` bytes of the buffer to the sink; a throw is kept and libjpeg stopped.
void jpeg_emit(j_compress_ptr cinfo, size_t size) {
  auto* d = reinterpret_cast<JpegDestination*>(cinfo->dest);
  try {
    (*d->sink)(d->buffer, size);
  } catch (...) {
    d->sink_error = std::current_exception();
  }
  if (d->sink_error) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "the output could not be written");
    std::longjmp(err->jump, 1);
  }
  d->pub.next_output_byte = d->buffer;
  d->pub.free_in_buffer = sizeof d->buffer;
}

void on_jpeg_init(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDestination*>(cinfo->dest);
  d->pub.next_output_byte = d->buffer;
  d->pub.free_in_buffer = sizeof d->buffer;
}

boolean on_jpeg_full(j_compress_ptr cinfo) {
  jpeg_emit(cinfo, sizeof(JpegDestination::buffer));
  return TRUE;
}

void on_jpeg_term(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDestination*>(cinfo->dest);
  const size_t used = sizeof d->buffer - d->pub.free_in_buffer;
  if (used > 0) jpeg_emit(cinfo, used);
}

template <typename Step>
bool jpeg_guarded(JpegWriter& w, const Step& step) {
  if (setjmp(w.err.jump)) return false;
  step();
  return true;
}

}  // namespace

struct RowEncoder::State {
  Format format;
  Sink sink;
  int width = 0, height = 0, channels = 0, rows = 0;
  bool finished = false;
  bool failed = false;  // libpng or libjpeg stopped mid-way: nothing more may be asked of it
  std::unique_ptr<PngWriter> png;
  std::unique_ptr<JpegWriter> jpeg;

  // After a failed guard: what the sink threw, else the library's message.
  [[noreturn]] void fail() {
    failed = true;
    const std::exception_ptr thrown = png ? png->sink_error : jpeg->dest.sink_error;
    if (thrown) std::rethrow_exception(thrown);
    throw Error("", "encode", png ? png->message : jpeg->err.message);
  }
};

RowEncoder::RowEncoder(Format format, int width, int height, int channels, int jpeg_quality,
                       Sink sink)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.format = format, s.sink = std::move(sink);
  s.width = width, s.height = height, s.channels = channels;
  const bool png = format == Format::kPng;
  const bool channels_ok = channels == 1 || channels == 3 || (png && channels == 4);
  if (!channels_ok) {
    throw Error("", "encode",
                "cannot encode " + std::to_string(channels) +
                    " channels (supported: " + (png ? "1, 3, 4)" : "1, 3)"));
  }
  if (width <= 0 || height <= 0) {
    throw Error("", "encode",
                "cannot encode an empty " + std::to_string(width) + "x" + std::to_string(height) +
                    " image");
  }
  if (png) {
    s.png = std::make_unique<PngWriter>();
    PngWriter& w = *s.png;
    w.sink = &s.sink;
    w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, on_png_error, on_png_warning);
    if (w.png) w.info = png_create_info_struct(w.png);
    if (!w.png || !w.info) throw Error("", "encode", "cannot create a libpng writer");
    const int color_type = channels == 1   ? PNG_COLOR_TYPE_GRAY
                           : channels == 3 ? PNG_COLOR_TYPE_RGB
                                           : PNG_COLOR_TYPE_RGBA;
    if (!png_guarded(w, [&] {
          png_set_write_fn(w.png, &w, on_png_write, on_png_flush);
          png_set_compression_level(w.png, 1);
          png_set_IHDR(w.png, w.info, png_uint_32(width), png_uint_32(height), 8, color_type,
                       PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
          png_write_info(w.png, w.info);
        }))
      s.fail();
    return;
  }
  if (jpeg_quality < 1 || jpeg_quality > 100) {
    throw Error("", "encode",
                "quality must be 1..100 (got " + std::to_string(jpeg_quality) + ")");
  }
  s.jpeg = std::make_unique<JpegWriter>();
  JpegWriter& w = *s.jpeg;
  jpeg_compress_struct& cinfo = w.cinfo;
  w.dest.sink = &s.sink;
  w.dest.pub.init_destination = on_jpeg_init;
  w.dest.pub.empty_output_buffer = on_jpeg_full;
  w.dest.pub.term_destination = on_jpeg_term;
  if (!jpeg_guarded(w, [&] {
        jpeg_create_compress(&cinfo);
        cinfo.dest = &w.dest.pub;
        cinfo.image_width = JDIMENSION(width);
        cinfo.image_height = JDIMENSION(height);
        cinfo.input_components = channels;
        cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
        jpeg_set_defaults(&cinfo);  // YCbCr 4:2:0 for RGB, ISLOW, no optimisation
        jpeg_set_quality(&cinfo, jpeg_quality, TRUE);
        cinfo.optimize_coding = FALSE;
        cinfo.dct_method = JDCT_ISLOW;
        jpeg_start_compress(&cinfo, TRUE);
      }))
    s.fail();
}

RowEncoder::~RowEncoder() = default;

int RowEncoder::rows_written() const { return state_->rows; }

void RowEncoder::write(const uint8_t* const* rows, int count) {
  State& s = *state_;
  if (s.failed || s.finished) throw Error("", "encode", "internal: the encoder has stopped");
  if (count < 0 || count > s.height - s.rows)
    throw Error("", "encode",
                "internal: " + std::to_string(s.rows + count) + " rows written of " +
                    std::to_string(s.height));
  // libpng's and libjpeg's prototypes are not const-correct; they only read the rows.
  auto* row_array = const_cast<uint8_t**>(rows);
  if (s.png) {
    PngWriter& w = *s.png;
    if (!png_guarded(w, [&] {
          for (int i = 0; i < count; ++i) png_write_row(w.png, row_array[i]);
        }))
      s.fail();
  } else {
    JpegWriter& w = *s.jpeg;
    if (!jpeg_guarded(w, [&] {
          for (int done = 0; done < count;)
            done += int(jpeg_write_scanlines(&w.cinfo, row_array + done, JDIMENSION(count - done)));
        }))
      s.fail();
  }
  s.rows += count;
}

void RowEncoder::finish() {
  State& s = *state_;
  if (s.failed) throw Error("", "encode", "internal: the encoder has stopped");
  if (s.rows != s.height)
    throw Error("", "encode",
                "internal: the file ended after " + std::to_string(s.rows) + " rows of " +
                    std::to_string(s.height));
  if (s.finished) return;
  if (s.png) {
    PngWriter& w = *s.png;
    if (!png_guarded(w, [&] { png_write_end(w.png, nullptr); })) s.fail();
  } else {
    JpegWriter& w = *s.jpeg;
    if (!jpeg_guarded(w, [&] { jpeg_finish_compress(&w.cinfo); })) s.fail();
  }
  s.finished = true;
}

namespace {

std::vector<uint8_t> encode_whole(RowEncoder::Format format, const Image& image, int quality) {
  std::vector<uint8_t> out;
  RowEncoder encoder(format, image.width, image.height, image.channels, quality,
                     [&](const uint8_t* data, size_t size) { out.insert(out.end(), data, data + size); });
  if (image.pixels.size() != size_t(image.width) * image.height * image.channels)
    throw Error("", "encode", "pixel buffer size does not match width x height x channels");
  std::vector<const uint8_t*> rows(size_t(image.height));
  for (int y = 0; y < image.height; ++y) rows[size_t(y)] = image.row(y);
  encoder.write(rows.data(), image.height);
  encoder.finish();
  return out;
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& image) {
  return encode_whole(RowEncoder::Format::kPng, image, 95);
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  return encode_whole(RowEncoder::Format::kJpeg, image, quality);
}

}  // namespace gpuaug::codec
