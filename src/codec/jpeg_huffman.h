// JpegScan and the chunked Huffman decoder: a baseline JPEG's entropy-coded scan cut into chunks
// of kHuffmanChunkBits that threads decode at once, each from a guessed start until the guesses
// agree (JPEG's Huffman codes resynchronize within a few symbols), then into libjpeg's quantized
// DCT blocks (codec/jpeg_idct.h's JpegCoefficients) bit for bit. The per-chunk steps are shared
// by the GPU kernels (plan/jpeg_scan_decode.cu) and decode_scan_chunked, their CPU reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "codec/jpeg_idct.h"
#include "core/host_device.h"

namespace gpuaug::codec {

// One Huffman table as libjpeg's jpeg_make_d_derived_tbl derives it (jdhuff.c), plus a lookup of
// every code of up to kHuffmanLookupBits bits.
constexpr int kHuffmanLookupBits = 9;
struct JpegHuffmanTable {
  uint16_t lookup[1 << kHuffmanLookupBits];  // (length << 8) | value; 0 for longer codes
  int32_t maxcode[18];    // the largest code of each length, -1 where none
  int32_t valoffset[18];  // value index minus code, each length
  uint8_t values[256];
};
static_assert(sizeof(JpegHuffmanTable) % 16 == 0);

constexpr uint32_t kHuffmanChunkBits = 4096;

// A baseline (sequential Huffman, 8-bit) JPEG whose one scan carries every component, as
// JpegPlaneReader::read_entropy lays it out in one buffer:
//   the components' quantization tables, as JpegCoefficients' first `layout.block_offset[0]`
//   bytes (the decoder copies them into the coefficients);
//   jpeg_natural_order with its 16 guard entries (80 bytes) at natural_order_offset;
//   `tables` JpegHuffmanTables at tables_offset;
//   the entropy-coded bytes with their stuffing removed (0xFF00 -> 0xFF) at data_offset,
//   data_bytes of them, then 16 zero bytes.
// Every offset is a multiple of 16. Block b of an MCU belongs to component block_component[b], at
// (block_dx[b], block_dy[b]) blocks within the MCU's area of that component, and is decoded with
// tables block_dc[b] and block_ac[b]. A gray image's scan is not interleaved: an MCU is one block,
// mcus_per_row = the component's blocks_wide.
struct JpegScan {
  JpegCoefficients layout;  // where the blocks go
  int blocks_in_mcu = 0;    // 1 .. 6
  int mcus_per_row = 0;
  uint32_t mcus = 0, total_blocks = 0;  // total_blocks = mcus * blocks_in_mcu (padding blocks too)
  int8_t block_component[6] = {}, block_dx[6] = {}, block_dy[6] = {}, block_dc[6] = {}, block_ac[6] = {};
  int mcu_blocks_wide[3] = {}, mcu_blocks_high[3] = {};  // a component's blocks in one MCU
  int tables = 0;
  size_t natural_order_offset = 0, tables_offset = 0, data_offset = 0;
  uint32_t data_bytes = 0;
  size_t bytes = 0;  // the buffer's size

  GPUAUG_HD_INLINE uint32_t data_bits() const { return data_bytes * 8u; }
  GPUAUG_HD_INLINE uint32_t chunks() const {
    return data_bytes == 0 ? 1u : (data_bits() + kHuffmanChunkBits - 1) / kHuffmanChunkBits;
  }
};

// Where a decoding stands: at bit `bit` of the data, in block `block` of the MCU, about to decode
// coefficient `k` (0: the DC) of it. Two decodings at the same state decode alike from there on.
struct HuffmanState {
  uint32_t bit = 0;
  uint32_t block = 0, k = 0;
  GPUAUG_HD_INLINE uint64_t packed() const { return uint64_t(bit) | uint64_t(block) << 32 | uint64_t(k) << 40; }
  GPUAUG_HD_INLINE static HuffmanState unpack(uint64_t v) {
    HuffmanState s;
    s.bit = uint32_t(v), s.block = uint32_t(v >> 32) & 0xFF, s.k = uint32_t(v >> 40) & 0xFF;
    return s;
  }
};

// Per-image scratch of the chunked decode, one entry a chunk (device or host memory alike).
struct ScanWork {
  const uint8_t* buffer = nullptr;  // read_entropy's
  uint8_t* coefficients = nullptr;  // JpegCoefficients, blocks zeroed beforehand
  int16_t* dc_diffs = nullptr;      // one a block of the scan (padding blocks too)
  uint64_t* ends[2] = {};           // each chunk's end state (HuffmanState::packed), by pass parity
  uint64_t* starts = nullptr;       // the start each chunk's ends and blocks were decoded from
  uint32_t* blocks = nullptr;       // DC codes (blocks begun) in the chunk
  uint32_t* first_block = nullptr;  // blocks begun before the chunk (once its start is the true one)
  int32_t* dc_sums = nullptr;       // 3 a chunk: the chunk's DC differences, each component
  int64_t* dc_carry = nullptr;      // 3 a chunk: each component's DC value before the chunk
  uint32_t* status = nullptr;       // [0] 1 + the bit after the last block (0: not reached), [1] declined
  JpegScan scan;
};

namespace huffman_detail {

// 32 bits of the big-endian bit string from `bit` on; the buffer has 16 bytes past the data.
GPUAUG_HD_INLINE uint32_t peek32(const uint8_t* data, uint32_t bit) {
  const uint8_t* p = data + (bit >> 5) * 4;
#if defined(__CUDA_ARCH__)
  const uint32_t hi = __byte_perm(*reinterpret_cast<const uint32_t*>(p), 0, 0x0123);
  const uint32_t lo = __byte_perm(*reinterpret_cast<const uint32_t*>(p + 4), 0, 0x0123);
#else
  const uint32_t hi = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
  const uint32_t lo = uint32_t(p[4]) << 24 | uint32_t(p[5]) << 16 | uint32_t(p[6]) << 8 | p[7];
#endif
  return uint32_t((uint64_t(hi) << 32 | lo) >> (32 - (bit & 31)));
}

// HUFF_EXTEND: the `size` bits after a code as a signed value.
GPUAUG_HD_INLINE int extend(uint32_t bits, int size) {
  const int v = int(bits);
  return v < (1 << (size - 1)) ? v - (1 << size) + 1 : v;
}

// The code at the top of `bits`: its length and value; length 0 where no code of up to 16 bits
// matches (libjpeg warns "Corrupt JPEG data: bad Huffman code").
GPUAUG_HD_INLINE void decode_symbol(const JpegHuffmanTable& t, uint32_t bits, int& length, int& value) {
  const uint32_t e = t.lookup[bits >> (32 - kHuffmanLookupBits)];
  if (e != 0) {
    length = int(e >> 8), value = int(e & 0xFF);
    return;
  }
  for (int l = kHuffmanLookupBits + 1; l <= 16; ++l) {
    const int32_t code = int32_t(bits >> (32 - l));
    if (code <= t.maxcode[l]) {
      length = l, value = t.values[(code + t.valoffset[l]) & 0xFF];
      return;
    }
  }
  length = 0, value = 0;
}

// What a walk reports per code: nothing (NullVisitor) or the blocks' values (the write pass).
struct NullVisitor {
  GPUAUG_HD_INLINE void dc(const HuffmanState&, int) {}
  GPUAUG_HD_INLINE void ac(int, int) {}
  GPUAUG_HD_INLINE bool block_done(const HuffmanState&) { return true; }
  GPUAUG_HD_INLINE void bad_code() {}
};

// Decodes from `s` while s.bit < stop_bit, as jdhuff.c's decode_mcu does (an AC run past
// coefficient 63 writes coefficient 63 through jpeg_natural_order's guard entries, silently, as
// libjpeg does). Returns the state at the first code boundary at or past stop_bit, or where the
// visitor said stop. Counts the DC codes it decodes in `dc_codes`. A code that matches nothing
// is taken as 16 bits of value 0 (the visitor hears of it).
template <class Visitor>
GPUAUG_HD_INLINE HuffmanState walk(const JpegScan& scan, const uint8_t* buffer, HuffmanState s, uint32_t stop_bit,
                                   Visitor& visitor, uint32_t& dc_codes) {
  const uint8_t* data = buffer + scan.data_offset;
  const auto* tables = reinterpret_cast<const JpegHuffmanTable*>(buffer + scan.tables_offset);
  while (s.bit < stop_bit) {
    const uint32_t bits = peek32(data, s.bit);
    const JpegHuffmanTable& t = tables[s.k == 0 ? scan.block_dc[s.block] : scan.block_ac[s.block]];
    int length = 0, symbol = 0;
    decode_symbol(t, bits, length, symbol);
    if (length == 0) {
      visitor.bad_code();
      length = 16;
    }
    const int size = symbol & 15;
    const int value = size == 0 ? 0 : extend((bits << length) >> (32 - size), size);
    if (s.k == 0) {
      ++dc_codes;
      visitor.dc(s, value);
      s.k = 1;
    } else if (size != 0) {
      const uint32_t k = s.k + uint32_t(symbol >> 4);
      visitor.ac(buffer[scan.natural_order_offset + k], value);
      s.k = k + 1;
    } else {
      s.k = (symbol >> 4) == 15 ? s.k + 16 : 64;  // ZRL, else EOB
    }
    s.bit += uint32_t(length + size);
    if (s.k >= 64) {
      s.k = 0;
      if (++s.block == uint32_t(scan.blocks_in_mcu)) s.block = 0;
      if (!visitor.block_done(s)) return s;
    }
  }
  return s;
}

GPUAUG_HD_INLINE uint32_t chunk_stop(const JpegScan& scan, uint32_t chunk) {
  const uint32_t end = (chunk + 1) * kHuffmanChunkBits;
  return end < scan.data_bits() ? end : scan.data_bits();
}

// The 64 values of the scan's block `block` in the coefficients, or null for a padding block (of
// an MCU past the image's right or bottom edge, which libjpeg decodes and drops).
GPUAUG_HD_INLINE int16_t* block_coefficients(const ScanWork& w, uint32_t block) {
  const JpegScan& scan = w.scan;
  const uint32_t mcu = block / uint32_t(scan.blocks_in_mcu), b = block % uint32_t(scan.blocks_in_mcu);
  const int c = scan.block_component[b];
  const uint32_t x = (mcu % uint32_t(scan.mcus_per_row)) * uint32_t(scan.mcu_blocks_wide[c]) + uint32_t(scan.block_dx[b]);
  const uint32_t y = (mcu / uint32_t(scan.mcus_per_row)) * uint32_t(scan.mcu_blocks_high[c]) + uint32_t(scan.block_dy[b]);
  if (x >= uint32_t(scan.layout.blocks_wide[c]) || y >= uint32_t(scan.layout.blocks_high[c])) return nullptr;
  return reinterpret_cast<int16_t*>(w.coefficients + scan.layout.block_offset[c]) +
         (size_t(y) * size_t(scan.layout.blocks_wide[c]) + x) * 64;
}

// The write pass's visitor: block values into the coefficients, DC differences aside.
struct WriteVisitor {
  const ScanWork& w;
  uint32_t block;                   // the scan's block being decoded
  int16_t* coefficients = nullptr;  // its 64 values (block_coefficients)
  int32_t dc_sum[3] = {};
  bool bad = false, ended = false;
  uint32_t end_bit = 0;

  GPUAUG_HD_INLINE void dc(const HuffmanState& s, int value) {
    w.dc_diffs[block] = int16_t(value);
    dc_sum[w.scan.block_component[s.block]] += value;
  }
  GPUAUG_HD_INLINE void ac(int position, int value) {
    if (coefficients) coefficients[position] = int16_t(value);
  }
  GPUAUG_HD_INLINE bool block_done(const HuffmanState& s) {
    if (++block == w.scan.total_blocks) {
      ended = true, end_bit = s.bit;
      return false;
    }
    coefficients = block_coefficients(w, block);
    return true;
  }
  GPUAUG_HD_INLINE void bad_code() { bad = true; }
};

}  // namespace huffman_detail

// The exact start of chunk 0; other chunks start from a guess: a DC code at the chunk's first bit.
GPUAUG_HD_INLINE HuffmanState guessed_start(uint32_t chunk) {
  HuffmanState s;
  s.bit = chunk * kHuffmanChunkBits;
  return s;
}

// Pass 1, every chunk at once: decode from the guess to the chunk's end.
GPUAUG_HD_INLINE void scout_chunk(const ScanWork& w, uint32_t chunk) {
  huffman_detail::NullVisitor none;
  uint32_t dc = 0;
  const HuffmanState start = guessed_start(chunk);
  w.ends[0][chunk] = huffman_detail::walk(w.scan, w.buffer, start, huffman_detail::chunk_stop(w.scan, chunk), none, dc).packed();
  w.starts[chunk] = start.packed();
  w.blocks[chunk] = dc;
}

// Pass 2, kSyncPasses times (pass p reads ends[p % 2], writes ends[(p + 1) % 2]): chunk c (> 0)
// decoded again from chunk c - 1's end, where it was decoded from another start. After n passes chunks 0..n hold their true ends, and so does every chunk whose
// guess fell into step with the true decoding within its bits (the usual case: a chain of chunks
// out of step is left where a chunk's bits hold no point at which both decodings agree on the
// block and the coefficient, which dense blocks at high quality can make long).
constexpr int kSyncPasses = 2;
GPUAUG_HD_INLINE void sync_chunk(const ScanWork& w, uint32_t chunk, int pass) {
  const uint64_t* ends_in = w.ends[pass & 1];
  uint64_t* ends_out = w.ends[(pass + 1) & 1];
  if (chunk == 0 || w.starts[chunk] == ends_in[chunk - 1]) {
    ends_out[chunk] = ends_in[chunk];
    return;
  }
  huffman_detail::NullVisitor none;
  uint32_t dc = 0;
  const uint64_t start = ends_in[chunk - 1];
  ends_out[chunk] =
      huffman_detail::walk(w.scan, w.buffer, HuffmanState::unpack(start), huffman_detail::chunk_stop(w.scan, chunk), none, dc)
          .packed();
  w.starts[chunk] = start;
  w.blocks[chunk] = dc;
}

// Pass 3, one thread an image: the chains the sync passes left, chunk after chunk, from chunk 0's
// true start; then the blocks begun before each chunk. Returns the chunks it decoded again.
GPUAUG_HD_INLINE uint32_t resolve_chunks(const ScanWork& w) {
  uint64_t* ends = w.ends[kSyncPasses & 1];
  uint32_t decoded = 0, before = 0;
  for (uint32_t c = 0; c < w.scan.chunks(); ++c) {
    if (c > 0 && w.starts[c] != ends[c - 1]) {
      huffman_detail::NullVisitor none;
      uint32_t dc = 0;
      w.starts[c] = ends[c - 1];
      ends[c] = huffman_detail::walk(w.scan, w.buffer, HuffmanState::unpack(ends[c - 1]),
                                     huffman_detail::chunk_stop(w.scan, c), none, dc)
                    .packed();
      w.blocks[c] = dc;
      ++decoded;
    }
    w.first_block[c] = before;
    before += w.blocks[c];
  }
  return decoded;
}

// Pass 4, every chunk at once: its AC values into their blocks, its DC differences aside. The
// chunk holding the scan's last code notes the bit after it; a bad code declines the image.
GPUAUG_HD_INLINE void write_chunk(const ScanWork& w, uint32_t chunk) {
  const JpegScan& scan = w.scan;
  if (chunk == 0) {  // the quantization tables the IDCT reads
    for (size_t i = 0; i < scan.layout.block_offset[0]; ++i) w.coefficients[i] = w.buffer[i];
  }
  const HuffmanState start = HuffmanState::unpack(w.starts[chunk]);
  uint32_t block = w.first_block[chunk];
  if (start.k != 0) --block;  // the block begun in the chunk before goes on here
  for (int c = 0; c < 3; ++c) w.dc_sums[3 * chunk + c] = 0;
  if (block >= scan.total_blocks) return;  // past the scan's end: data the last block left over
  huffman_detail::WriteVisitor v{w, block, huffman_detail::block_coefficients(w, block)};
  uint32_t dc = 0;
  huffman_detail::walk(scan, w.buffer, start, huffman_detail::chunk_stop(scan, chunk), v, dc);
  for (int c = 0; c < 3; ++c) w.dc_sums[3 * chunk + c] = v.dc_sum[c];
  if (v.ended) w.status[0] = v.end_bit + 1;
  if (v.bad) w.status[1] = 1;
}

// Pass 5, one thread an image: each chunk's DC values before it; declines the image unless its
// last block ended in the data's last byte (libjpeg warns about data left over or missing).
GPUAUG_HD_INLINE void carry_dc(const ScanWork& w) {
  int64_t before[3] = {};
  for (uint32_t c = 0; c < w.scan.chunks(); ++c)
    for (int i = 0; i < 3; ++i) {
      w.dc_carry[3 * c + i] = before[i];
      before[i] += w.dc_sums[3 * c + i];
    }
  if (w.status[0] == 0 || (w.status[0] - 1 + 7) / 8 != w.scan.data_bytes) w.status[1] = 1;
}

// Pass 6, every chunk at once: its blocks' DC values, as libjpeg's running sums, stored in 16 bits
// as libjpeg stores them. A running sum past the range of an int declines the image (libjpeg-turbo
// 2.1 lets it wrap; declining leaves such a file to libjpeg, whose blocks then count).
GPUAUG_HD_INLINE void finish_dc(const ScanWork& w, uint32_t chunk) {
  const JpegScan& scan = w.scan;
  const uint32_t first = w.first_block[chunk];
  uint32_t end = chunk + 1 < scan.chunks() ? w.first_block[chunk + 1] : scan.total_blocks;
  if (end > scan.total_blocks) end = scan.total_blocks;
  int64_t running[3] = {w.dc_carry[3 * chunk], w.dc_carry[3 * chunk + 1], w.dc_carry[3 * chunk + 2]};
  for (uint32_t block = first; block < end; ++block) {
    const int c = scan.block_component[block % uint32_t(scan.blocks_in_mcu)];
    running[c] += w.dc_diffs[block];
    if (running[c] > INT32_MAX || running[c] < INT32_MIN) w.status[1] = 1;
    if (int16_t* values = huffman_detail::block_coefficients(w, block))
      values[0] = int16_t(uint16_t(uint64_t(running[c])));
  }
}

// Builds `out` from a DHT's code counts (bits[1..16]) and values as jpeg_make_d_derived_tbl
// does; false where libjpeg would reject the table (more than 256 codes, a code that does not
// fit its length, a DC value above 15).
bool derive_huffman_table(const uint8_t* bits, const uint8_t* values, bool dc, JpegHuffmanTable& out);

// The CPU reference of the GPU's passes, in the same order. `coefficients` must hold zeros where
// the blocks go; returns false where the image is declined (the coefficients are then not
// libjpeg's: decode it with libjpeg). `resolved`, if given, counts the chunks pass 3 decoded.
bool decode_scan_chunked(const JpegScan& scan, const uint8_t* buffer, uint8_t* coefficients,
                         uint32_t* resolved = nullptr);

}  // namespace gpuaug::codec
