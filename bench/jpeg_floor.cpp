// Where one CPU thread's time goes for a spec over JPEGs, against the floor no libjpeg-turbo
// path can go under: the Huffman decoding of every row above the bottom of the region the
// plan decodes (a baseline JPEG's entropy-coded data is one bit stream; skipping a row still
// decodes it). Per image, one thread, each stage alone:
//   entropy   jpeg_skip_scanlines to the region's last row (Huffman only: no IDCT, upsampling
//             or colour conversion for the skipped rows)
//   decode    codec::decode_image of the plan's region and scale (what gpuaug decodes)
//   whole     codec::decode_image of the whole image (what Pillow decodes)
//   run       Augmenter::run: header, plan, region decode, fused pass
// Usage: jpeg_floor SPEC DIR [IMAGES [ROUNDS]]; prints a markdown table.
#include <algorithm>
#include <chrono>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <jpeglib.h>  // after <cstddef> and <cstdio>: it uses size_t and FILE without including them

#include "codec/decoder.h"
#include "pipeline/augmenter.h"
#include "pipeline/spec.h"

using namespace gpuaug;
using Clock = std::chrono::steady_clock;

namespace {

struct Jump {
  jpeg_error_mgr pub;
  std::jmp_buf buf;
};

void jump(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<Jump*>(cinfo->err)->buf, 1); }

// Entropy-decodes the rows [0, rows) of `bytes` at 1/scale (their output is skipped). False on
// a libjpeg error.
bool skip_rows(const std::vector<uint8_t>& bytes, int scale, int rows) {
  jpeg_decompress_struct cinfo{};
  Jump err{};
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jump;
  if (setjmp(err.buf)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = unsigned(scale);
  jpeg_start_decompress(&cinfo);
  jpeg_skip_scanlines(&cinfo, JDIMENSION(std::min<int>(rows, int(cinfo.output_height))));
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

template <class Step>
double seconds(int rounds, size_t n, const Step& step) {
  const auto start = Clock::now();
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < n; ++i) step(i);
  return std::chrono::duration<double>(Clock::now() - start).count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SPEC DIR [IMAGES [ROUNDS]]\n", argv[0]);
    return 2;
  }
  const size_t limit = argc > 3 ? size_t(std::stoul(argv[3])) : 1000;
  const int rounds = argc > 4 ? std::stoi(argv[4]) : 3;
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(argv[2]))
    if (entry.path().extension() == ".jpg") paths.push_back(entry.path().string());
  std::sort(paths.begin(), paths.end());
  if (paths.size() > limit) paths.resize(limit);
  const pipeline::Augmenter augmenter(pipeline::load_spec(argv[1]));
  std::vector<std::vector<uint8_t>> blobs;
  std::vector<codec::DecodeRequest> requests;
  double rows_share = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    blobs.push_back(codec::read_file(paths[i]));
    const pipeline::PreparedImage p = augmenter.prepare(blobs.back(), paths[i], i, 0, 0, nullptr, false, true);
    requests.push_back(p.cpu_request);
    const codec::ImageInfo info = codec::peek_image(blobs.back());
    const codec::Rect r = p.cpu_request.region;
    rows_share += r.width > 0 ? double(r.y + r.height) / info.oriented_height() : 1.0;
  }
  const size_t n = blobs.size();
  if (n == 0) {
    std::fprintf(stderr, "no .jpg files in %s\n", argv[2]);
    return 2;
  }
  auto last_row = [&](size_t i) {
    const codec::Rect r = requests[i].region;
    const int s = requests[i].scale_denom;
    return r.width > 0 ? (r.y + r.height + s - 1) / s : 1 << 30;
  };
  const double entropy = seconds(rounds, n, [&](size_t i) {
    if (!skip_rows(blobs[i], requests[i].scale_denom, last_row(i))) std::fprintf(stderr, "%s: libjpeg error\n", paths[i].c_str());
  });
  const double decode = seconds(rounds, n, [&](size_t i) { codec::decode_image(blobs[i], requests[i]); });
  const double whole = seconds(rounds, n, [&](size_t i) { codec::decode_image(blobs[i], {}); });
  const double run = seconds(rounds, n, [&](size_t i) { augmenter.run(blobs[i], paths[i], i, 0, 0); });
  std::printf("%zu JPEGs, one thread, %d rounds; the decoded regions end on average %.0f%% of the way down\n\n",
              n, rounds, 100.0 * rows_share / double(n));
  std::printf("| stage | us / image | images/s | share of run |\n|---|---:|---:|---:|\n");
  const auto row = [&](const char* name, double s) {
    std::printf("| %s | %.0f | %.0f | %.0f%% |\n", name, 1e6 * s / double(n), double(n) / s, 100.0 * s / run);
  };
  row("entropy decode of the rows above the region's bottom (the floor)", entropy);
  row("gpuaug's region decode", decode);
  row("whole-image decode", whole);
  row("gpuaug run (decode + plan + fused pass)", run);
  return 0;
}
