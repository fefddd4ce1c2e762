// decode_image (format dispatch, orientation, region mapping) and read_file.
#include "codec/decoder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "codec/jpeg_decoder.h"
#include "codec/orientation.h"
#include "codec/png_decoder.h"
#include "core/error.h"

namespace gpuaug::codec {

namespace {

// What read_file takes from a pipe or /proc file before giving up on it ending.
constexpr size_t kMaxStreamBytes = size_t(1) << 30;

struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

DecodedImage decode_image(std::span<const uint8_t> bytes, const DecodeRequest& request) {
  const ImageInfo info = peek_image(bytes, request.max_pixels);
  const Rect region = clip_region(request.region, info.oriented_width(), info.oriented_height());
  DecodedImage out;
  if (info.format == ImageFormat::kPng) {
    Image png = decode_png(bytes, request.max_pixels);
    out.image = info.orientation == 1 ? std::move(png) : apply_orientation(png, info.orientation);
    out.full_width = out.image.width;
    out.full_height = out.image.height;
    return out;
  }
  const int o = info.orientation;
  const Rect raw = oriented_to_raw(region, o, info.width, info.height);
  JpegDecodeResult jpeg = decode_jpeg(bytes, request.scale_denom, raw, request.max_pixels);
  const Rect decoded = {jpeg.origin_x, jpeg.origin_y, jpeg.image.width, jpeg.image.height};
  const Rect upright = raw_to_oriented(decoded, o, jpeg.scaled_width, jpeg.scaled_height);
  out.image = o == 1 ? std::move(jpeg.image) : apply_orientation(jpeg.image, o);
  out.scale_denom = request.scale_denom;
  out.origin_x = upright.x;
  out.origin_y = upright.y;
  out.full_width = o >= 5 ? jpeg.scaled_height : jpeg.scaled_width;
  out.full_height = o >= 5 ? jpeg.scaled_width : jpeg.scaled_height;
  // The stored image padded to whole scaled pixels, turned upright: where the real image
  // starts inside it is the grid offset.
  const Rect content =
      raw_to_oriented({0, 0, info.width, info.height}, o, jpeg.scaled_width * request.scale_denom,
                      jpeg.scaled_height * request.scale_denom);
  out.grid_offset_x = content.x;
  out.grid_offset_y = content.y;
  return out;
}

bool RowReader::takes(const ImageInfo& info) {
  return info.orientation == 1 &&
         (info.format == ImageFormat::kJpeg || (info.format == ImageFormat::kPng && !info.progressive));
}

RowReader::RowReader(std::span<const uint8_t> bytes, const DecodeRequest& request) {
  const ImageInfo info = peek_image(bytes, request.max_pixels);
  if (!takes(info)) throw Error("", "decode", "internal: RowReader takes upright JPEGs and non-interlaced PNGs");
  if (info.format == ImageFormat::kPng) {
    png_ = std::make_unique<PngRowReader>(bytes, request.max_pixels);
    return;
  }
  jpeg_ = std::make_unique<JpegRowReader>(bytes, request.scale_denom,
                                          clip_region(request.region, info.width, info.height), request.max_pixels);
  scale_denom_ = request.scale_denom;
  origin_x_ = jpeg_->origin_x(), origin_y_ = jpeg_->origin_y();
}

RowReader::~RowReader() = default;

int RowReader::width() const { return jpeg_ ? jpeg_->width() : png_->width(); }
int RowReader::rows() const { return jpeg_ ? jpeg_->rows() : png_->rows(); }
int RowReader::rows_read() const { return jpeg_ ? jpeg_->rows_read() : png_->rows_read(); }
void RowReader::read(uint8_t* const* dst, int count) { jpeg_ ? jpeg_->read(dst, count) : png_->read(dst, count); }

std::vector<uint8_t> read_file(const std::string& path) {
  auto fail = [&](const std::string& cause) { return Error(path, "read", cause); };
  // strerror's text, without strerror's shared buffer (this runs on many I/O threads).
  auto os_error = [](int code) { return std::generic_category().message(code); };
  // O_NONBLOCK: opening a FIFO (or a link to one) that nobody writes would block forever;
  // non-blocking, it opens at once and reads as empty. Cleared before reading.
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) throw fail(os_error(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw fail(os_error(errno));
  if (S_ISDIR(st.st_mode)) throw fail(os_error(EISDIR));
  // A device never ends (/dev/zero, /dev/urandom) or blocks (a terminal): not an image file.
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode)) {
    throw fail(std::string("not a regular file (a ") +
               (S_ISSOCK(st.st_mode)  ? "socket"
                : S_ISBLK(st.st_mode) ? "block device"
                                      : "character device") +
               ")");
  }
  const int flags = ::fcntl(file.fd, F_GETFL);
  if (flags < 0 || ::fcntl(file.fd, F_SETFL, flags & ~O_NONBLOCK) != 0) throw fail(os_error(errno));
  // st_size is a hint only: pipes and /proc files report 0 and are read to EOF all the same,
  // up to kMaxStreamBytes (a regular file is read to its size, whatever that is).
  // One spare byte lets the read that sees EOF land without growing the buffer.
  const bool regular = S_ISREG(st.st_mode);
  std::vector<uint8_t> bytes(size_t(std::max<off_t>(st.st_size, 0)) + 1);
  size_t used = 0;
  while (true) {
    if (used == bytes.size()) {
      if (!regular && used >= kMaxStreamBytes)
        throw fail("not a regular file, and more than " + std::to_string(kMaxStreamBytes >> 20) +
                   " MiB without an end");
      bytes.resize(std::max<size_t>(bytes.size() * 2, 64 * 1024));
    }
    const ssize_t n = ::read(file.fd, bytes.data() + used, bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw fail(os_error(errno));
    if (n == 0) break;
    used += size_t(n);
  }
  bytes.resize(used);
  if (bytes.empty()) throw fail("empty file");
  return bytes;
}

}  // namespace gpuaug::codec
