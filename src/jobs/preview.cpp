// preview: each of the first n images beside its first augmented sample, 4 pairs a row,
// every picture fitted into a square cell by the same antialiased resampling as the ops.
#include "jobs/preview.h"

#include <algorithm>

#include "codec/decoder.h"
#include "codec/encoder.h"
#include "core/device.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "jobs/output_files.h"
#include "ops/fold.h"
#include "pipeline/augmenter.h"
#include "plan/plan.h"

namespace gpuaug::jobs {

namespace {

constexpr int kPairsPerRow = 4;
constexpr int kGap = 4;
constexpr uint8_t kBackground = 40;

// Fits an RGB or gray image into cell x cell, keeping its aspect ratio.
Image fit_into(const Image& src, int cell) {
  Image rgb = src;
  if (src.channels == 1) {
    rgb = Image(src.width, src.height, 3);
    for (size_t i = 0; i < src.pixels.size(); ++i)
      for (int c = 0; c < 3; ++c) rgb.pixels[i * 3 + c] = src.pixels[i];
  }
  const double scale = std::min(double(cell) / rgb.width, double(cell) / rgb.height);
  const int w = std::max(1, int(rgb.width * scale)), h = std::max(1, int(rgb.height * scale));
  ops::SampleFold fold(rgb.width, rgb.height);
  fold.resize(h, w, ops::Interp::kBilinear, true);
  const Tensor t = plan::execute_cpu(fold.finish(), rgb, {}, Layout::kHWC);
  Image out(w, h, 3);
  std::copy(reinterpret_cast<const uint8_t*>(t.data.data()),
            reinterpret_cast<const uint8_t*>(t.data.data()) + t.data.size(), out.pixels.begin());
  return out;
}

void paste(Image& canvas, const Image& tile, int x0, int y0, int cell) {
  const int ox = x0 + (cell - tile.width) / 2, oy = y0 + (cell - tile.height) / 2;
  for (int y = 0; y < tile.height; ++y)
    std::copy(tile.row(y), tile.row(y) + tile.stride(), canvas.row(oy + y) + size_t(ox) * 3);
}

}  // namespace

int run_preview(const PreviewOptions& options) {
  pipeline::Spec spec = pipeline::load_spec(options.spec_path);
  if (options.seed) spec.seed = *options.seed;
  const pipeline::Augmenter augmenter(spec);
  const data::Source source = data::open_source(options.input);
  const int n = std::min<int>(std::max(options.n, 1), int(source.samples.size()));

  std::vector<Image> originals(n), augmented(n);
  std::vector<pipeline::PreparedImage> prepared(n);
  const Device device = parse_device(options.device);
  ThreadPool pool(options.threads);
  pool.parallel_for(size_t(n), [&](size_t i) {
    const data::SampleRef& ref = source.samples[i];
    const std::vector<uint8_t> bytes = data::read_sample(source, ref);
    try {
      codec::DecodeRequest whole;
      whole.max_pixels = spec.decode.max_pixels;  // the spec's bound, as for the augmented side
      originals[i] = codec::decode_image(bytes, whole).image;
    } catch (const Error& e) {
      throw e.with_file(ref.path);
    }
    if (device.cuda) {
      prepared[i] = augmenter.prepare(bytes, ref.path, i, 0, options.epoch);
    } else {
      augmented[i] = pipeline::viewable_image(augmenter.run(bytes, ref.path, i, 0, options.epoch).front());
    }
  });
  if (device.cuda) {
    plan::CudaExecutor executor(device.index);
    const auto results = augmenter.execute_gpu(executor, prepared, options.epoch);
    for (int i = 0; i < n; ++i) augmented[i] = pipeline::viewable_image(results[i].front());
  }

  int cell = 64;
  for (const Image& a : augmented) cell = std::max({cell, a.width, a.height});
  cell = std::min(cell, 256);
  const int cols = 2 * std::min(n, kPairsPerRow), rows = (n + kPairsPerRow - 1) / kPairsPerRow;
  Image canvas(cols * (cell + kGap) + kGap, rows * (cell + kGap) + kGap, 3);
  std::fill(canvas.pixels.begin(), canvas.pixels.end(), kBackground);
  for (int i = 0; i < n; ++i) {
    const int x = kGap + (2 * (i % kPairsPerRow)) * (cell + kGap), y = kGap + (i / kPairsPerRow) * (cell + kGap);
    paste(canvas, fit_into(originals[i], cell), x, y, cell);
    paste(canvas, fit_into(augmented[i], cell), x + cell + kGap, y, cell);
  }
  write_file_atomic(options.output, codec::encode_png(canvas));
  return n;
}

}  // namespace gpuaug::jobs
