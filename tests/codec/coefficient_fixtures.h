// Test fixtures for the tests of JPEGs' coefficients and scans (codec/jpeg_idct.h,
// codec/jpeg_huffman.h and their GPU users): JPEGs written from given quantized blocks, random
// blocks of every kind, noisy images, and scans damaged in place.
#pragma once

#include <jpeglib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <vector>

#include "codec/jpeg_decoder.h"
#include "codec_fixtures.h"
#include "core/tensor.h"

namespace codec_test {

// Noise over a gradient: at quality 100 its coefficients are large, at 5 its blocks mostly DC.
inline gpuaug::Image textured_image(int width, int height, int channels, uint32_t seed) {
  gpuaug::Image image(width, height, channels);
  uint32_t state = seed * 2654435761u + 1;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width * channels; ++x) {
      state = state * 1664525u + 1013904223u;
      image.row(y)[x] = uint8_t((x * 3 + y * 5) % 256 / 2 + (state >> 25));
    }
  return image;
}

// Baseline JPEGs of every kind the exact GPU decoders take: 4:4:4, 4:2:2 and 4:2:0 at qualities 5,
// 90 and 100 (optimized Huffman tables on every other), 1x1 to 1600x1200 of noise over a gradient
// (over a thousand chunks, some out of step until the sequential pass); a gray one at quality 100;
// the IDCT's worst-case blocks (idct_probe_jpeg).
inline std::vector<std::vector<uint8_t>> exact_decoder_jpegs() {
  std::vector<std::vector<uint8_t>> files;
  const int sizes[][2] = {{1, 1}, {3, 5}, {17, 33}, {501, 377}, {1600, 1200}};
  const int samplings[][2] = {{1, 1}, {2, 1}, {2, 2}};
  uint32_t seed = 1;
  for (const auto& size : sizes)
    for (const auto& sampling : samplings)
      for (int quality : {5, 90, 100}) {
        JpegSpec spec;
        spec.luma_h = sampling[0], spec.luma_v = sampling[1], spec.quality = quality, spec.optimize = seed % 2 == 0;
        files.push_back(write_jpeg(textured_image(size[0], size[1], 3, ++seed), spec));
      }
  JpegSpec gray;
  gray.in_space = JCS_GRAYSCALE;
  gray.quality = 100;
  files.push_back(write_jpeg(textured_image(640, 480, 1, 99), gray));
  const auto probe = gpuaug::codec::idct_probe_jpeg();
  files.emplace_back(probe.begin(), probe.end());
  return files;
}

// A copy of a baseline JPEG damaged inside its scan (between the last SOS segment and EOI, which
// stays): variant % 3 == 2 cuts 1 to 30 bytes out, else one bit flips. Where, from `seed`.
inline std::vector<uint8_t> damaged_scan(const std::vector<uint8_t>& jpeg, uint64_t seed, int variant) {
  size_t sos = 0;
  for (size_t i = 0; i + 1 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) sos = i;
  const size_t data = sos + 2 + (size_t(jpeg[sos + 2]) << 8 | jpeg[sos + 3]), data_end = jpeg.size() - 2;
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  auto random = [&](size_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return size_t(state >> 33) % n;
  };
  std::vector<uint8_t> bytes = jpeg;
  if (variant % 3 == 2) {
    const size_t at = data + random(data_end - data - 40);
    bytes.erase(bytes.begin() + ptrdiff_t(at), bytes.begin() + ptrdiff_t(at + 1 + random(30)));
  } else {
    bytes[data + random(data_end - data)] ^= uint8_t(1 << random(8));
  }
  return bytes;
}

// --- JPEGs from coefficients ---------------------------------------------------------------

// What write_coefficients writes: gray or YCbCr at luma_h x luma_v, each component with its own
// quantization table (natural order; values above 255 make a 16-bit DQT and an SOF1 file).
struct CoefficientSpec {
  int width = 0, height = 0;
  int components = 1;
  int luma_h = 1, luma_v = 1;
  bool arithmetic = false, progressive = false;
  std::array<std::array<uint16_t, 64>, 3> quant{};
};

// Fills block (block_x, block_y) of `component` (natural order).
using BlockFill = std::function<void(int component, int block_x, int block_y, int16_t* block)>;

// A JPEG holding exactly the given coefficients, through libjpeg's transcoding API
// (jpeg_write_coefficients), so values no encoder's DCT would give can be tried: Huffman coding
// takes |AC| <= 1023 and DC steps (from the component's previous block in MCU order) <= 2047;
// arithmetic coding any int16 AC and DC steps up to 32767.
inline std::vector<uint8_t> write_coefficients(const CoefficientSpec& spec, const BlockFill& fill) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  err.emit_message = [](j_common_ptr, int) {};  // "quantization tables are too coarse for baseline"
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = JDIMENSION(spec.width);
  cinfo.image_height = JDIMENSION(spec.height);
  cinfo.input_components = spec.components;
  cinfo.in_color_space = spec.components == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
  jpeg_set_defaults(&cinfo);
#if JPEG_LIB_VERSION >= 70
  // The jpeg8 ABI (Ubuntu's libjpeg-turbo8) takes a transcoded image's DCT-domain size as given,
  // as jpeg_copy_critical_parameters sets it, and stops on 0 x 0 ("Empty JPEG image").
  cinfo.jpeg_width = cinfo.image_width;
  cinfo.jpeg_height = cinfo.image_height;
  cinfo.min_DCT_h_scaled_size = cinfo.min_DCT_v_scaled_size = DCTSIZE;
#endif
  for (int ci = 0; ci < spec.components; ++ci) {
    jpeg_component_info& c = cinfo.comp_info[ci];
    c.h_samp_factor = ci == 0 ? spec.luma_h : 1;
    c.v_samp_factor = ci == 0 ? spec.luma_v : 1;
    c.quant_tbl_no = ci;
    if (cinfo.quant_tbl_ptrs[ci] == nullptr)
      cinfo.quant_tbl_ptrs[ci] = jpeg_alloc_quant_table(reinterpret_cast<j_common_ptr>(&cinfo));
    std::copy(spec.quant[size_t(ci)].begin(), spec.quant[size_t(ci)].end(),
              cinfo.quant_tbl_ptrs[ci]->quantval);
  }
  cinfo.arith_code = spec.arithmetic ? TRUE : FALSE;
  if (spec.progressive) jpeg_simple_progression(&cinfo);
  // Arrays of whole MCUs, as jctrans.c's compress_output reads them; it takes the blocks past the
  // image's width_in_blocks / height_in_blocks from dummies, whatever these hold.
  const int max_h = spec.components == 1 ? 1 : spec.luma_h,
            max_v = spec.components == 1 ? 1 : spec.luma_v;
  const int mcu_columns = (spec.width + max_h * 8 - 1) / (max_h * 8);
  const int mcu_rows = (spec.height + max_v * 8 - 1) / (max_v * 8);
  jvirt_barray_ptr arrays[3] = {};
  for (int ci = 0; ci < spec.components; ++ci) {
    const jpeg_component_info& c = cinfo.comp_info[ci];
    arrays[ci] = (*cinfo.mem->request_virt_barray)(
        reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE, TRUE,
        JDIMENSION(mcu_columns * c.h_samp_factor), JDIMENSION(mcu_rows * c.v_samp_factor),
        JDIMENSION(c.v_samp_factor));
  }
  (*cinfo.mem->realize_virt_arrays)(reinterpret_cast<j_common_ptr>(&cinfo));
  for (int ci = 0; ci < spec.components; ++ci) {
    const jpeg_component_info& c = cinfo.comp_info[ci];
    for (int y = 0; y < mcu_rows * c.v_samp_factor; ++y) {
      JBLOCKARRAY row = (*cinfo.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&cinfo),
                                                         arrays[ci], JDIMENSION(y), 1, TRUE);
      for (int x = 0; x < mcu_columns * c.h_samp_factor; ++x) fill(ci, x, y, row[0][x]);
    }
  }
  jpeg_write_coefficients(&cinfo, arrays);
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  return bytes;
}

struct Random {
  uint64_t state;
  uint32_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(state >> 33);
  }
  int in(int lo, int hi) { return lo + int(next() % uint32_t(hi - lo + 1)); }  // [lo, hi]
};

inline std::array<uint16_t, 64> constant_quant(int value) {
  std::array<uint16_t, 64> q;
  q.fill(uint16_t(value));
  return q;
}

inline std::array<uint16_t, 64> random_quant(Random& random, int hi) {
  std::array<uint16_t, 64> q;
  for (auto& v : q) v = uint16_t(random.in(1, hi));
  q[size_t(random.in(0, 63))] = uint16_t(hi);
  return q;
}

// Random blocks of every kind the IDCT treats differently: dense, sparse, DC only, only row 0
// (the SIMD code's all-columns shortcut) and only one coefficient below row 0 (no shortcut). AC in
// [ac_min, ac_max], half of them at or next to the ends; DC within [-dc_max, dc_max] (so its steps
// from block to block stay within 2 * dc_max).
inline BlockFill random_blocks(uint64_t seed, int ac_min, int ac_max, int dc_max) {
  return [=](int component, int block_x, int block_y, int16_t* block) {
    Random random{seed * 1000003u + uint64_t(component) * 7919u + uint64_t(block_y) * 104729u +
                  uint64_t(block_x)};
    auto ac = [&] {
      switch (random.in(0, 3)) {
        case 0:
          return int16_t(ac_max - random.in(0, 1));
        case 1:
          return int16_t(ac_min + random.in(0, 1));
        default:
          return int16_t(random.in(ac_min, ac_max));
      }
    };
    std::fill(block, block + 64, int16_t(0));
    block[0] = int16_t(random.in(-dc_max, dc_max));
    switch (random.in(0, 5)) {
      case 0:
      case 1:  // dense
        for (int k = 1; k < 64; ++k) block[k] = ac();
        break;
      case 2:  // sparse
        for (int n = random.in(1, 6); n > 0; --n) block[random.in(1, 63)] = ac();
        break;
      case 3:  // DC only
        break;
      case 4:  // row 0 only
        for (int k = 1; k < 8; ++k) block[k] = ac();
        break;
      default:  // one coefficient below row 0
        block[random.in(8, 63)] = ac();
        break;
    }
  };
}

}  // namespace codec_test
