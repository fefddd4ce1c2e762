// decode_jpeg: libjpeg-turbo decode of a raw (un-oriented) JPEG, scaled and cropped; JpegPlaneReader:
// its planes before upsampling and colour conversion, or their quantized DCT coefficients.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "codec/image_info.h"
#include "codec/jpeg_huffman.h"
#include "codec/jpeg_idct.h"
#include "codec/jpeg_planes.h"
#include "core/tensor.h"

namespace gpuaug::codec {

struct JpegDecodeResult {
  Image image;                              // 8-bit RGB
  int origin_x = 0, origin_y = 0;           // image's top-left in the scaled full image
  int scaled_width = 0, scaled_height = 0;  // the full image at 1/scale_denom
};

// Decodes the raw (un-oriented) image at 1/scale_denom (1, 2, 4, 8; libjpeg's DCT scaling,
// so the full scaled size is ceil(width / scale_denom) x ceil(height / scale_denom)).
//
// raw_region is in raw full-resolution coordinates (width 0: the whole image); it is clipped
// to the image, and one lying wholly outside is an error. Only that region is decoded:
// jpeg_crop_scanline for x and jpeg_skip_scanlines for y, ending with jpeg_abort_decompress
// when the rows below are not needed. The image covers at least [floor(x / s),
// ceil((x + w) / s)) x [floor(y / s), ceil((y + h) / s)) of the scaled image and may be wider:
// one column more on each side, then out to libjpeg's iMCU boundary on the left. Inside the
// requested region its pixels equal a full decode's; the extra outermost columns of a
// 4:2:0 / 4:2:2 crop may differ slightly, because libjpeg upsamples chroma there without the
// cut-off neighbour.
//
// JDCT_ISLOW with fancy upsampling, as Pillow and OpenCV decode. Gray is replicated; CMYK
// and YCCK are converted as Pillow does (Adobe polarity, i.e. inverted samples, assumed for
// every CMYK JPEG as Pillow, OpenCV and TurboJPEG do; then Pillow's cmyk2rgb formula).
//
// Strict: any libjpeg warning (premature end of data, corrupt data, bad Huffman code,
// extraneous bytes) is an error, so a truncated file throws instead of yielding gray rows;
// so are more than 500 progressive scans and a raw image above max_pixels (checked before
// any pixel buffer is allocated). Throws gpuaug::Error with an empty file, stage "decode"
// and libjpeg's message as the cause.
JpegDecodeResult decode_jpeg(std::span<const uint8_t> bytes, int scale_denom, Rect raw_region,
                             uint64_t max_pixels);

// decode_jpeg's rows handed over a few at a time instead of held whole, for a caller that keeps
// only a band of them (jobs/tile streams a huge image so): the same libjpeg calls, so row y is
// row y of decode_jpeg's image. The constructor reads the header and starts the decompressor
// (errors as decode_jpeg's); `bytes` must outlive the reader.
class JpegRowReader {
 public:
  JpegRowReader(std::span<const uint8_t> bytes, int scale_denom, Rect raw_region, uint64_t max_pixels);
  ~JpegRowReader();
  JpegRowReader(const JpegRowReader&) = delete;
  JpegRowReader& operator=(const JpegRowReader&) = delete;

  int width() const;  // of a row: the region's columns (see decode_jpeg)
  int rows() const;   // the region's rows at this scale
  int rows_read() const;
  int origin_x() const { return origin_x_; }
  int origin_y() const { return origin_y_; }
  int scaled_width() const { return scaled_width_; }
  int scaled_height() const { return scaled_height_; }
  // The next `count` rows (fewer at the end) into dst[0 .. count), each width() * 3 bytes.
  // Errors (corrupt or truncated data) throw as decode_jpeg's.
  void read(uint8_t* const* dst, int count);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int origin_x_ = 0, origin_y_ = 0, scaled_width_ = 0, scaled_height_ = 0;
};

// A JPEG decoded to its planes (libjpeg's raw data: IDCT output before upsampling and colour
// conversion) for jpeg_planes_rgb to finish, where the header allows it exactly: gray, or YCbCr
// with Cb and Cr at one sample each and luma at 1x1, 2x1 or 2x2. The constructor reads the
// header (errors as decode_jpeg's, max_pixels checked before anything is allocated); `bytes`
// must outlive the reader. Whole image, full scale, the stored orientation (stats' sums do not
// depend on it). Or, to move the IDCT off the CPU, only entropy-decoded to the planes' quantized
// DCT coefficients (read_coefficients) for jpeg_idct_islow to finish (codec/jpeg_idct.h).
class JpegPlaneReader {
 public:
  JpegPlaneReader(std::span<const uint8_t> bytes, uint64_t max_pixels);
  ~JpegPlaneReader();
  JpegPlaneReader(const JpegPlaneReader&) = delete;
  JpegPlaneReader& operator=(const JpegPlaneReader&) = delete;

  // False for other colour spaces and samplings (CMYK, RGB-coded, 4:1:1, 4:4:0, ...), which
  // decode_jpeg decodes.
  bool finishable() const;
  // The planes' layout in a buffer of layout().bytes; its rows are padded to whole iMCUs,
  // which libjpeg writes whole.
  const JpegPlanes& layout() const;
  // Decodes every plane into `buffer` (layout().bytes of it). Once only; errors (corrupt or
  // truncated data) throw as decode_jpeg's.
  void read(uint8_t* buffer);

  // The layout of read_coefficients' buffer, from the header as layout() is (its planes are
  // layout()), so a caller can find room before anything is decoded.
  const JpegCoefficients& coefficient_layout() const;
  // Entropy-decodes every block (jpeg_read_coefficients: no IDCT) and copies the blocks and the
  // components' quantization tables into `buffer` (coefficient_layout().bytes of it), for
  // idct_planes or its GPU twin to finish. Once only, instead of read(); errors throw as read()'s.
  // Returns whether that IDCT gives read()'s planes exactly. It does (bit for bit, for any
  // coefficients) unless libjpeg would smooth the blocks: a progressive file whose scans leave one
  // of the first 5 AC coefficients of a component unrefined is decoded with those estimated from
  // neighbouring DC values (jdcoefct.c's decompress_smooth_data), which the IDCT alone does not
  // do. On false the buffer still holds the coefficients, but the planes must come from a new
  // reader's read().
  [[nodiscard]] bool read_coefficients(uint8_t* buffer);

  // At most the bytes read_entropy lays out: the tables and the file's remaining bytes.
  size_t entropy_bytes_bound() const;
  // Or, to move the Huffman decoding off the CPU too: the scan's tables and its entropy-coded
  // bytes, unstuffed, laid out in `buffer` (entropy_bytes_bound() of it) for the chunked decoder
  // (codec/jpeg_huffman.h, whose blocks are read_coefficients' bit for bit). Decodes nothing.
  // nullopt where that decoder does not take the file, which read() or read_coefficients then
  // decode: not baseline Huffman at 8 bits in one scan of every component, restart markers, a
  // Huffman or quantization table missing or one libjpeg rejects, fill bytes before a stuffed
  // zero (libjpeg-turbo's fast path decodes those otherwise), a scan not ended by EOI, or one too
  // short for the blocks the header announces.
  // It reads nothing through libjpeg, so read() or read_coefficients() may follow it.
  std::optional<JpegScan> read_entropy(uint8_t* buffer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether this process's libjpeg runs the IDCT that jpeg_idct_islow ports (libjpeg-turbo's x86
// SIMD code), so that read_coefficients plus jpeg_idct_islow give read()'s planes for every file.
// A libjpeg with another IDCT (the C one of a build without SIMD or under JSIMD_FORCENONE=1, or
// IJG's) gives other samples for extreme coefficients. Tried once, on idct_probe_jpeg.
bool libjpeg_idct_is_ported();
// A 16x8 gray JPEG of two worst-case blocks (a DC past 16 bits once dequantized; every AC at
// Huffman's limit, quant 255), on which libjpeg-turbo's SIMD and C IDCTs differ.
std::span<const uint8_t> idct_probe_jpeg();

}  // namespace gpuaug::codec
