// stats: fixed windows of 64 images measured on the pool, summed as integers, journaled per
// window; float64 results only at the end.
#include "jobs/stats.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <future>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "codec/decoder.h"
#include "codec/image_info.h"
#include "codec/jpeg_decoder.h"
#include "codec/nvjpeg_decoder.h"
#include "core/device.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/pixel_moments.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/journal.h"
#include "jobs/output_files.h"
#include "jobs/plots.h"
#include "jobs/progress.h"
#include "jobs/stop_signal.h"
#include "pipeline/augmenter.h"
#include "pipeline/gpu_workers.h"

namespace gpuaug::jobs {

namespace fs = std::filesystem;
using nlohmann::json;
using u128 = unsigned __int128;

namespace {

// Fixed, so that a resumed run's windows are the same index ranges as the first run's.
constexpr size_t kWindow = 64;
// Images a GPU worker decodes at once, at most, when claims wait for it.
constexpr size_t kGpuBatch = 512;
// With --size, a GPU worker takes whole claims (up to 4 windows of 64) until its batch holds this
// many images, so a batch holds up to 383. Each is decoded on the CPU (about 0.5 MB for 500x375)
// and held twice while the next batch is read and decoded.
constexpr size_t kGpuResizeBatch = 128;
// ... and at most this many decoded bytes (bounded by the headers before anything is decoded):
// the rest of a batch, and any image larger alone, is measured on the CPU, one image a thread.
constexpr size_t kGpuResizeBytes = size_t(256) << 20;
// With --size, claims waiting for each ready GPU, at most: enough that a GPU never waits between
// batches; past it the claim loops wait, so that the pool decodes for the GPU (whose part of an
// image costs the CPU less than the whole of it) rather than for claims of its own.
constexpr size_t kGpuResizeQueue = 2;
// Pinned memory the CPU threads lay images out in for the GPUs' sums, at most. Slots grow in steps
// of 256 KiB, so 256 slots of 500x375 JPEGs' scans take 64 MiB; the budget caps large images,
// which past it are summed on the CPU.
constexpr size_t kPinnedBudget = size_t(256) << 20;
// What one GPU sum thread's batch may hold on the device: a JPEG sent as its scan becomes about
// 4.5 bytes a pixel there (coefficients and planes, at 4:2:0), twenty times its file; 256 photos
// of 24 MP would otherwise ask for 28 GB. At least one image a batch, whatever its size.
constexpr size_t kSumBatchDeviceBytes = size_t(1) << 30;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string u128_text(u128 v) {
  if (v == 0) return "0";
  std::string s;
  for (; v; v /= 10) s.push_back(char('0' + int(v % 10)));
  return {s.rbegin(), s.rend()};
}

u128 u128_parse(const std::string& s) {
  u128 v = 0;
  for (char c : s) v = v * 10 + u128(c - '0');
  return v;
}

// (n * sum_xy - sum_x * sum_y) / n^2, exact up to the final division. Differences of 128-bit
// products could overflow for > 2^47 pixels; long double keeps 64 bits of them there.
double centered(u128 n, u128 sum_xy, u128 sum_x, u128 sum_y) {
  const long double nn = (long double)n;
  if (n < (u128(1) << 40)) {
    const u128 a = n * sum_xy, b = sum_x * sum_y;
    const long double diff = a >= b ? (long double)(a - b) : -(long double)(b - a);
    return double(diff / (nn * nn));
  }
  const long double mx = (long double)sum_x / nn, my = (long double)sum_y / nn;
  return double((long double)sum_xy / nn - mx * my);
}

struct ImageMeta {
  char format = '?';  // 'j' JPEG, 'p' PNG
  int width = 0, height = 0;  // upright, as stored (before --size)
  uint64_t bytes = 0;
};

json quantiles(std::vector<double> values) {
  if (values.empty()) return nullptr;
  std::sort(values.begin(), values.end());
  // numpy's default (linear interpolation between closest ranks).
  auto q = [&](double p) {
    const double pos = p * double(values.size() - 1);
    const size_t lo = size_t(std::floor(pos)), hi = std::min(values.size() - 1, lo + 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - double(lo));
  };
  double sum = 0;
  for (double v : values) sum += v;
  return {{"min", values.front()}, {"p5", q(0.05)},   {"p50", q(0.5)}, {"p95", q(0.95)},
          {"max", values.back()},  {"mean", sum / double(values.size())}};
}

}  // namespace

void PixelSums::add(const Image& image) {
  if (image.channels != 3) throw Error("", "stats", "expected a 3-channel image");
  const size_t n = size_t(image.width) * size_t(image.height);
  RgbHistograms h{};
  add_rgb_histograms(image.pixels.data(), n, h);
  // Sums and squares from the histograms: only the cross products need a pass of their own.
  std::array<uint64_t, 3> sums{}, squares{}, cross{};
  rgb_sums_from_histograms(h, sums, squares);
  add_rgb_cross_products(image.pixels.data(), n, cross);
  pixels += n;
  for (size_t c = 0; c < 3; ++c) {
    sum[c] += sums[c];
    products[c] += squares[c];
    products[3 + c] += cross[c];
    for (size_t v = 0; v < 256; ++v) histogram[c][v] += h[c][v];
  }
}

void PixelSums::merge(const PixelSums& o) {
  pixels += o.pixels;
  for (int c = 0; c < 3; ++c) sum[c] += o.sum[c];
  for (int k = 0; k < 6; ++k) products[k] += o.products[k];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) histogram[c][v] += o.histogram[c][v];
}

void PixelSums::add(const plan::PixelTotals& t) {
  pixels += t.pixels;
  for (int c = 0; c < 3; ++c) sum[c] += t.sum[c];
  for (int k = 0; k < 6; ++k) products[k] += t.products[k];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) histogram[c][v] += t.histogram[c][v];
}

json PixelSums::to_json() const {
  json j{{"pixels", pixels}};
  for (u128 v : sum) j["sum"].push_back(u128_text(v));
  for (u128 v : products) j["products"].push_back(u128_text(v));
  j["histogram"] = histogram;
  return j;
}

PixelSums PixelSums::from_json(const json& j) {
  PixelSums s;
  s.pixels = j.at("pixels").get<uint64_t>();
  for (int c = 0; c < 3; ++c) s.sum[c] = u128_parse(j.at("sum").at(c).get<std::string>());
  for (int k = 0; k < 6; ++k) s.products[k] = u128_parse(j.at("products").at(k).get<std::string>());
  s.histogram = j.at("histogram").get<std::array<std::array<uint64_t, 256>, 3>>();
  return s;
}

void symmetric_eigen3(const std::array<std::array<double, 3>, 3>& matrix, std::array<double, 3>& values,
                      std::array<std::array<double, 3>, 3>& vectors) {
  double a[3][3], v[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) a[i][j] = matrix[i][j];
  for (int sweep = 0; sweep < 64; ++sweep) {
    const double off = std::fabs(a[0][1]) + std::fabs(a[0][2]) + std::fabs(a[1][2]);
    if (off == 0.0) break;
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q) {
        if (a[p][q] == 0.0) continue;
        // Rotation that zeroes a[p][q] (Golub & Van Loan, symmetric Schur decomposition).
        const double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int k = 0; k < 3; ++k) {
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; ++k) {
          const double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  int order[3] = {0, 1, 2};
  std::sort(order, order + 3, [&](int x, int y) { return a[x][x] > a[y][y]; });
  for (int k = 0; k < 3; ++k) {
    const int col = order[k];
    values[k] = a[col][col];
    int largest = 0;
    for (int i = 1; i < 3; ++i)
      if (std::fabs(v[i][col]) > std::fabs(v[largest][col])) largest = i;
    const double sign = v[largest][col] < 0 ? -1.0 : 1.0;
    for (int i = 0; i < 3; ++i) vectors[k][i] = sign * v[i][col];
  }
}

ChannelMoments channel_moments(const PixelSums& s) {
  ChannelMoments m;
  if (s.pixels == 0) return m;
  const u128 n = s.pixels;
  const int pair[3][3] = {{0, 3, 4}, {3, 1, 5}, {4, 5, 2}};  // index into products
  for (int c = 0; c < 3; ++c) m.mean[c] = double((long double)s.sum[c] / (long double)n) / 255.0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      m.covariance[i][j] = centered(n, s.products[pair[i][j]], s.sum[i], s.sum[j]) / (255.0 * 255.0);
  for (int c = 0; c < 3; ++c) m.std[c] = std::sqrt(std::max(0.0, m.covariance[c][c]));
  symmetric_eigen3(m.covariance, m.eigenvalues, m.eigenvectors);
  return m;
}

StatsSummary run_stats(const StatsOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  // Where the time goes: the GPU workers' batches and the CPU's claims, on stderr.
  const bool trace = std::getenv("GPUAUG_TRACE_STATS") != nullptr;
  // Last of all: when everything this function holds (GPU threads, pinned slots, the pool) is gone.
  struct TraceReturn {
    bool on;
    std::chrono::steady_clock::time_point start;
    ~TraceReturn() {
      if (on) std::fprintf(stderr, "stats: returned at %.3f s\n", seconds_since(start));
    }
  } trace_return{trace, start};
  if (o.on_error != "raise" && o.on_error != "skip")
    throw Error("", "stats", fmt::format("--on-error {}: expected raise or skip", o.on_error));
  if (o.size < 0) throw Error("", "stats", "--size must be positive");
  const data::Source source = data::open_source(o.input);
  const size_t count = source.samples.size();
  const dist::World world = dist::detect_world();
  dist::Communicator& comm = dist::communicator(world);
  const bool on_demand = dist::shares_work_on_demand(world);
  const std::vector<Device> devices = dist::process_devices(o.device, world);
  const int gpu_eighths = int(std::lround(std::clamp(o.gpu_share, 0.0, 1.0) * 8));
  const bool nvjpeg_share = devices.front().cuda && o.size == 0 && codec::NvjpegDecoder::built() && gpu_eighths > 0;
  // --size with cuda: the CPU threads decode (as --device cpu does, DCT scaling and all) and the
  // GPU workers resize, in the fused kernel whose bytes are the CPU's, and sum.
  const bool resize_on_gpu = devices.front().cuda && o.size > 0;
  const bool use_gpu = nvjpeg_share || resize_on_gpu;  // GPU workers take claims
  // With --device cuda the GPUs also sum what the CPU threads decode (below).
  const bool gpu_sums = devices.front().cuda && o.size == 0;
  // The GPU workers start on a thread of their own: this says at once where no GPU is.
  if (resize_on_gpu) plan::GpuPixelStats probe(devices.front().index);
  const json header{{"job", "stats"},
                    {"input", fs::absolute(o.input).lexically_normal().string()},
                    {"samples", count},
                    {"size", o.size},
                    {"window", kWindow},
                    {"decoder", nvjpeg_share ? fmt::format("nvjpeg {}/8", gpu_eighths) : "cpu"},
                    {"ranks", world.size}};
  // One journal a rank.
  Journal journal(o.output + ".journal" + (world.distributed() ? fmt::format(".rank{}", world.rank) : ""),
                  header, o.resume);
  const DropJournalIfEmpty drop_empty_journal(journal);

  std::optional<pipeline::Augmenter> resizer;
  if (o.size > 0) {
    pipeline::Spec spec;
    spec.name = "stats --size";
    spec.output.layout = Layout::kHWC;
    pipeline::OpSpec resize;
    resize.name = "resize";
    resize.params = {{"size", ops::ParamValue::of(double(o.size))}};
    spec.ops.push_back(resize);
    resizer.emplace(spec);
  }

  StatsSummary summary;
  summary.images = count;
  PixelSums total;
  std::vector<std::optional<ImageMeta>> metas(count);
  json errors = json::array();
  const size_t windows = (count + kWindow - 1) / kWindow;
  std::vector<bool> window_done(windows, false);
  // Sums, image facts and errors of a journal entry, or of another rank's part.
  auto absorb_part = [&](const json& entry) {
    total.merge(PixelSums::from_json(entry.at("sums")));
    for (const json& m : entry.at("images")) {
      const size_t i = m.at(0).get<size_t>();
      metas[i] = ImageMeta{m.at(1).get<std::string>().at(0), m.at(2).get<int>(), m.at(3).get<int>(),
                           m.at(4).get<uint64_t>()};
    }
    for (const json& e : entry.at("errors")) errors.push_back(e);
  };
  auto absorb = [&](const json& entry) {
    absorb_part(entry);
    window_done[entry.at("window").get<size_t>()] = true;
  };
  for (const json& entry : journal.previous()) absorb(entry);
  // Every rank skips the windows any rank's journal holds (each reports its own at the end).
  if (world.distributed() && on_demand) window_done = dist::any_rank(comm, window_done);
  for (size_t w = 0; w < windows; ++w)
    if (window_done[w]) summary.resumed += std::min(count, (w + 1) * kWindow) - w * kWindow;

  ThreadPool pool(o.threads > 0 ? o.threads : dist::threads_per_process(world));
  Progress progress("stats", count, o.progress && world.rank == 0);
  progress.advance(summary.resumed);
  // Work goes out in claims of a few windows, on demand (to the other ranks' too, under mpirun;
  // without MPI each rank takes the windows w with w % size == rank). Within a claim the GPU
  // workers (one per GPU) take the JPEGs nvJPEG takes among the samples whose index % 8 <
  // gpu_eighths, the CPU pool everything else plus what a GPU refuses: which side measures a
  // sample never depends on timing or on which GPU took the claim (nvJPEG's pixels are not
  // libjpeg's), so neither do the results. With --size the GPU's bytes are the CPU's, so a whole
  // claim goes to whichever side timing favours: to the CPU until a GPU is ready (CUDA's start)
  // and after every GPU failed, else to the GPUs. Claim loops claim, hand the claim's GPU part
  // to the GPU workers' queue and measure the CPU part on the pool; the GPU workers start while
  // the CPU already works. A window is journaled once both sides are done with it.
  struct WindowState {
    PixelSums cpu, gpu;
    size_t cpu_left = 0;   // samples the CPU (or a GPU, summing what the CPU decoded) still has to measure
    bool gpu_done = false;
    bool journaled = false;
  };
  // Claims of up to 4 windows, fewer where the windows would not go round the ranks a few times.
  const size_t claim_windows = std::clamp<size_t>(windows / (4 * size_t(world.size)), 1, 4);
  std::vector<size_t> pending;  // windows left to this process, in claim order
  for (size_t w = 0; w < windows; ++w)
    if (!window_done[w] && (on_demand || int(w % size_t(world.size)) == world.rank)) pending.push_back(w);
  std::map<size_t, WindowState> state;
  std::mutex state_mutex;
  std::vector<std::optional<ImageMeta>> item_metas(count);
  std::vector<std::string> item_errors(count);
  // Samples of a claim handed to the GPUs that the GPUs take (with --size, every one).
  auto gpu_candidate = [&](size_t i) { return resize_on_gpu || (nvjpeg_share && int(i % 8) < gpu_eighths); };
  auto window_items = [&](size_t w) {
    std::vector<size_t> items;
    for (size_t i = w * kWindow; i < std::min(count, (w + 1) * kWindow); ++i) items.push_back(i);
    return items;
  };
  auto fail = [&](size_t i, const Error& e) {
    item_metas[i].reset();
    if (o.on_error == "raise") throw e;
    item_errors[i] = e.what();
  };
  // Reads and peeks sample i; returns its bytes and header, or nullopt after recording a failure.
  auto open_sample = [&](size_t i, std::vector<uint8_t>& blob) -> std::optional<codec::ImageInfo> {
    const data::SampleRef& ref = source.samples[i];
    try {
      blob = data::read_sample(source, ref);
      codec::ImageInfo info;
      try {
        info = codec::peek_image(blob);
      } catch (const Error& e) {
        throw e.with_file(ref.path);
      }
      item_metas[i] = ImageMeta{info.format == codec::ImageFormat::kJpeg ? 'j' : 'p', info.oriented_width(),
                                info.oriented_height(), blob.size()};
      return info;
    } catch (const Error& e) {
      fail(i, e);
      return std::nullopt;
    }
  };
  // The GPUs' second part, on with --device cuda: the CPU threads read images into pinned slots
  // and a GPU decodes and sums them. A baseline JPEG goes as its scan (the CPU only reads the
  // header and unstuffs the bytes), which the GPU Huffman-decodes into libjpeg's blocks
  // (codec/jpeg_huffman.h, declining damaged data, which the CPU then measures), turns into
  // libjpeg's planes (codec/jpeg_idct.h) and finishes to libjpeg-turbo's RGB exactly
  // (codec/jpeg_planes.h); other JPEGs as their quantized DCT coefficients (entropy-decoded here)
  // or, where this libjpeg's IDCT is not the one ported, as the planes; other images as RGB rows.
  // The sums are exact integers of the same pixels as the CPU's, so the file never depends on
  // which side summed an image, and an image goes to whichever is free: a CPU thread that finds
  // no GPU ready or no free slot sums it.
  struct SumItem {
    size_t sample, slot, pixels;
    codec::JpegPlanes planes;              // components 0: RGB rows, coefficients or a scan
    codec::JpegCoefficients coefficients;  // planes.components 0: RGB rows, planes or a scan
    codec::JpegScan scan;                  // layout.planes.components 0: not a scan
  };
  // The GPU's IDCT is libjpeg-turbo's as its x86 SIMD code computes it (codec/jpeg_idct.h): with
  // another libjpeg IDCT, which may differ on extreme coefficients, the CPU runs the IDCT (which
  // side sums an image depends on timing, so both must give the same pixels).
  const bool idct_on_gpu = gpu_sums && codec::libjpeg_idct_is_ported();
  struct SumQueue {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<SumItem> items;
    bool closed = false;  // no more images are coming
    bool failed = false;  // a GPU failed (its error comes from sum_work)
  } sum_queue;
  std::atomic<bool> sums_ready{false};  // a GPU sums: its CUDA context exists, so slots may be allocated
  std::optional<plan::PinnedSlots> slots;
  // Batches' worth for every GPU thread and one more that the CPU threads fill meanwhile (a thread
  // that finds no free slot decodes the image itself, at forty times the cost of laying out a
  // scan).
  if (gpu_sums) slots.emplace(devices.front().index, std::max<size_t>(16, 16 * pool.size()), kPinnedBudget);
  // Decodes sample i (read, peeked) into a slot and queues it for a GPU; false where it did not.
  // A file that fails to decode here goes back to the CPU's decode, whose error the file lists
  // (the same words whichever side was free).
  auto hand_to_gpu = [&](size_t i, std::span<const uint8_t> blob, const codec::ImageInfo& info) {
    if (!sums_ready) return false;
    const size_t pixels = size_t(info.width) * size_t(info.height);  // the sums ignore orientation
    std::optional<size_t> slot;
    codec::JpegPlanes planes;
    codec::JpegCoefficients coefficients;
    codec::JpegScan scan;
    try {
      std::optional<codec::JpegPlaneReader> jpeg;
      if (info.format == codec::ImageFormat::kJpeg) jpeg.emplace(blob, codec::kDefaultMaxPixels);
      if (jpeg && jpeg->finishable()) {
        // The kernel walks `pixels` over the planes' width: they must agree (they always have).
        if (size_t(jpeg->layout().width) * size_t(jpeg->layout().height) != pixels) return false;
        if (idct_on_gpu) {
          // The scan's bytes, unstuffed: the GPU decodes them (libjpeg's blocks bit for bit), then
          // runs the IDCT. Where the GPU's Huffman decoder does not take the file, entropy-decoded
          // here (a fifth less of the CPU's time), where read_coefficients says the IDCT gives
          // libjpeg's planes (not where libjpeg would smooth a progressive file's blocks: then the
          // CPU decodes it).
          if (!(slot = slots->try_acquire(jpeg->entropy_bytes_bound()))) return false;
          if (std::optional<codec::JpegScan> taken = jpeg->read_entropy(slots->data(*slot))) {
            scan = *taken;
          } else {
            slots->release(*slot);
            if (!(slot = slots->try_acquire(jpeg->coefficient_layout().bytes))) return false;
            if (!jpeg->read_coefficients(slots->data(*slot))) {
              slots->release(*slot);
              return false;
            }
            coefficients = jpeg->coefficient_layout();
          }
        } else {
          if (!(slot = slots->try_acquire(jpeg->layout().bytes))) return false;
          jpeg->read(slots->data(*slot));
          planes = jpeg->layout();  // its width x height is `pixels`, whatever the EXIF orientation
        }
      } else {
        if (!codec::RowReader::takes(info) || !(slot = slots->try_acquire(3 * pixels))) return false;
        codec::RowReader reader(blob, {});
        if (size_t(reader.width()) * size_t(reader.rows()) != pixels) {
          slots->release(*slot);
          return false;
        }
        std::vector<uint8_t*> rows(size_t(reader.rows()));
        for (size_t y = 0; y < rows.size(); ++y) rows[y] = slots->data(*slot) + 3 * y * size_t(reader.width());
        reader.read(rows.data(), reader.rows());
      }
    } catch (const Error&) {
      if (slot) slots->release(*slot);
      return false;
    } catch (...) {
      if (slot) slots->release(*slot);
      throw;
    }
    {
      std::lock_guard lock(sum_queue.mutex);
      if (!sum_queue.failed) {
        sum_queue.items.push_back({i, *slot, pixels, planes, coefficients, scan});
        sum_queue.changed.notify_one();
        return true;
      }
    }
    slots->release(*slot);
    return false;
  };
  // Measures sample i into `into`; true where it went to a GPU instead (`may_hand_to_gpu`).
  auto measure_on_cpu = [&](size_t i, PixelSums& into, bool may_hand_to_gpu) {
    const data::SampleRef& ref = source.samples[i];
    std::vector<uint8_t> blob;
    const std::optional<codec::ImageInfo> info = open_sample(i, blob);
    if (!info) return false;
    try {
      Image image;
      try {
        if (may_hand_to_gpu && hand_to_gpu(i, blob, *info)) return true;
        if (resizer) {
          auto samples = resizer->run(blob, ref.path, i, 0, 0);
          image = pipeline::viewable_image(samples.at(0));
        } else {
          image = codec::decode_image(blob, {}).image;
        }
      } catch (const Error& e) {
        throw e.with_file(ref.path);
      }
      into.add(image);
    } catch (const Error& e) {
      fail(i, e);
    }
    return false;
  };
  // Measures samples on the pool, each into its own sums (or hands them to a GPU).
  struct Measured {
    std::vector<PixelSums> sums;
    std::vector<char> handed;  // went to a GPU, whose sums come later
  };
  auto measure_all_on_cpu = [&](const std::vector<size_t>& samples, bool may_hand_to_gpu) {
    Measured m{std::vector<PixelSums>(samples.size()), std::vector<char>(samples.size(), 0)};
    pool.parallel_for(samples.size(), [&](size_t k) {
      if (stop_requested()) return;
      m.handed[k] = measure_on_cpu(samples[k], m.sums[k], may_hand_to_gpu);
    });
    return m;
  };
  auto journal_ready = [&](bool final_pass) {
    std::lock_guard lock(state_mutex);
    for (auto& [w, ws] : state) {
      if (ws.journaled || (!final_pass && (ws.cpu_left > 0 || !ws.gpu_done))) continue;
      json entry{{"window", w}, {"images", json::array()}, {"errors", json::array()}};
      PixelSums sum = ws.cpu;
      sum.merge(ws.gpu);
      for (size_t i : window_items(w)) {
        if (item_metas[i])
          entry["images"].push_back({i, std::string(1, item_metas[i]->format), item_metas[i]->width,
                                     item_metas[i]->height, item_metas[i]->bytes});
        else
          entry["errors"].push_back({{"file", source.samples[i].relative}, {"error", item_errors[i]}});
      }
      entry["sums"] = sum.to_json();
      journal.append(entry);
      absorb(entry);
      ws.journaled = true;
      ws.cpu = PixelSums();
      ws.gpu = PixelSums();
      progress.advance(window_items(w).size());
    }
  };

  // Claims waiting for a GPU worker; under mpirun the main thread runs at most a few claims per
  // GPU ahead, so that a process whose GPUs are slow takes fewer claims.
  struct GpuQueue {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::vector<size_t>> claims;
    bool closed = false;  // no more claims are coming
    bool failed = false;  // a GPU worker failed (its error comes from gpu_work)
    bool ended = false;   // the GPU workers are gone (failed, stopped or done): none takes claims
    size_t ready = 0;     // GPU workers taking claims: started, not failed, not ended
    size_t started = 0;   // GPU workers that were ever ready (only grows: a wait on `ready` could miss a moment)
  } gpu_queue;
  const size_t gpu_count = use_gpu ? devices.size() : 0;
  // Alone, the CPU never waits for the GPUs (which start about a second later); with ranks to
  // share the claims with, it runs at most a few claims per GPU ahead of them.
  const size_t max_ahead = world.distributed() && on_demand ? 4 * std::max<size_t>(gpu_count, 1) : SIZE_MAX;
  std::atomic<bool> abandon{false};  // the main thread failed: the GPU workers stop too
  std::vector<pipeline::WorkerShare> shares;  // the GPU workers' (read once gpu_work is done), then all
  std::atomic<size_t> cpu_measured{0};  // images the CPU measured (with --size, a GPU's given back too)
  // Declared after everything its thread touches: unwinding waits for the thread before those go.
  std::future<void> gpu_work;
  if (use_gpu)
    gpu_work = std::async(std::launch::async, [&] {
      // Claim loops that wait for a GPU (to be ready, or to take queued claims) stop waiting once
      // the workers are gone, whatever ended them: a worker stopped at once is ready only for a
      // moment, which a waiting claim loop can miss.
      struct EndedOnExit {
        GpuQueue& queue;
        int unwinding = std::uncaught_exceptions();
        ~EndedOnExit() {
          {
            std::lock_guard lock(queue.mutex);
            queue.ended = true;
            if (std::uncaught_exceptions() != unwinding) queue.failed = true;
          }
          queue.changed.notify_all();
        }
      } ended_on_exit{gpu_queue};
      auto owned = std::make_unique<pipeline::GpuWorkers>(devices, nvjpeg_share);
      pipeline::GpuWorkers& workers = *owned;
      workers.run([&](pipeline::GpuWorker& worker) {
        plan::GpuPixelStats gpu_stats(worker.device.index);
        // Counted among the ready GPUs from here until it leaves, fails or retires (claim loops
        // with --size hand claims to the GPUs only while one is ready).
        struct Readiness {
          GpuQueue& queue;
          bool counted = false;
          void set(bool on) {
            if (on == counted) return;
            {
              std::lock_guard lock(queue.mutex);
              on ? (++queue.ready, ++queue.started) : --queue.ready;
            }
            counted = on;
            queue.changed.notify_all();
          }
          ~Readiness() { set(false); }
        } readiness{gpu_queue};
        readiness.set(true);
        // With --size: this GPU failed a batch (out of device memory, say). That batch and the
        // claims still queued for it are measured on the CPU, and the claim loops keep the rest.
        std::atomic<bool> retired{false};  // read by the read-ahead's thread too
        // GPUAUG_STATS_FAIL_GPU_BATCH=n: the n-th batch fails as a GPU failure would (tests).
        const char* fail_at = std::getenv("GPUAUG_STATS_FAIL_GPU_BATCH");
        size_t batches = 0;
        // The queued claims' windows, up to kGpuBatch candidates (the GPU starts late, so claims
        // wait for it, and nvJPEG decodes a few hundred images at a time much faster than a
        // claim's few dozen). Waits for the first claim only where `wait` says so.
        auto take_claims = [&](bool wait) {
          std::vector<size_t> windows;
          size_t candidates = 0;
          {
            std::unique_lock lock(gpu_queue.mutex);
            // A retired worker takes the claims left queued only where no GPU is ready to (it
            // gives them all to the CPU).
            auto may_take = [&] { return !gpu_queue.claims.empty() && (!retired || gpu_queue.ready == 0); };
            if (wait) gpu_queue.changed.wait(lock, [&] { return gpu_queue.closed || may_take() || abandon; });
            const size_t most = resize_on_gpu ? kGpuResizeBatch : kGpuBatch;
            while (may_take() && !abandon && !stop_requested() && candidates < most) {
              for (size_t w : gpu_queue.claims.front()) {
                windows.push_back(w);
                for (size_t i : window_items(w)) candidates += gpu_candidate(i) ? 1 : 0;
              }
              gpu_queue.claims.pop_front();
            }
          }
          gpu_queue.changed.notify_all();
          return windows;
        };
        // The windows' candidates read and peeked on the pool (one thread reading them in turn
        // kept the GPU waiting), then split into what nvJPEG takes and what it gives back. With
        // --size they are decoded and planned there too (resize_on_gpu: `prepared`, one a member),
        // and what fails or does not resize to 3 channels goes back to the CPU, which lists the
        // same error or measures it as --device cpu does.
        struct ReadWindows {
          std::vector<size_t> windows, members, given_back;
          std::vector<std::vector<uint8_t>> blobs;
          std::vector<pipeline::PreparedImage> prepared;
          size_t candidates = 0;
        };
        auto read_windows = [&](std::vector<size_t> windows) {
          ReadWindows r;
          r.windows = std::move(windows);
          std::vector<size_t> candidates;
          for (size_t w : r.windows)
            for (size_t i : window_items(w))
              if (gpu_candidate(i)) candidates.push_back(i);
          r.candidates = candidates.size();
          if (retired) {  // read once, by the CPU's path
            r.given_back = std::move(candidates);
            return r;
          }
          std::vector<std::vector<uint8_t>> read(candidates.size());
          std::vector<char> takes(candidates.size(), 0), opened(candidates.size(), 0);
          std::vector<pipeline::PreparedImage> prepared(resize_on_gpu ? candidates.size() : 0);
          std::atomic<size_t> decoded_bytes{0};  // with --size, of the images this batch decodes
          pool.parallel_for(candidates.size(), [&](size_t k) {
            if (stop_requested()) return;  // the batch is dropped: its windows are not marked done
            const auto info = open_sample(candidates[k], read[k]);
            opened[k] = info.has_value();
            if (!info) return;
            if (!resize_on_gpu) {
              takes[k] = codec::NvjpegDecoder::takes(read[k], *info);
              return;
            }
            // At most what a full-scale decode holds (headers give sizes below 2^32 each way, so
            // no overflow); which images pass the bound depends on timing, the results not
            // (either side's bytes are the same). What does not pass the CPU measures.
            const size_t bytes = size_t(info->width) * size_t(info->height) * size_t(std::max(info->channels, 3));
            for (size_t held = decoded_bytes.load();;)
              if (bytes > kGpuResizeBytes - held) return;
              else if (decoded_bytes.compare_exchange_weak(held, held + bytes)) break;
            try {
              prepared[k] = resizer->prepare(read[k], source.samples[candidates[k]].path, candidates[k], 0, 0);
              const auto& plans = prepared[k].plans;
              takes[k] = plans.size() == 1 && plans[0].fold.channels == 3 && plans[0].fold.dtype == DType::kUInt8;
            } catch (const Error&) {
              takes[k] = false;  // the CPU's decode lists it
            }
            read[k] = {};  // decoded: the kernel needs the pixels only
          });
          for (size_t k = 0; k < candidates.size(); ++k) {
            if (!opened[k]) continue;
            if (takes[k]) {
              r.members.push_back(candidates[k]);
              if (resize_on_gpu)
                r.prepared.push_back(std::move(prepared[k]));
              else
                r.blobs.push_back(std::move(read[k]));
            } else {
              r.given_back.push_back(candidates[k]);
            }
          }
          return r;
        };
        // The next windows are read (and with --size decoded) while the GPU works on these.
        std::future<ReadWindows> ahead;
        if (trace) std::fprintf(stderr, "stats: %s ready at %.3f s\n", worker.device.name().c_str(), seconds_since(start));
        for (;;) {
          if (abandon || stop_requested()) break;
          ReadWindows batch;
          if (ahead.valid()) {
            batch = ahead.get();
          } else {
            std::vector<size_t> windows = take_claims(true);
            if (windows.empty()) break;
            batch = read_windows(std::move(windows));
          }
          if (std::vector<size_t> next = take_claims(false); !next.empty())
            ahead = std::async(std::launch::async, read_windows, std::move(next));
          const auto traced = std::chrono::steady_clock::now();
          std::vector<PixelSums> window_sums(batch.windows.size());
          std::vector<size_t>& given_back = batch.given_back;
          std::vector<size_t>& members = batch.members;
          if (resize_on_gpu) {
            ++batches;
            if (retired) {  // read ahead before this GPU retired
              given_back.insert(given_back.end(), members.begin(), members.end());
              members.clear();
            }
            // One job a member (its one plan); a planning error is the data's, not the GPU's:
            // the batch goes back to the CPU, whose path lists it.
            std::vector<plan::SampleJob> jobs;
            try {
              if (!members.empty()) jobs = resizer->gpu_jobs(batch.prepared, 0, nullptr, nullptr, &pool);
            } catch (const Error&) {
              given_back.insert(given_back.end(), members.begin(), members.end());
              members.clear();
            }
            if (!members.empty()) {
              try {
                if (fail_at && std::strtoull(fail_at, nullptr, 10) == batches)
                  throw Error("", "device", "failure injected by GPUAUG_STATS_FAIL_GPU_BATCH");
                // The output stays on the device, where it is summed.
                const plan::DeviceBatch& out = worker.executor->run(jobs, Layout::kHWC, nullptr, &pool);
                size_t m = 0;
                for (size_t b = 0; b < batch.windows.size(); ++b) {
                  for (; m < members.size() && members[m] / kWindow == batch.windows[b]; ++m) {
                    const auto& shape = out.shapes[m];
                    gpu_stats.add(static_cast<const uint8_t*>(out.data) + out.offsets[m],
                                  size_t(shape[1]) * size_t(shape[2]));
                  }
                  window_sums[b].add(gpu_stats.take());
                }
                worker.items += members.size();
              } catch (const Error& e) {
                // The CPU's bytes are the same, so the batch goes back whole; the GPU retires (a
                // failed context stays failed) and says so, once: a retired GPU runs nothing.
                std::fprintf(stderr, "stats: %s failed (%s); its images are measured on the CPU\n",
                             worker.device.name().c_str(), e.what());
                retired = true;
                readiness.set(false);
                window_sums.assign(batch.windows.size(), PixelSums());
                given_back.insert(given_back.end(), members.begin(), members.end());
              }
            }
          } else {
            std::vector<codec::GpuDecodeRequest> requests;
            for (const auto& blob : batch.blobs) requests.push_back({blob, {}});
            const auto decoded = worker.nvjpeg->decode(requests);
            size_t m = 0;
            for (size_t b = 0; b < batch.windows.size(); ++b) {
              for (; m < members.size() && members[m] / kWindow == batch.windows[b]; ++m) {
                if (decoded[m])
                  gpu_stats.add(decoded[m]->device_rgb, size_t(decoded[m]->width) * size_t(decoded[m]->height));
                else
                  given_back.push_back(members[m]);
              }
              window_sums[b].add(gpu_stats.take());
            }
            worker.items += batch.candidates;
          }
          if (trace)
            std::fprintf(stderr, "stats: %s measured %zu images of %zu windows at %.3f s in %.1f ms (%s)\n",
                         worker.device.name().c_str(), members.size(), batch.windows.size(), seconds_since(start),
                         1e3 * seconds_since(traced), ahead.valid() ? "next batch read ahead" : "nothing queued");
          // What nvJPEG would not take or decode (or, with --size, what did not decode or resize
          // to 3 channels), on the CPU pool (which the main thread shares).
          std::sort(given_back.begin(), given_back.end());
          const std::vector<PixelSums> cpu_sums = measure_all_on_cpu(given_back, false).sums;
          // A stop skips the rest of those: the windows must not count as done, or a claim loop
          // could journal them short before the stop reaches the main thread.
          if (stop_requested()) break;
          if (resize_on_gpu) cpu_measured += given_back.size();
          {
            std::lock_guard lock(state_mutex);
            for (size_t k = 0; k < given_back.size(); ++k) state[given_back[k] / kWindow].gpu.merge(cpu_sums[k]);
            for (size_t b = 0; b < batch.windows.size(); ++b) {
              WindowState& ws = state[batch.windows[b]];
              ws.gpu.merge(window_sums[b]);
              ws.gpu_done = true;
            }
          }
          // The claim loops journal what is complete after each claim, but may be done with
          // their claims long before this batch (with --size they have no part of their own):
          // without this, a stopped run would find its journal empty.
          journal_ready(false);
        }
      });
      shares = workers.shares();
      if (trace) std::fprintf(stderr, "stats: GPU work done at %.3f s\n", seconds_since(start));
      // Closing nvJPEG's handle took 0.1-0.28 s on an H100 (RESULTS run 20): traced on its own.
      owned.reset();
      if (trace) std::fprintf(stderr, "stats: GPU workers closed at %.3f s\n", seconds_since(start));
    });

  // Two threads a GPU, each with its own stream, decode and sum what the CPU threads handed over,
  // in batches of what has queued (up to 256): one's copies and kernels overlap the other's, which
  // the Huffman decoder's few threads an image leave room for (one thread and batches of 64: 1.03-
  // 1.09 s on 20,000 JPEGs; two and 256: 0.82-0.89 s; RESULTS run 23).
  std::vector<pipeline::WorkerShare> sum_shares;  // one a GPU, filled in once its threads are done
  for (const Device& device : gpu_sums ? devices : std::vector<Device>{})
    sum_shares.push_back({fmt::format("cpu decode + {} sums", device.name()), 0});
  constexpr size_t sum_threads_per_gpu = 2;
  std::vector<size_t> summed(sum_shares.size() * sum_threads_per_gpu, 0);  // each written by its thread
  auto host_pixels = [&](const SumItem& item) {
    return plan::HostPixels{slots->data(item.slot), item.pixels, item.planes, item.coefficients, item.scan};
  };
  std::vector<std::future<void>> sum_work;  // after what its threads touch, as gpu_work
  for (size_t t = 0; t < summed.size(); ++t)
    sum_work.push_back(std::async(std::launch::async, [&, t] {
      const size_t g = t / sum_threads_per_gpu;
      try {
        plan::GpuPixelStats gpu(devices[g].index);
        {
          std::lock_guard lock(sum_queue.mutex);
          sums_ready = true;
        }
        sum_queue.changed.notify_all();
        if (trace) std::fprintf(stderr, "stats: %s sums ready at %.3f s\n", devices[g].name().c_str(), seconds_since(start));
        size_t batches = 0;
        for (;;) {
          std::vector<SumItem> batch;
          {
            std::unique_lock lock(sum_queue.mutex);
            sum_queue.changed.wait(lock, [&] { return sum_queue.closed || !sum_queue.items.empty() || abandon; });
            if (abandon || stop_requested() || sum_queue.items.empty()) break;
            for (size_t device_bytes = 0;
                 !sum_queue.items.empty() && batch.size() < plan::GpuPixelStats::kMaxMeasured;) {
              const size_t bytes = host_pixels(sum_queue.items.front()).device_bytes();
              if (!batch.empty() && device_bytes + bytes > kSumBatchDeviceBytes) break;
              device_bytes += bytes;
              batch.push_back(sum_queue.items.front());
              sum_queue.items.pop_front();
            }
          }
          std::vector<plan::HostPixels> images;
          for (const SumItem& item : batch) images.push_back(host_pixels(item));
          const std::vector<plan::PixelTotals> totals = gpu.measure(images);
          for (const SumItem& item : batch) slots->release(item.slot);
          // What the GPU's Huffman decoder declined (damaged data, mostly), here as --device cpu
          // measures it, errors and all.
          std::vector<PixelSums> declined(batch.size());
          size_t declined_count = 0;
          for (size_t k = 0; k < batch.size(); ++k)
            if (totals[k].declined) {
              ++declined_count;
              measure_on_cpu(batch[k].sample, declined[k], false);
            }
          {
            std::lock_guard lock(state_mutex);
            for (size_t k = 0; k < batch.size(); ++k) {
              WindowState& ws = state[batch[k].sample / kWindow];
              if (totals[k].declined)
                ws.cpu.merge(declined[k]);
              else
                ws.cpu.add(totals[k]);
              --ws.cpu_left;
            }
          }
          cpu_measured += declined_count;
          summed[t] += batch.size() - declined_count;
          ++batches;
          journal_ready(false);
        }
        if (trace)
          std::fprintf(stderr, "stats: %s summed %zu images in %zu batches, done at %.3f s\n",
                       devices[g].name().c_str(), summed[t], batches, seconds_since(start));
      } catch (...) {
        {
          std::lock_guard lock(sum_queue.mutex);
          sum_queue.failed = true;
        }
        sums_ready = false;
        sum_queue.changed.notify_all();
        throw;
      }
    }));

  struct AbandonOnExit {
    std::atomic<bool>& flag;
    GpuQueue& queue;
    SumQueue& sums;
    ~AbandonOnExit() {
      {
        std::scoped_lock lock(queue.mutex, sums.mutex);
        flag = true;
      }
      queue.changed.notify_all();
      sums.changed.notify_all();
    }
  } abandon_on_exit{abandon, gpu_queue, sum_queue};  // destroyed before gpu_work and sum_work, whose destructors wait

  // A claim loop: claims, hands the GPU part on, measures the CPU part on the pool, journals what
  // is complete.
  dist::ChunkQueue claims((pending.size() + claim_windows - 1) / claim_windows,
                          world.distributed() && on_demand ? &comm : nullptr);
  std::atomic<bool> claims_end{false};  // one claim loop failed: the other stops too
  // GPUAUG_STATS_AWAIT_GPU=1: claim nothing before a GPU sums or (with --size) resizes, or
  // failed, so that a small dataset surely reaches it (tests), and the GPU's part can be measured
  // alone.
  const bool await_gpu = std::getenv("GPUAUG_STATS_AWAIT_GPU") != nullptr;
  auto claim_loop = [&] {
    if (await_gpu && gpu_sums) {
      std::unique_lock lock(sum_queue.mutex);
      sum_queue.changed.wait(lock, [&] { return sums_ready || sum_queue.failed || abandon || claims_end; });
    }
    if (await_gpu && resize_on_gpu) {
      std::unique_lock lock(gpu_queue.mutex);
      gpu_queue.changed.wait(lock, [&] { return gpu_queue.started > 0 || gpu_queue.ended || abandon || claims_end; });
    }
    while (!stop_requested() && !claims_end) {
      bool to_gpu = use_gpu;  // the claim's GPU part goes to the GPUs' queue
      if (use_gpu) {
        std::unique_lock lock(gpu_queue.mutex);
        gpu_queue.changed.wait(lock, [&] {
          const size_t bound =
              resize_on_gpu && gpu_queue.ready > 0 ? std::min(max_ahead, kGpuResizeQueue * gpu_queue.ready) : max_ahead;
          return gpu_queue.claims.size() < bound || gpu_queue.ended || claims_end;
        });
        if (gpu_queue.failed || claims_end) break;
        if (gpu_queue.ended) {
          if (!stop_requested()) throw Error("", "stats", "internal: the GPU workers ended before the claims");
          break;
        }
        if (resize_on_gpu) to_gpu = gpu_queue.ready > 0;
      }
      if (gpu_sums) {
        std::lock_guard lock(sum_queue.mutex);
        if (sum_queue.failed) break;
      }
      const auto c = claims.next();
      if (!c) break;
      std::vector<size_t> claim(pending.begin() + *c * claim_windows,
                                pending.begin() + std::min(pending.size(), (*c + 1) * claim_windows));
      std::vector<size_t> cpu_items;
      {
        std::lock_guard lock(state_mutex);
        for (size_t w : claim) {
          WindowState& ws = state[w];
          for (size_t i : window_items(w))
            if (to_gpu && gpu_candidate(i)) continue;
            else ++ws.cpu_left, cpu_items.push_back(i);
          ws.gpu_done = !to_gpu;
        }
      }
      if (to_gpu) {
        {
          std::lock_guard lock(gpu_queue.mutex);
          gpu_queue.claims.push_back(claim);
        }
        gpu_queue.changed.notify_all();
      }
      const auto traced = std::chrono::steady_clock::now();
      const Measured measured = measure_all_on_cpu(cpu_items, gpu_sums);
      if (trace)
        std::fprintf(stderr, "stats: cpu measured %zu images at %.3f s in %.1f ms\n", cpu_items.size(),
                     seconds_since(start), 1e3 * seconds_since(traced));
      throw_if_stopped();
      size_t summed_here = 0;
      {
        std::lock_guard lock(state_mutex);
        for (size_t k = 0; k < cpu_items.size(); ++k) {
          if (measured.handed[k]) continue;  // the GPU's sums count it down
          WindowState& ws = state[cpu_items[k] / kWindow];
          ws.cpu.merge(measured.sums[k]);
          --ws.cpu_left;
          ++summed_here;
        }
      }
      cpu_measured += summed_here;
      journal_ready(false);
    }
  };
  // Two claim loops: while the last items of one claim finish on a few threads, the pool's other
  // threads take the next claim's items instead of idling through every claim's tail. Not with
  // `--threads 1`, where the second loop's thread would be a second decoding thread. A loop that
  // fails ends the other too, which may be waiting for the GPU's queue.
  auto claim_loop_ending_both = [&] {
    try {
      claim_loop();
    } catch (...) {
      {
        std::lock_guard lock(gpu_queue.mutex);
        claims_end = true;
      }
      gpu_queue.changed.notify_all();
      throw;
    }
  };
  if (pool.size() == 1) {
    claim_loop();
  } else {
    auto second = std::async(std::launch::async, claim_loop_ending_both);
    try {
      claim_loop_ending_both();
    } catch (...) {
      second.wait();
      throw;
    }
    second.get();
  }
  if (use_gpu) {
    {
      std::lock_guard lock(gpu_queue.mutex);
      gpu_queue.closed = true;
    }
    gpu_queue.changed.notify_all();
    gpu_work.get();
  }
  if (gpu_sums) {
    {
      std::lock_guard lock(sum_queue.mutex);
      sum_queue.closed = true;
    }
    sum_queue.changed.notify_all();
    for (auto& work : sum_work) work.get();
    for (size_t t = 0; t < summed.size(); ++t) sum_shares[t / sum_threads_per_gpu].items += summed[t];
    if (trace) std::fprintf(stderr, "stats: GPU sums done at %.3f s\n", seconds_since(start));
    shares.insert(shares.begin(), sum_shares.begin(), sum_shares.end());
  }
  throw_if_stopped();
  journal_ready(true);
  shares.insert(shares.begin(), {fmt::format("cpu {} threads", pool.size()), cpu_measured.load()});
  name_by_rank(shares, world);
  progress.finish();

  // Ranks send their exact totals, image facts and errors to rank 0, which adds them: the same
  // integers, hence the same file, as one process.
  if (world.distributed()) {
    json mine{{"sums", total.to_json()}, {"images", json::array()}, {"errors", errors}, {"shares", shares_json(shares)}};
    for (size_t i = 0; i < count; ++i)
      if (metas[i])
        mine["images"].push_back({i, std::string(1, metas[i]->format), metas[i]->width, metas[i]->height,
                                  metas[i]->bytes});
    const std::vector<std::string> parts = comm.gather(json_text(mine));
    if (world.rank != 0) {
      comm.barrier();  // rank 0 has written the file when this returns
      journal.finish();
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return summary;
    }
    total = PixelSums();
    errors = json::array();
    shares.clear();
    for (const std::string& part : parts) {
      const json theirs = json::parse(part);
      absorb_part(theirs);
      append_shares(theirs.at("shares"), shares);
    }
  }
  // In input order whatever the ranks, windows or resumes.
  std::vector<json> sorted_errors(errors.begin(), errors.end());
  std::stable_sort(sorted_errors.begin(), sorted_errors.end(), [](const json& a, const json& b) {
    return a.at("file").get<std::string>() < b.at("file").get<std::string>();
  });
  errors = sorted_errors;

  // Float64 results from the exact totals.
  const ChannelMoments m = channel_moments(total);
  std::vector<double> widths, heights, aspects, bytes;
  std::map<std::string, size_t> formats;
  std::map<std::pair<int, int>, size_t> resolutions;
  for (const auto& meta : metas) {
    if (!meta) continue;
    widths.push_back(meta->width);
    heights.push_back(meta->height);
    aspects.push_back(double(meta->width) / meta->height);
    bytes.push_back(double(meta->bytes));
    ++formats[meta->format == 'j' ? "jpeg" : "png"];
    ++resolutions[{meta->width, meta->height}];
  }
  std::vector<std::pair<std::pair<int, int>, size_t>> common(resolutions.begin(), resolutions.end());
  std::stable_sort(common.begin(), common.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (common.size() > 20) common.resize(20);
  json top = json::array();
  for (const auto& [wh, n] : common) top.push_back({{"width", wh.first}, {"height", wh.second}, {"count", n}});
  std::array<double, 3> mean_255{}, std_255{};
  for (int c = 0; c < 3; ++c) mean_255[c] = m.mean[c] * 255.0, std_255[c] = m.std[c] * 255.0;
  // No pixel measured (every file failed): no moments, rather than zeros a normalize would
  // divide by.
  const bool measured = total.pixels > 0;
  const auto moment = [&](const auto& value) { return measured ? json(value) : json(nullptr); };
  json result{{"input", o.input},
              {"images", count},
              {"measured", widths.size()},
              {"size", o.size > 0 ? json(o.size) : json(nullptr)},
              {"formats", formats},
              {"pixels", total.pixels},
              {"mean", moment(m.mean)},
              {"std", moment(m.std)},
              {"mean_255", moment(mean_255)},
              {"std_255", moment(std_255)},
              {"covariance", moment(m.covariance)},
              {"pca", {{"eigenvalues", moment(m.eigenvalues)}, {"eigenvectors", moment(m.eigenvectors)}}},
              {"histogram", {{"r", total.histogram[0]}, {"g", total.histogram[1]}, {"b", total.histogram[2]}}},
              {"width", quantiles(widths)},
              {"height", quantiles(heights)},
              {"aspect", quantiles(aspects)},
              {"file_bytes", quantiles(bytes)},
              {"resolutions", top},
              {"errors", errors}};
  const std::string text = json_text(result, 1) + "\n";
  write_file_atomic(o.output, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  if (trace) std::fprintf(stderr, "stats: written at %.3f s\n", seconds_since(start));
  if (world.distributed()) comm.barrier();
  journal.finish();
  if (!measured && count > 0)
    throw Error(o.input, "stats",
                fmt::format("no image could be measured ({} errors, listed in {}): mean and std are null there",
                            errors.size(), o.output));
  summary.measured = widths.size();
  summary.shares = shares;
  summary.skipped = errors.size();
  summary.result = std::move(result);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

void draw_stats_plots(const std::string& stats_path, const std::string& dir) {
  run_plots({stats_path, dir}, dir);
}

std::string stats_summary_text(const StatsSummary& s) {
  const json& r = s.result;
  std::string text = fmt::format("stats: {} images, {} measured, {} skipped, {:.2f} s\n", s.images, s.measured,
                                 s.skipped, s.seconds);
  if (s.resumed) text += fmt::format("  resumed: {} done before\n", s.resumed);
  if (s.measured == 0) return text;
  const auto mean = r.at("mean").get<std::array<double, 3>>(), std = r.at("std").get<std::array<double, 3>>();
  text += fmt::format("  {:<8} {:>9} {:>9} {:>9}\n", "", "R", "G", "B");
  text += fmt::format("  {:<8} {:>9.5f} {:>9.5f} {:>9.5f}\n", "mean", mean[0], mean[1], mean[2]);
  text += fmt::format("  {:<8} {:>9.5f} {:>9.5f} {:>9.5f}\n", "std", std[0], std[1], std[2]);
  text += fmt::format("  width  {}..{} (median {}), height {}..{} (median {})\n", r["width"]["min"].get<double>(),
                      r["width"]["max"].get<double>(), r["width"]["p50"].get<double>(), r["height"]["min"].get<double>(),
                      r["height"]["max"].get<double>(), r["height"]["p50"].get<double>());
  return text;
}

}  // namespace gpuaug::jobs
