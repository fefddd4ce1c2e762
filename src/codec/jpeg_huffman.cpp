// derive_huffman_table (libjpeg's table checks) and decode_scan_chunked, the chunked Huffman
// decoder's passes run one after the other on the CPU: the GPU kernels' reference.
#include "codec/jpeg_huffman.h"

#include <cstring>
#include <vector>

namespace gpuaug::codec {

bool derive_huffman_table(const uint8_t* bits, const uint8_t* values, bool dc, JpegHuffmanTable& out) {
  out = JpegHuffmanTable{};
  // Figure C.1: each code's length; Figure C.2: the codes, none all ones.
  uint8_t sizes[257];
  int count = 0;
  for (int l = 1; l <= 16; ++l) {
    if (count + bits[l] > 256) return false;
    for (int i = 0; i < bits[l]; ++i) sizes[count++] = uint8_t(l);
  }
  sizes[count] = 0;
  uint32_t codes[256];
  uint32_t code = 0;
  for (int p = 0, si = sizes[0]; sizes[p] != 0; ++si) {
    while (sizes[p] == si) codes[p++] = code++;
    if (code >= (uint32_t(1) << si)) return false;
    code <<= 1;
  }
  // Figure F.15: maxcode and valoffset a length.
  for (int l = 1, p = 0; l <= 16; ++l) {
    if (bits[l] != 0) {
      out.valoffset[l] = p - int32_t(codes[p]);
      p += bits[l];
      out.maxcode[l] = int32_t(codes[p - 1]);
    } else {
      out.maxcode[l] = -1;
    }
  }
  out.maxcode[17] = 0xFFFFF;
  std::memcpy(out.values, values, 256);
  if (dc)
    for (int i = 0; i < count; ++i)
      if (values[i] > 15) return false;
  // Every code of up to kHuffmanLookupBits bits, whatever bits follow it.
  for (int p = 0; p < count && sizes[p] <= kHuffmanLookupBits; ++p) {
    const int spare = kHuffmanLookupBits - sizes[p];
    for (uint32_t tail = 0; tail < (uint32_t(1) << spare); ++tail)
      out.lookup[codes[p] << spare | tail] = uint16_t(sizes[p] << 8 | values[p]);
  }
  return true;
}

bool decode_scan_chunked(const JpegScan& scan, const uint8_t* buffer, uint8_t* coefficients, uint32_t* resolved) {
  const uint32_t chunks = scan.chunks();
  std::vector<uint64_t> ends_a(chunks), ends_b(chunks), starts(chunks);
  std::vector<int64_t> carry(3 * size_t(chunks));
  std::vector<uint32_t> blocks(chunks), first_block(chunks), status{0, 0};
  std::vector<int32_t> dc_sums(3 * size_t(chunks));
  std::vector<int16_t> dc_diffs(scan.total_blocks);
  ScanWork w;
  w.buffer = buffer, w.coefficients = coefficients, w.dc_diffs = dc_diffs.data();
  w.ends[0] = ends_a.data(), w.ends[1] = ends_b.data(), w.starts = starts.data();
  w.blocks = blocks.data(), w.first_block = first_block.data(), w.dc_sums = dc_sums.data();
  w.dc_carry = carry.data(), w.status = status.data(), w.scan = scan;
  for (uint32_t c = 0; c < chunks; ++c) scout_chunk(w, c);
  for (int pass = 0; pass < kSyncPasses; ++pass)
    for (uint32_t c = 0; c < chunks; ++c) sync_chunk(w, c, pass);
  const uint32_t decoded = resolve_chunks(w);
  if (resolved) *resolved = decoded;
  for (uint32_t c = 0; c < chunks; ++c) write_chunk(w, c);
  carry_dc(w);
  for (uint32_t c = 0; c < chunks; ++c) finish_dc(w, c);
  return status[1] == 0;
}

}  // namespace gpuaug::codec
