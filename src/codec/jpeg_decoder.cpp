// decode_jpeg, JpegRowReader and JpegPlaneReader: libjpeg calls behind setjmp guards, crop/skip for
// regions, CMYK to RGB; decode_jpeg reads all of a reader's rows into one image; coefficients
// copied out of libjpeg's virtual block arrays.
#include "codec/jpeg_decoder.h"

#include <jpeglib.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/block_pool.h"
#include "core/error.h"

namespace gpuaug::codec {

namespace {

// turbojpeg's limit: a progressive file with thousands of tiny scans costs minutes of CPU.
constexpr int kMaxScans = 500;

struct ErrorManager {
  jpeg_error_mgr pub;  // first, so libjpeg's jpeg_error_mgr* is also an ErrorManager*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jump_with_libjpeg_message(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_error_exit(j_common_ptr cinfo) { jump_with_libjpeg_message(cinfo); }

// libjpeg only warns (msg_level -1) on truncated or corrupt data and then decodes gray or
// garbage; fail instead. Trace messages (msg_level >= 0) are dropped.
void on_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0) jump_with_libjpeg_message(cinfo);
}

void on_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number <= kMaxScans) return;
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  std::snprintf(err->message, sizeof err->message, "progressive JPEG has more than %d scans",
                kMaxScans);
  std::longjmp(err->jump, 1);
}

// Owns the libjpeg decompressor; value-initialised so destroying a never-created one is a
// no-op (jpeg_destroy checks cinfo.mem).
struct Decompressor {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  jpeg_progress_mgr progress{};

  Decompressor() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.emit_message = on_emit_message;
    progress.progress_monitor = on_progress;
  }
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  Error error() const { return Error("", "decode", err.message); }
};

// Runs step, whose libjpeg calls may longjmp back here on error. Neither this frame nor
// step may hold an object with a destructor while libjpeg runs; callers throw after it
// returns false.
template <typename Step>
bool guarded(Decompressor& d, const Step& step) {
  if (setjmp(d.err.jump)) return false;
  step();
  return true;
}

// Pillow's "CMYK;I" unpacking then cmyk2rgb (Convert.c): libjpeg hands over 255 - ink (the
// Adobe polarity, which Pillow, OpenCV and TurboJPEG assume for every CMYK JPEG), and
// R = (255 - K) - round(C * (255 - K) / 255) in ink terms, likewise G and B.
void cmyk_to_rgb(const uint8_t* cmyk, uint8_t* rgb, int width) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];
    for (int i = 0; i < 3; ++i) {
      const int t = (255 - cmyk[i]) * nk + 128;
      rgb[i] = uint8_t(nk - (((t >> 8) + t) >> 8));
    }
  }
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Starts the decompressor on `bytes` and reads the header; a size past max_pixels is an error
// before anything is allocated.
void read_header(Decompressor& d, std::span<const uint8_t> bytes, uint64_t max_pixels) {
  if (bytes.empty()) throw Error("", "decode", "empty file");
  jpeg_decompress_struct& cinfo = d.cinfo;
  if (!guarded(d, [&] {
        jpeg_create_decompress(&cinfo);
        cinfo.progress = &d.progress;
        jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
        jpeg_read_header(&cinfo, TRUE);
      })) {
    throw d.error();
  }
  check_image_size(int(cinfo.image_width), int(cinfo.image_height), max_pixels, "decode");
}

}  // namespace

struct JpegRowReader::Impl {
  Decompressor d;
  bool cmyk = false;
  int rows = 0, width = 0, read = 0;
  int skip = 0;  // scaled rows above the region, skipped before the first read
  std::vector<uint8_t> cmyk_row;
};

JpegRowReader::JpegRowReader(std::span<const uint8_t> bytes, int scale_denom, Rect raw_region,
                             uint64_t max_pixels)
    : impl_(std::make_unique<Impl>()) {
  if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8) {
    throw Error("", "decode",
                "scale_denom must be 1, 2, 4 or 8 (got " + std::to_string(scale_denom) + ")");
  }
  Decompressor& d = impl_->d;
  jpeg_decompress_struct& cinfo = d.cinfo;
  read_header(d, bytes, max_pixels);
  const int width = int(cinfo.image_width), height = int(cinfo.image_height);

  const Rect region = clip_region(raw_region, width, height);
  const int x0 = region.x, y0 = region.y;
  const int x1 = region.x + region.width, y1 = region.y + region.height;

  impl_->cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = impl_->cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg-turbo expands gray to RGB
  cinfo.scale_num = 1;
  cinfo.scale_denom = unsigned(scale_denom);
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;

  // Region in the scaled image: floor of the start, ceil of the end. Columns are widened by
  // one on each side: libjpeg upsamples a cropped row's chroma with the edge sample repeated
  // instead of its cut-off neighbour, so only the outermost columns of a crop differ from a
  // full decode, and those then lie outside the requested region.
  JDIMENSION crop_x = JDIMENSION(std::max(x0 / scale_denom - 1, 0));
  const int scaled_y0 = y0 / scale_denom;
  int rows = 0, scaled_width = 0;
  if (!guarded(d, [&] {
        jpeg_start_decompress(&cinfo);
        scaled_width = int(cinfo.output_width);
        const int scaled_y1 = std::min(ceil_div(y1, scale_denom), int(cinfo.output_height));
        rows = scaled_y1 - scaled_y0;
        JDIMENSION crop_width =
            std::min(JDIMENSION(ceil_div(x1, scale_denom) + 1), cinfo.output_width) - crop_x;
        if (crop_width < cinfo.output_width) jpeg_crop_scanline(&cinfo, &crop_x, &crop_width);
      })) {
    throw d.error();
  }
  origin_x_ = int(crop_x);
  origin_y_ = scaled_y0;
  scaled_width_ = scaled_width;
  scaled_height_ = int(cinfo.output_height);
  impl_->width = int(cinfo.output_width);  // the cropped width from here on
  impl_->rows = rows;
  impl_->skip = scaled_y0;
  if (impl_->cmyk) impl_->cmyk_row.resize(size_t(impl_->width) * 4);
}

JpegRowReader::~JpegRowReader() = default;

int JpegRowReader::width() const { return impl_->width; }
int JpegRowReader::rows() const { return impl_->rows; }
int JpegRowReader::rows_read() const { return impl_->read; }

void JpegRowReader::read(uint8_t* const* dst, int count) {
  Impl& m = *impl_;
  count = std::min(count, m.rows - m.read);
  if (count <= 0) return;
  jpeg_decompress_struct& cinfo = m.d.cinfo;
  if (!guarded(m.d, [&] {
        if (m.skip > 0) jpeg_skip_scanlines(&cinfo, JDIMENSION(m.skip));
        m.skip = 0;
        // A memory source never suspends, so every call returns at least one row.
        for (int y = 0; y < count;) {
          if (m.cmyk) {
            JSAMPROW row = m.cmyk_row.data();
            jpeg_read_scanlines(&cinfo, &row, 1);
            cmyk_to_rgb(m.cmyk_row.data(), dst[y++], m.width);
          } else {
            y += int(jpeg_read_scanlines(&cinfo, const_cast<JSAMPARRAY>(dst + y), JDIMENSION(count - y)));
          }
        }
        m.read += count;
        if (m.read < m.rows) return;
        // Finishing checks the rest of the file (a missing EOI); rows below a region are
        // never decoded, so their damage is not this request's concern.
        if (cinfo.output_scanline == cinfo.output_height) {
          jpeg_finish_decompress(&cinfo);
        } else {
          jpeg_abort_decompress(&cinfo);
        }
      })) {
    throw m.d.error();
  }
}

namespace {

// Whether libjpeg's output pass may give other samples than a plain IDCT of the coefficients:
// decompress_smooth_data (jdcoefct.c; chosen by smoothing_ok, with every scan read, as read()
// reaches it) replaces an AC coefficient that is still zero by an estimate from neighbouring DC
// values, but only one of the first five (zigzag 1..5) whose coef_bits, the successive-
// approximation bits still missing or -1 for never sent, are not 0. (2.1's wider smoothing also
// estimates 6..9, and the DC, only when a component has no AC data at all, which makes 1..5
// nonzero too.) So a progressive file in which every component's coefficients 1..5 are complete
// decodes as its IDCT, as every encoder's default script (all bits of all coefficients) does.
// Conservative: smoothing_ok also declines for a component without DC data or with a zero
// quantizer there, and an estimate may come out 0, which this does not ask.
bool would_smooth_blocks(const jpeg_decompress_struct& cinfo) {
  if (!cinfo.progressive_mode || !cinfo.do_block_smoothing || cinfo.coef_bits == nullptr) {
    return false;
  }
  for (int ci = 0; ci < cinfo.num_components; ++ci)
    for (int k = 1; k <= 5; ++k)
      if (cinfo.coef_bits[ci][k] != 0) return true;
  return false;
}

}  // namespace

struct JpegPlaneReader::Impl {
  Decompressor d;
  JpegPlanes layout;
  JpegCoefficients coefficients;
  bool finishable = false;
  int luma_rows_per_call = 0;     // max_v_samp_factor * 8: the rows jpeg_read_raw_data takes
  int plane_rows_per_call[3] = {};
};

JpegPlaneReader::JpegPlaneReader(std::span<const uint8_t> bytes, uint64_t max_pixels)
    : impl_(std::make_unique<Impl>()) {
  Decompressor& d = impl_->d;
  jpeg_decompress_struct& cinfo = d.cinfo;
  read_header(d, bytes, max_pixels);
  const int width = int(cinfo.image_width), height = int(cinfo.image_height);
  JpegPlanes& p = impl_->layout;
  p.width = width, p.height = height, p.components = cinfo.num_components;
  const jpeg_component_info* c = cinfo.comp_info;
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE && cinfo.num_components == 1) {
    impl_->finishable = true;
  } else if (cinfo.jpeg_color_space == JCS_YCbCr && cinfo.num_components == 3 && c[1].h_samp_factor == 1 &&
             c[1].v_samp_factor == 1 && c[2].h_samp_factor == 1 && c[2].v_samp_factor == 1) {
    p.h_factor = c[0].h_samp_factor, p.v_factor = c[0].v_samp_factor;
    impl_->finishable = (p.h_factor == 1 && p.v_factor == 1) || (p.h_factor == 2 && p.v_factor == 1) ||
                        (p.h_factor == 2 && p.v_factor == 2);
  }
  if (!impl_->finishable) return;
  // The layout from the header alone (jpeg_read_header has set the sampling and downsampled
  // sizes): jpeg_start_decompress would already decode every scan of a progressive file, which
  // a caller that then finds no room for the planes would pay twice.
  // Rows padded to whole iMCUs, across and down: libjpeg writes every block of them.
  const int imcu_columns = ceil_div(width, cinfo.max_h_samp_factor * DCTSIZE);
  const int imcu_rows = ceil_div(height, cinfo.max_v_samp_factor * DCTSIZE);
  impl_->luma_rows_per_call = cinfo.max_v_samp_factor * DCTSIZE;
  for (int ci = 0; ci < p.components; ++ci) {
    p.pitch[ci] = imcu_columns * c[ci].h_samp_factor * DCTSIZE;
    impl_->plane_rows_per_call[ci] = c[ci].v_samp_factor * DCTSIZE;
    p.offset[ci] = p.bytes;
    p.bytes += size_t(p.pitch[ci]) * size_t(imcu_rows) * size_t(impl_->plane_rows_per_call[ci]);
  }
  if (p.components == 3) p.chroma_width = int(c[1].downsampled_width), p.chroma_height = int(c[1].downsampled_height);

  // The coefficients: quant tables first (128 bytes each), then each component's blocks (128
  // bytes each), so every offset stays a multiple of 128. The blocks are the ones libjpeg's IDCT
  // runs over: width_in_blocks across (decompress_onepass stops at the last MCU's useful width,
  // decompress_data at last_MCU_col = width_in_blocks - 1) and height_in_blocks down (the last
  // iMCU row's last_row_height, or height_in_blocks % v_samp_factor), not the dummy blocks that
  // pad the virtual arrays to whole MCUs.
  constexpr size_t kBlockBytes = DCTSIZE2 * sizeof(JCOEF);
  static_assert(sizeof(JCOEF) == sizeof(int16_t) && kBlockBytes == 128);
  JpegCoefficients& k = impl_->coefficients;
  k.planes = p;
  for (int ci = 0; ci < p.components; ++ci) {
    k.quant_offset[ci] = k.bytes;
    k.bytes += DCTSIZE2 * sizeof(uint16_t);
  }
  for (int ci = 0; ci < p.components; ++ci) {
    k.blocks_wide[ci] = int(c[ci].width_in_blocks);
    k.blocks_high[ci] = int(c[ci].height_in_blocks);
    k.block_offset[ci] = k.bytes;
    k.bytes += size_t(k.blocks_wide[ci]) * size_t(k.blocks_high[ci]) * kBlockBytes;
  }
}

JpegPlaneReader::~JpegPlaneReader() = default;

bool JpegPlaneReader::finishable() const { return impl_->finishable; }
const JpegPlanes& JpegPlaneReader::layout() const { return impl_->layout; }
const JpegCoefficients& JpegPlaneReader::coefficient_layout() const { return impl_->coefficients; }

void JpegPlaneReader::read(uint8_t* buffer) {
  Impl& m = *impl_;
  if (!m.finishable) throw Error("", "decode", "internal: JpegPlaneReader::read on planes it cannot finish");
  jpeg_decompress_struct& cinfo = m.d.cinfo;
  const JpegPlanes& p = m.layout;
  cinfo.raw_data_out = TRUE;
  cinfo.dct_method = JDCT_ISLOW;
  // Row pointers for one iMCU row of every plane, moved down the buffer call by call.
  std::vector<JSAMPROW> rows[3];
  JSAMPARRAY planes[3] = {};
  for (int ci = 0; ci < p.components; ++ci) {
    rows[ci].resize(size_t(m.plane_rows_per_call[ci]));
    planes[ci] = rows[ci].data();
  }
  if (!guarded(m.d, [&] {
        jpeg_start_decompress(&cinfo);
        for (size_t imcu_row = 0; cinfo.output_scanline < cinfo.output_height; ++imcu_row) {
          for (int ci = 0; ci < p.components; ++ci)
            for (int y = 0; y < m.plane_rows_per_call[ci]; ++y)
              rows[ci][size_t(y)] =
                  buffer + p.offset[ci] +
                  (imcu_row * size_t(m.plane_rows_per_call[ci]) + size_t(y)) * size_t(p.pitch[ci]);
          jpeg_read_raw_data(&cinfo, planes, JDIMENSION(m.luma_rows_per_call));
        }
        jpeg_finish_decompress(&cinfo);
      })) {
    throw m.d.error();
  }
}

bool JpegPlaneReader::read_coefficients(uint8_t* buffer) {
  Impl& m = *impl_;
  if (!m.finishable) {
    throw Error("", "decode",
                "internal: JpegPlaneReader::read_coefficients on planes it cannot finish");
  }
  jpeg_decompress_struct& cinfo = m.d.cinfo;
  const JpegCoefficients& k = m.coefficients;
  bool smoothed = false;
  if (!guarded(m.d, [&] {
        jvirt_barray_ptr* arrays = jpeg_read_coefficients(&cinfo);
        for (int ci = 0; ci < k.planes.components; ++ci) {
          // The table the IDCT would use: latched when the component's first scan began
          // (jdinput.c's latch_quant_tables). None for a component no scan carried, whose
          // blocks stay zero: libjpeg's IDCT multiplier table is then all zero too.
          const JQUANT_TBL* quant = cinfo.comp_info[ci].quant_table;
          if (quant != nullptr) {
            std::memcpy(buffer + k.quant_offset[ci], quant->quantval, DCTSIZE2 * sizeof(uint16_t));
          } else {
            std::memset(buffer + k.quant_offset[ci], 0, DCTSIZE2 * sizeof(uint16_t));
          }
          // One block row per call: the arrays lie wholly in memory (no max_memory_to_use), but a
          // row need not follow the one above it there.
          const size_t row_bytes = size_t(k.blocks_wide[ci]) * sizeof(JBLOCK);
          for (int y = 0; y < k.blocks_high[ci]; ++y) {
            JBLOCKARRAY row = (*cinfo.mem->access_virt_barray)(
                reinterpret_cast<j_common_ptr>(&cinfo), arrays[ci], JDIMENSION(y), 1, FALSE);
            std::memcpy(buffer + k.block_offset[ci] + size_t(y) * row_bytes, row[0], row_bytes);
          }
        }
        smoothed = would_smooth_blocks(cinfo);
        jpeg_finish_decompress(&cinfo);
      })) {
    throw m.d.error();
  }
  return !smoothed;
}

namespace {

// libjpeg's jpeg_natural_order: zigzag index to natural order, with 16 guard entries (63) that an
// AC run past the block's end writes through.
constexpr uint8_t kNaturalOrder[80] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33,
    40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36,
    29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63};

constexpr size_t kMaxScanTables = 8;  // DC and AC, 4 each
size_t rounded_16(size_t bytes) { return (bytes + 15) / 16 * 16; }

}  // namespace

size_t JpegPlaneReader::entropy_bytes_bound() const {
  const JpegCoefficients& k = impl_->coefficients;
  return k.block_offset[0] + sizeof kNaturalOrder + kMaxScanTables * sizeof(JpegHuffmanTable) +
         rounded_16(impl_->d.cinfo.src->bytes_in_buffer) + 16;
}

std::optional<JpegScan> JpegPlaneReader::read_entropy(uint8_t* buffer) {
  Impl& m = *impl_;
  if (!m.finishable) throw Error("", "decode", "internal: JpegPlaneReader::read_entropy on planes it cannot finish");
  const jpeg_decompress_struct& cinfo = m.d.cinfo;
  // What jdhuff.c decodes without a warning, in one scan that ends the file.
  if (cinfo.progressive_mode || cinfo.arith_code || cinfo.data_precision != 8 || cinfo.restart_interval != 0 ||
      cinfo.comps_in_scan != cinfo.num_components || cinfo.Ss != 0 || cinfo.Se != DCTSIZE2 - 1 || cinfo.Ah != 0 ||
      cinfo.Al != 0) {
    return std::nullopt;
  }
  JpegScan scan;
  scan.layout = m.coefficients;
  const JpegCoefficients& k = scan.layout;
  for (int ci = 0; ci < cinfo.num_components; ++ci) {
    // libjpeg checks the table numbers when it uses them (latch_quant_tables, jdhuff.c's
    // start_pass), not when it reads them: out of range is libjpeg's error to report.
    const int number = cinfo.comp_info[ci].quant_tbl_no;
    if (number < 0 || number >= NUM_QUANT_TBLS) return std::nullopt;
    const JQUANT_TBL* quant = cinfo.quant_tbl_ptrs[number];
    if (quant == nullptr) return std::nullopt;
    std::memcpy(buffer + k.quant_offset[ci], quant->quantval, DCTSIZE2 * sizeof(uint16_t));
  }
  size_t at = k.block_offset[0];
  scan.natural_order_offset = at;
  std::memcpy(buffer + at, kNaturalOrder, sizeof kNaturalOrder);
  at += sizeof kNaturalOrder;
  scan.tables_offset = at;
  auto* tables = reinterpret_cast<JpegHuffmanTable*>(buffer + at);
  int8_t table_of[kMaxScanTables];  // slot in `tables` of DC table n (n) and AC table n (4 + n)
  std::fill(std::begin(table_of), std::end(table_of), int8_t(-1));
  auto table = [&](bool dc, int number) -> int {
    if (number < 0 || number >= NUM_HUFF_TBLS) return -1;
    int8_t& slot = table_of[(dc ? 0 : 4) + number];
    if (slot < 0) {
      const JHUFF_TBL* t = dc ? cinfo.dc_huff_tbl_ptrs[number] : cinfo.ac_huff_tbl_ptrs[number];
      // libjpeg-turbo fills in a missing table with the standard one (Motion-JPEG): left to it.
      if (t == nullptr || !derive_huffman_table(t->bits, t->huffval, dc, tables[scan.tables])) return -1;
      slot = int8_t(scan.tables++);
    }
    return slot;
  };
  // The MCU as jdinput.c's per_scan_setup builds it: one block for a component alone, else each
  // component's h x v blocks in turn, in the scan's order.
  if (cinfo.comps_in_scan == 1) {
    const jpeg_component_info& c = *cinfo.cur_comp_info[0];
    scan.blocks_in_mcu = 1;
    scan.mcus_per_row = int(c.width_in_blocks);
    scan.mcus = uint32_t(c.width_in_blocks) * uint32_t(c.height_in_blocks);
    scan.block_component[0] = int8_t(c.component_index);
    scan.mcu_blocks_wide[c.component_index] = scan.mcu_blocks_high[c.component_index] = 1;
    const int dc = table(true, c.dc_tbl_no), ac = table(false, c.ac_tbl_no);
    if (dc < 0 || ac < 0) return std::nullopt;
    scan.block_dc[0] = int8_t(dc), scan.block_ac[0] = int8_t(ac);
  } else {
    scan.mcus_per_row = ceil_div(int(cinfo.image_width), cinfo.max_h_samp_factor * DCTSIZE);
    scan.mcus = uint32_t(scan.mcus_per_row) *
                uint32_t(ceil_div(int(cinfo.image_height), cinfo.max_v_samp_factor * DCTSIZE));
    for (int i = 0; i < cinfo.comps_in_scan; ++i) {
      const jpeg_component_info& c = *cinfo.cur_comp_info[i];
      const int dc = table(true, c.dc_tbl_no), ac = table(false, c.ac_tbl_no);
      if (dc < 0 || ac < 0) return std::nullopt;
      scan.mcu_blocks_wide[c.component_index] = c.h_samp_factor;
      scan.mcu_blocks_high[c.component_index] = c.v_samp_factor;
      for (int y = 0; y < c.v_samp_factor; ++y)
        for (int x = 0; x < c.h_samp_factor; ++x) {
          const int b = scan.blocks_in_mcu++;
          if (b >= 6) return std::nullopt;
          scan.block_component[b] = int8_t(c.component_index), scan.block_dx[b] = int8_t(x);
          scan.block_dy[b] = int8_t(y), scan.block_dc[b] = int8_t(dc), scan.block_ac[b] = int8_t(ac);
        }
    }
  }
  scan.total_blocks = scan.mcus * uint32_t(scan.blocks_in_mcu);
  // The entropy-coded bytes, unstuffed (0xFF 0x00: one 0xFF), up to the marker that ends them,
  // which must be EOI (fill 0xFFs may stand before it).
  at += size_t(scan.tables) * sizeof(JpegHuffmanTable);
  scan.data_offset = at;
  const uint8_t* p = cinfo.src->next_input_byte;
  const uint8_t* const end = p + cinfo.src->bytes_in_buffer;
  uint8_t* const data = buffer + at;
  uint8_t* out = data;
  for (;;) {
    const auto* ff = static_cast<const uint8_t*>(std::memchr(p, 0xFF, size_t(end - p)));
    if (ff == nullptr) return std::nullopt;  // no EOI: truncated
    std::memcpy(out, p, size_t(ff - p));
    out += ff - p;
    const uint8_t* q = ff + 1;
    while (q < end && *q == 0xFF) ++q;
    if (q == end) return std::nullopt;
    if (*q == 0x00) {
      // Fill bytes before a stuffed zero: jdhuff.c's slow path reads one 0xFF, but libjpeg-turbo's
      // fast path (decode_mcu_fast, far from the end) takes 0xFF 0xFF for a marker, decodes zeros,
      // then decodes the MCU again over what it wrote, silently: its blocks are not the slow
      // path's. Left to libjpeg.
      if (q != ff + 1) return std::nullopt;
      *out++ = 0xFF;
      p = q + 1;
      continue;
    }
    if (*q != 0xD9) return std::nullopt;  // another scan, a restart or another marker
    break;
  }
  if (out - data >= (ptrdiff_t(1) << 28)) return std::nullopt;  // bit positions are 32-bit
  // Every block takes at least a DC code and an EOB (2 bits): fewer bytes cannot be the scan the
  // header announces (a few hundred bytes claiming 13000 x 13000 pixels would otherwise have the
  // GPU set aside gigabytes before declining it). libjpeg reports it.
  if (uint64_t(out - data) * 8 < 2 * uint64_t(scan.total_blocks)) return std::nullopt;
  scan.data_bytes = uint32_t(out - data);
  std::memset(out, 0, rounded_16(scan.data_bytes) + 16 - scan.data_bytes);
  scan.bytes = at + rounded_16(scan.data_bytes) + 16;
  return scan;
}

JpegDecodeResult decode_jpeg(std::span<const uint8_t> bytes, int scale_denom, Rect raw_region,
                             uint64_t max_pixels) {
  JpegRowReader reader(bytes, scale_denom, raw_region, max_pixels);
  JpegDecodeResult result;
  result.origin_x = reader.origin_x();
  result.origin_y = reader.origin_y();
  result.scaled_width = reader.scaled_width();
  result.scaled_height = reader.scaled_height();
  // Room for the whole image at this scale, so that the pool block this thread keeps for its
  // next image fits any later crop of it (core/block_pool.h): random crops of one image differ
  // by up to 12x, and blocks sized by each crop would keep being outgrown. Not for a crop
  // smaller than a sixteenth (a centre crop of a huge photo), which gets its own size.
  const size_t whole_bytes = size_t(reader.scaled_width()) * size_t(reader.scaled_height()) * 3;
  const size_t crop_bytes = size_t(reader.width()) * size_t(reader.rows()) * 3;
  result.image = Image(reader.width(), reader.rows(), 3,
                       16 * crop_bytes >= whole_bytes ? whole_bytes : crop_bytes);
  // RGB rows go straight into the image, as many as libjpeg will give per call.
  std::vector<uint8_t*> rows(size_t(reader.rows()));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = result.image.row(int(y));
  reader.read(rows.data(), reader.rows());
  return result;
}

std::span<const uint8_t> idct_probe_jpeg() {
  // Written by jpeg_write_coefficients (optimized Huffman tables): block 0 holds DC 1023 alone,
  // block 1 DC -1023 and AC +-1023 alternating; every quant value 255.
  static constexpr uint8_t kBytes[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08,
    0x00, 0x10, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x15, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x0b, 0xff, 0xc4, 0x00,
    0x15, 0x10, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x0a, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x7f, 0xf4,
    0x00, 0x5f, 0xf8, 0x00, 0x00, 0x0f, 0xfc, 0x00, 0x3f, 0xf0, 0x00, 0xff, 0x00, 0xc0, 0x00, 0x00,
    0x7f, 0xe0, 0x01, 0xff, 0x00, 0x80, 0x07, 0xfe, 0x00, 0x1f, 0xf8, 0x00, 0x7f, 0xe0, 0x00, 0x00,
    0x3f, 0xf0, 0x00, 0xff, 0x00, 0xc0, 0x03, 0xff, 0x00, 0x00, 0x0f, 0xfc, 0x00, 0x3f, 0xf0, 0x00,
    0xff, 0x00, 0xc0, 0x03, 0xff, 0x00, 0x00, 0x0f, 0xfc, 0x00, 0x3f, 0xf0, 0x00, 0xff, 0x00, 0xc0,
    0x03, 0xff, 0x00, 0x7f, 0xe0, 0x01, 0xff, 0x00, 0x80, 0x07, 0xfe, 0x00, 0x1f, 0xf8, 0x00, 0x7f,
    0xe0, 0x01, 0xff, 0x00, 0xbf, 0xf0, 0x00, 0xff, 0x00, 0xc0, 0x03, 0xff, 0x00, 0x00, 0x0f, 0xfd,
    0xff, 0x00, 0x80, 0x07, 0xff, 0x00, 0xff, 0xd9};
  return kBytes;
}

bool libjpeg_idct_is_ported() {
  static const bool ported = [] {
    try {
      JpegPlaneReader libjpeg(idct_probe_jpeg(), kDefaultMaxPixels), port(idct_probe_jpeg(), kDefaultMaxPixels);
      std::vector<uint8_t> planes(libjpeg.layout().bytes, 0), ported_planes(planes.size(), 0);
      std::vector<uint8_t> coefficients(port.coefficient_layout().bytes);
      libjpeg.read(planes.data());
      if (!port.read_coefficients(coefficients.data())) return false;
      idct_planes(port.coefficient_layout(), coefficients.data(), ported_planes.data());
      return planes == ported_planes;
    } catch (const Error&) {
      return false;
    }
  }();
  return ported;
}

}  // namespace gpuaug::codec
