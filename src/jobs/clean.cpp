// clean: per-file checks on a pool, exact and near-duplicate groups, the JSON and CSV reports,
// the journal that makes a run resumable, and quarantine with its manifest and restore.
#include "jobs/clean.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/decoder.h"
#include "codec/image_info.h"
#include "codec/nvjpeg_decoder.h"
#include "core/content_hash.h"
#include "core/device.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/pixel_moments.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/journal.h"
#include "jobs/near_duplicates.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "jobs/stop_signal.h"
#include "pipeline/gpu_workers.h"
#include "plan/image_digest.h"

namespace gpuaug::jobs {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace {

// The order reasons take within a finding, the report's summary and the CSV.
constexpr std::array<std::string_view, 9> kReasons = {
    "zero_byte",      "unreadable",    "truncated", "extension_mismatch", "tiny",
    "extreme_aspect", "near_constant", "duplicate", "near_duplicate"};

size_t reason_rank(std::string_view reason) {
  return size_t(std::find(kReasons.begin(), kReasons.end(), reason) - kReasons.begin());
}

struct Finding {
  std::string reason;
  std::string detail;
};

// What one file's analysis found; also what its journal line holds.
struct FileResult {
  bool done = false;
  bool from_journal = false;
  int64_t size = -1;  // bytes on disk when analysed (-1: could not stat)
  bool decoded = false;
  int width = 0, height = 0;  // upright
  uint64_t pixel_hash = 0;
  uint64_t dhash = 0;
  int channels = 0;
  std::array<double, 3> mean{}, std{};  // of the first three channels: match duplicate suspects
  // Measured on nvJPEG's pixels: no pixel hash yet; find_suspects says when the CPU decodes it
  // again (clean.h).
  bool provisional = false;
  bool searchable = false;  // takes part in the near-duplicate search (clean.h says which)
  std::vector<Finding> findings;
  int group = 0;  // the group it is flagged in (duplicate or near_duplicate), 0: none
  std::string keeper;
  int64_t keeper_index = -1;
};

int64_t size_on_disk(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? -1 : int64_t(size);
}

std::string lowercase(std::string text) {
  for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The decoders' words for data that ends early: our own "truncated header" / "truncated PNG
// data", libjpeg's "Premature end of JPEG file", libpng's "Not enough image data".
bool says_truncated(const std::string& cause) {
  const std::string text = lowercase(cause);
  return text.find("truncated") != std::string::npos ||
         text.find("premature end") != std::string::npos ||
         text.find("not enough image data") != std::string::npos;
}

void failed(FileResult& r, const Error& e) {
  r.findings.push_back({says_truncated(e.cause()) ? "truncated" : "unreadable", e.stage() + ": " + e.cause()});
}

// Empty when the extension fits the format the magic bytes give, else the detail.
std::string extension_mismatch(const std::string& relative, codec::ImageFormat format) {
  const std::string ext = lowercase(fs::path(relative).extension().string());
  if (format == codec::ImageFormat::kJpeg && (ext == ".jpg" || ext == ".jpeg")) return "";
  if (format == codec::ImageFormat::kPng && ext == ".png") return "";
  const char* name = format == codec::ImageFormat::kJpeg  ? "JPEG"
                     : format == codec::ImageFormat::kPng ? "PNG"
                                                          : "unknown";
  return fmt::format("{} data named {}", name, ext.empty() ? "without an extension" : ext);
}

// Reads the file and peeks its header into r (size, extension_mismatch); false, with r's
// finding, when either fails.
bool read_and_peek(const data::Source& source, const data::SampleRef& ref, FileResult& r,
                   std::vector<uint8_t>& bytes, codec::ImageInfo& info) {
  r.done = true;
  r.size = size_on_disk(ref.path);
  try {
    bytes = data::read_sample(source, ref);
  } catch (const Error& e) {
    // read_file says "empty file" for a FIFO too; only a regular file of 0 bytes is zero_byte.
    if (e.cause() == "empty file" && r.size == 0)
      r.findings.push_back({"zero_byte", "0 bytes"});
    else
      failed(r, e);
    return false;
  }
  r.size = int64_t(bytes.size());
  try {
    info = codec::peek_image(bytes);
  } catch (const Error& e) {
    failed(r, e);
    return false;
  }
  if (std::string detail = extension_mismatch(ref.relative, info.format); !detail.empty())
    r.findings.push_back({"extension_mismatch", std::move(detail)});
  return true;
}

// The findings of a decoded image's size and channel moments, whichever decoder made it; sets
// the mean, the dHash and whether it is searched for near duplicates.
void judge_pixels(FileResult& r, int width, int height, int channels, const std::array<uint64_t, 4>& sum,
                  const std::array<uint64_t, 4>& sum_sq, uint64_t dhash_bits, const CleanOptions& options) {
  r.decoded = true;
  r.width = width;
  r.height = height;
  r.channels = channels;
  const int short_side = std::min(width, height), long_side = std::max(width, height);
  if (short_side < options.min_side)
    r.findings.push_back(
        {"tiny", fmt::format("{}x{}, smaller side below {}", width, height, options.min_side)});
  const double aspect = short_side > 0 ? double(long_side) / short_side : INFINITY;
  if (aspect > options.max_aspect)
    r.findings.push_back(
        {"extreme_aspect", fmt::format("aspect {:.1f} above {}", aspect, options.max_aspect)});

  // Population standard deviation per channel from exact integer sums.
  const size_t pixels = size_t(width) * size_t(height);
  bool flat = pixels > 0;
  std::string stds;
  for (int c = 0; c < channels; ++c) {
    const unsigned __int128 n = pixels;
    const unsigned __int128 spread =
        n * sum_sq[size_t(c)] - (unsigned __int128)sum[size_t(c)] * sum[size_t(c)];
    const double std_dev =
        pixels > 0 ? std::sqrt(double(spread) / (double(pixels) * double(pixels))) : 0.0;
    flat = flat && std_dev < options.constant_std;
    stds += fmt::format("{}{:.2f}", c ? ", " : "", std_dev);
    if (c < 3) {
      r.mean[size_t(c)] = pixels > 0 ? double(sum[size_t(c)]) / double(pixels) : 0.0;
      r.std[size_t(c)] = std_dev;
    }
  }
  if (flat)
    r.findings.push_back(
        {"near_constant", fmt::format("channel std {} below {}", stds, options.constant_std)});
  r.dhash = dhash_bits;
  r.searchable = !flat && width >= 9 && height >= 8;
}

// Decodes on the CPU (libjpeg-turbo, libpng) and judges the pixels; the exact pixel hash too.
void analyse_bytes(FileResult& r, std::span<const uint8_t> bytes, const CleanOptions& options) {
  codec::DecodedImage decoded;
  try {
    decoded = codec::decode_image(bytes, {});
  } catch (const Error& e) {
    failed(r, e);
    return;
  }
  const Image& image = decoded.image;
  const int channels = image.channels;
  std::array<uint64_t, 4> sum{}, sum_sq{};
  const size_t pixels = size_t(image.width) * image.height;
  if (channels == 3) {
    std::array<uint64_t, 3> sums{}, squares{};
    add_rgb_sums(image.pixels.data(), pixels, sums, squares);
    for (size_t c = 0; c < 3; ++c) sum[c] = sums[c], sum_sq[c] = squares[c];
  } else {
    for (size_t p = 0; p < pixels; ++p)
      for (int c = 0; c < channels; ++c) {
        const uint64_t v = image.pixels[p * size_t(channels) + size_t(c)];
        sum[size_t(c)] += v;
        sum_sq[size_t(c)] += v * v;
      }
  }
  judge_pixels(r, image.width, image.height, channels, sum, sum_sq, dhash(image), options);
  r.pixel_hash = pixel_hash(image);
  r.provisional = false;
}

FileResult analyse(const data::Source& source, const data::SampleRef& ref, const CleanOptions& options) {
  FileResult r;
  std::vector<uint8_t> bytes;
  codec::ImageInfo info;
  if (read_and_peek(source, ref, r, bytes, info)) analyse_bytes(r, bytes, options);
  return r;
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

nlohmann::json journal_entry(size_t index, const std::string& relative, const FileResult& r) {
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : r.findings)
    findings.push_back(nlohmann::json::array({f.reason, f.detail}));
  return {{"index", index},
          {"file", relative},
          {"size", r.size},
          {"status", r.decoded ? "decoded" : "failed"},
          {"width", r.width},
          {"height", r.height},
          {"pixel_hash", hex64(r.pixel_hash)},
          {"dhash", hex64(r.dhash)},
          {"channels", r.channels},
          {"mean", r.mean},
          {"std", r.std},
          {"decoder", r.provisional ? "nvjpeg" : "cpu"},
          {"searchable", r.searchable},
          {"findings", findings}};
}

// A journal line back into a result; false when it is not one this version wrote.
bool from_journal_entry(const nlohmann::json& e, FileResult& r) {
  try {
    r.done = true;
    r.from_journal = true;
    r.size = e.at("size").get<int64_t>();
    r.decoded = e.at("status").get<std::string>() == "decoded";
    r.width = e.at("width").get<int>();
    r.height = e.at("height").get<int>();
    r.pixel_hash = std::stoull(e.at("pixel_hash").get<std::string>(), nullptr, 16);
    r.dhash = std::stoull(e.at("dhash").get<std::string>(), nullptr, 16);
    r.channels = e.at("channels").get<int>();
    r.mean = e.at("mean").get<std::array<double, 3>>();
    r.std = e.at("std").get<std::array<double, 3>>();
    r.provisional = e.at("decoder").get<std::string>() == "nvjpeg";
    r.searchable = e.at("searchable").get<bool>();
    r.findings.clear();
    for (const auto& f : e.at("findings"))
      r.findings.push_back({f.at(0).get<std::string>(), f.at(1).get<std::string>()});
    return true;
  } catch (const std::exception&) {
    r = FileResult();
    return false;
  }
}

struct Group {
  std::string kind;               // duplicate, near_duplicate
  std::vector<uint32_t> members;  // sample indices, ascending: members[0] is the keeper
};

// Exact groups by pixel hash, then near-duplicate groups over one file per exact group.
std::vector<Group> find_groups(const std::vector<FileResult>& results, int near_dup_distance) {
  std::vector<Group> groups;
  std::map<uint64_t, std::vector<uint32_t>> by_pixels;
  for (uint32_t i = 0; i < results.size(); ++i)
    if (results[i].decoded && !results[i].provisional) by_pixels[results[i].pixel_hash].push_back(i);
  std::vector<bool> copy(results.size(), false);  // a duplicate that is not its group's keeper
  for (auto& [hash, members] : by_pixels)
    if (members.size() >= 2) {
      for (size_t k = 1; k < members.size(); ++k) copy[members[k]] = true;
      groups.push_back({"duplicate", std::move(members)});
    }
  std::vector<uint32_t> candidates;
  std::vector<uint64_t> hashes;
  for (uint32_t i = 0; i < results.size(); ++i)
    if (results[i].decoded && results[i].searchable && !copy[i]) {
      candidates.push_back(i);
      hashes.push_back(results[i].dhash);
    }
  UnionFind sets(candidates.size());
  for (const auto& [a, b] : near_pairs(hashes, near_dup_distance)) sets.unite(a, b);
  for (const auto& set : sets.groups()) {
    Group g{"near_duplicate", {}};
    for (uint32_t k : set) g.members.push_back(candidates[k]);  // candidates ascend: still sorted
    groups.push_back(std::move(g));
  }
  std::sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
    return std::pair(a.members[0], a.kind) < std::pair(b.members[0], b.kind);
  });
  return groups;
}

// How far nvJPEG's measures of an image may stray from libjpeg-turbo's, as clean.h states them:
// the dHash by kSuspectBits bits, each channel's mean by kSuspectMean levels and its std by
// kSuspectStd. An image's own values count as exact (0) when the CPU decoded it. Measured on the
// H200 over 20,000 JPEGs of bench/make_jpegs.py decoded both ways: at most 1 bit, 0.02 levels of
// mean and 0.47 of std (nvJPEG's chroma upsampling smooths). Wide margins send near-identical
// crops of one photo back to the CPU for nothing (4 bits and 1 level of mean alone re-decoded 88%).
constexpr int kSuspectBits = 2;
constexpr double kSuspectMean = 0.25;
constexpr double kSuspectStd = 1.0;

// Provisional files that may have the same pixels as another file (same size, three channels,
// means and dHash within the two files' margins): the CPU decodes them again, so that exact
// duplicates are always judged on libjpeg-turbo's pixels. Sorted; no all-pairs scan: files of
// one size are sorted by their red mean and only those within reach are compared.
std::vector<size_t> find_suspects(const std::vector<FileResult>& results) {
  std::map<std::pair<int, int>, std::vector<uint32_t>> by_size;
  for (uint32_t i = 0; i < results.size(); ++i)
    if (results[i].decoded && results[i].channels == 3) by_size[{results[i].width, results[i].height}].push_back(i);
  std::vector<bool> suspect(results.size(), false);
  for (auto& [size, members] : by_size) {
    if (members.size() < 2 ||
        std::none_of(members.begin(), members.end(), [&](uint32_t i) { return results[i].provisional; }))
      continue;
    std::sort(members.begin(), members.end(),
              [&](uint32_t a, uint32_t b) { return results[a].mean[0] < results[b].mean[0]; });
    for (size_t k = 0; k < members.size(); ++k) {
      const FileResult& a = results[members[k]];
      for (size_t l = k + 1; l < members.size(); ++l) {
        const FileResult& b = results[members[l]];
        const int sides = int(a.provisional) + int(b.provisional);
        if (b.mean[0] - a.mean[0] > 2 * kSuspectMean) break;
        if (!a.provisional && !b.provisional) continue;
        bool close = std::popcount(a.dhash ^ b.dhash) <= kSuspectBits * sides;
        for (int c = 0; c < 3 && close; ++c)
          close = std::abs(a.mean[size_t(c)] - b.mean[size_t(c)]) <= kSuspectMean * sides &&
                  std::abs(a.std[size_t(c)] - b.std[size_t(c)]) <= kSuspectStd * sides;
        if (!close) continue;
        if (a.provisional) suspect[members[k]] = true;
        if (b.provisional) suspect[members[l]] = true;
      }
    }
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < results.size(); ++i)
    if (suspect[i]) out.push_back(i);
  return out;
}

// The files the CPU threads read and peek and hand to the GPU workers, which take them in
// batches. Bounded: a thread that finds it full waits, so memory stays flat whatever the speeds.
class GpuHandOff {
 public:
  struct Item {
    size_t index = 0;
    FileResult result;  // what reading and peeking found
    std::vector<uint8_t> bytes;
    codec::ImageInfo info;
  };
  explicit GpuHandOff(size_t limit) : limit_(limit) {}

  // Waits for room; false (item untouched) when the GPU side has failed or a stop came.
  bool give(Item& item) {
    std::unique_lock lock(mutex_);
    while (items_.size() >= limit_ && !failed_ && !stop_requested())
      changed_.wait_for(lock, std::chrono::milliseconds(100));
    if (failed_ || stop_requested()) return false;
    items_.push_back(std::move(item));
    changed_.notify_all();
    return true;
  }
  // Up to `most` items; waits for some; empty once closed and drained, or on a stop.
  std::vector<Item> take(size_t most) {
    std::unique_lock lock(mutex_);
    while (items_.empty() && !closed_ && !stop_requested()) changed_.wait_for(lock, std::chrono::milliseconds(100));
    std::vector<Item> out;
    while (!items_.empty() && out.size() < most && !stop_requested()) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    changed_.notify_all();
    return out;
  }
  void close() { set(closed_); }
  void fail() { set(failed_); }

 private:
  void set(bool& flag) {
    {
      std::lock_guard lock(mutex_);
      flag = true;
    }
    changed_.notify_all();
  }
  size_t limit_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> items_;
  bool closed_ = false, failed_ = false;
};

// Whether a GPU worker measures this file: one nvJPEG takes whole, three channels (a gray JPEG
// would come back as RGB, a file of another shape than the CPU's), big enough to be searched.
bool for_the_gpu(std::span<const uint8_t> bytes, const codec::ImageInfo& info) {
  return codec::NvjpegDecoder::takes(bytes, info) && info.channels == 3 && info.width >= 16 && info.height >= 16;
}

// A GPU worker's loop: nvJPEG decodes a batch, the digest kernel measures it, and each file's
// result is recorded; what nvJPEG refuses is decoded here on the CPU, which names the fault.
void measure_on_gpu(pipeline::GpuWorker& worker, GpuHandOff& handoff, const CleanOptions& options,
                    const std::function<void(size_t, FileResult&&)>& record) {
  constexpr size_t kBatch = 128;
  plan::GpuImageDigest digest(worker.device.index);
  for (;;) {
    std::vector<GpuHandOff::Item> batch = handoff.take(kBatch);
    if (batch.empty()) return;
    std::vector<codec::GpuDecodeRequest> requests;
    for (const auto& item : batch) requests.push_back({item.bytes, {}});
    const auto decoded = worker.nvjpeg->decode(requests);
    std::vector<plan::DeviceRgbImage> images;
    for (const auto& d : decoded)
      if (d) images.push_back({d->device_rgb, d->width, d->height});
    const std::vector<plan::ImageDigest> digests = digest.digest(images);
    size_t m = 0;
    for (size_t k = 0; k < batch.size(); ++k) {
      FileResult& r = batch[k].result;
      if (decoded[k]) {
        const plan::ImageDigest& d = digests[m++];
        const std::array<uint64_t, 4> sum{d.sum[0], d.sum[1], d.sum[2], 0}, sum_sq{d.sum_sq[0], d.sum_sq[1], d.sum_sq[2], 0};
        judge_pixels(r, decoded[k]->width, decoded[k]->height, 3, sum, sum_sq, dhash_from_cells(d.cells), options);
        r.provisional = true;
      } else {
        analyse_bytes(r, batch[k].bytes, options);
      }
      record(batch[k].index, std::move(r));
    }
    worker.items += batch.size();
  }
}

// RFC 4180: quote a field holding a comma, quote, CR or LF; double the quotes inside.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

fs::path absolute_normal(const fs::path& p) {
  fs::path out = fs::weakly_canonical(fs::absolute(p));
  if (!out.has_filename() && out.has_parent_path()) out = out.parent_path();  // trailing '/'
  return out;
}

bool is_inside(const fs::path& inner, const fs::path& outer) {
  const auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

// Whether two paths name the same directory entry (links in their folders resolved, not in
// the last component).
bool same_entry(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  const fs::path pa = fs::weakly_canonical(a.parent_path(), ec) / a.filename();
  const fs::path pb = fs::weakly_canonical(b.parent_path(), ec) / b.filename();
  return pa == pb;
}

bool exists_no_follow(const fs::path& p) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

// Moves a file (or symlink) to `to`, creating its folder; across file systems a copy under a
// temporary name, a rename, then removal of the original — a move, never a loss.
void move_file(const fs::path& from, const fs::path& to, const char* stage) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec)
    throw Error(to.parent_path().string(), stage,
                fmt::format("cannot create the folder: {}", ec.message()));
  fs::rename(from, to, ec);
  if (!ec) return;
  if (ec != std::errc::cross_device_link)
    throw Error(from.string(), stage,
                fmt::format("cannot move to {}: {}", to.string(), ec.message()));
  const fs::path temporary = to.string() + fmt::format(".gpuaug-tmp-{}", ::getpid());
  if (fs::is_symlink(fs::symlink_status(from)))
    fs::copy_symlink(from, temporary, ec);
  else
    fs::copy_file(from, temporary, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(temporary, to, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw Error(from.string(), stage,
                fmt::format("cannot copy to {}: {}", to.string(), ec.message()));
  }
  fs::remove(from, ec);
  if (ec)
    throw Error(from.string(), stage,
                fmt::format("copied to {} but cannot remove: {}", to.string(), ec.message()));
}

// The manifest, appended one whole line per write(2), like the journal.
class Manifest {
 public:
  explicit Manifest(const fs::path& path) : path_(path.string()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw Error(path_, "quarantine",
                  fmt::format("cannot open the manifest: {}", std::strerror(errno)));
  }
  ~Manifest() { ::close(fd_); }
  Manifest(const Manifest&) = delete;
  Manifest& operator=(const Manifest&) = delete;
  void append(const ordered_json& entry) {
    const std::string line = json_text(entry) + "\n";
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw Error(path_, "quarantine",
                    fmt::format("cannot write the manifest: {}", std::strerror(errno)));
      done += size_t(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// A manifest's path: as text, and where it is not UTF-8 (its text then has U+FFFD for the bad
// bytes) its bytes too, in hex, which restore reads back exactly.
void put_path(ordered_json& line, const char* key, const std::string& path) {
  line[key] = path;
  if (is_utf8(path)) return;
  std::string hex;
  for (unsigned char c : path) hex += fmt::format("{:02x}", c);
  line[std::string(key) + "_hex"] = hex;
}

std::string get_path(const nlohmann::json& line, const char* key) {
  const auto hex = line.find(std::string(key) + "_hex");
  if (hex == line.end()) return line.at(key).get<std::string>();
  const std::string digits = hex->get<std::string>();
  if (digits.size() % 2 != 0 || digits.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error("", "quarantine", fmt::format("'{}_hex' is not a name's bytes in hex: {}", key, digits));
  std::string path;
  for (size_t i = 0; i < digits.size(); i += 2) path += char(std::stoi(digits.substr(i, 2), nullptr, 16));
  return path;
}

// Removes the folders between dir and each restored file that the restore left empty, deepest
// first; no other folder (one of the user's, empty before, stays).
void remove_emptied_folders(const fs::path& dir, const std::vector<fs::path>& restored_from) {
  std::set<fs::path> folders;
  for (const fs::path& file : restored_from)
    for (fs::path folder = file.parent_path(); folder != dir && is_inside(folder, dir) && folder.has_relative_path();
         folder = folder.parent_path())
      folders.insert(folder);
  std::error_code ec;
  for (auto it = folders.rbegin(); it != folders.rend(); ++it)
    if (fs::is_empty(*it, ec) && !ec) fs::remove(*it, ec);
}

// The quarantine's moves, in order, each written to the manifest before it is made. A move
// already made (by a run killed halfway: its file gone, its destination there) is skipped.
size_t make_moves(const fs::path& dir, const std::vector<std::pair<fs::path, fs::path>>& moves) {
  std::unique_ptr<Manifest> manifest;
  size_t made = 0;
  for (const auto& [from, relative] : moves) {
    if (!exists_no_follow(from) && exists_no_follow(dir / relative)) continue;
    if (!manifest) manifest = std::make_unique<Manifest>(dir / kQuarantineManifest);
    ordered_json line;
    put_path(line, "from", from.string());
    put_path(line, "to", relative.generic_string());
    manifest->append(line);
    move_file(from, dir / relative, "quarantine");
    ++made;
  }
  return made;
}

// A run stopped (or killed) while quarantining had written its report and journaled every move
// it would make: its resume makes the rest and reads its counts back from that report. The
// moved files are gone from the input, so analysing it again would drop them from the report.
std::optional<CleanSummary> finish_planned_moves(const CleanOptions& options, const Journal& journal) {
  const nlohmann::json* plan = nullptr;
  for (const auto& entry : journal.previous())
    if (entry.contains("quarantine_moves")) plan = &entry;
  if (plan == nullptr) return std::nullopt;
  const fs::path dir = fs::absolute(options.quarantine_dir);
  if (options.quarantine_dir.empty() || get_path(*plan, "quarantine") != dir.string())
    throw Error(options.report_path + ".journal", "quarantine",
                fmt::format("the run it resumes was quarantining into {}: resume with that --quarantine",
                            get_path(*plan, "quarantine")));
  std::vector<std::pair<fs::path, fs::path>> moves;
  for (const auto& move : plan->at("quarantine_moves")) moves.emplace_back(get_path(move, "from"), get_path(move, "to"));
  CleanSummary summary;
  summary.quarantined = make_moves(dir, moves);
  std::ifstream in(options.report_path, std::ios::binary);
  const nlohmann::json report = nlohmann::json::parse(in, nullptr, false);
  if (report.is_object()) {
    summary.images = report.value("images", size_t(0));
    const nlohmann::json findings = report.value("findings", nlohmann::json::array());
    const nlohmann::json counts = report.value("summary", nlohmann::json::object());
    std::set<std::string> flagged;
    for (const auto& finding : findings) flagged.insert(finding.value("file", ""));
    summary.flagged = flagged.size();
    for (const auto& [reason, count] : counts.items())
      if (count.is_number_unsigned() && count.get<size_t>() > 0) summary.by_reason[reason] = count.get<size_t>();
  }
  summary.resumed = summary.images;
  return summary;
}

}  // namespace

CleanSummary run_clean(const CleanOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.report_path.empty()) throw Error("", "clean", "--report is required");
  if (options.min_side < 0)
    throw Error("", "clean", fmt::format("--min-side {}: must be 0 or more", options.min_side));
  if (!(options.max_aspect >= 1.0))
    throw Error("", "clean", fmt::format("--max-aspect {}: must be 1 or more", options.max_aspect));
  if (!(options.constant_std >= 0.0))
    throw Error("", "clean",
                fmt::format("--constant-std {}: must be 0 or more", options.constant_std));
  CleanSummary summary;
  const dist::World world = dist::detect_world();
  summary.requested_device = device_list_name(dist::process_devices(options.device, world));
  summary.device = "cpu";
  // Across processes rank 0 finds the groups and writes the report from every rank's results.
  dist::Communicator* comm = world.distributed() ? &dist::communicator(world) : nullptr;
  const data::Source source = data::open_source(options.input);
  const size_t n = source.samples.size();
  summary.images = n;
  if (!options.quarantine_dir.empty() && !source.shards.empty())
    throw Error(options.quarantine_dir, "quarantine",
                "the input is tar shards: quarantine moves files, not members of a shard");
  if (!options.quarantine_dir.empty()) {
    const fs::path quarantine = absolute_normal(options.quarantine_dir);
    const fs::path root = absolute_normal(source.root);
    if (is_inside(quarantine, root))
      throw Error(
          options.quarantine_dir, "quarantine",
          fmt::format("is inside the input tree {}: choose a folder outside it", root.string()));
    // Nor may it hold the input: restore would then treat input folders as its own.
    const bool holds_input = is_inside(root, quarantine) || std::any_of(source.samples.begin(), source.samples.end(),
                                                                        [&](const data::SampleRef& ref) {
                                                                          return is_inside(absolute_normal(ref.path),
                                                                                           quarantine);
                                                                        });
    if (holds_input)
      throw Error(options.quarantine_dir, "quarantine",
                  fmt::format("holds input files (the input is {}): choose a folder outside it", root.string()));
  }

  // The options that change a file's own findings; near_dup_distance acts only on the hashes
  // at the end, so a resumed run may change it.
  const nlohmann::json header = {
      {"job", "clean"},
      {"input", fs::absolute(options.input).lexically_normal().generic_string()},
      {"min_side", options.min_side},
      {"max_aspect", options.max_aspect},
      {"constant_std", options.constant_std},
      {"ranks", world.size}};
  Journal journal(options.report_path + ".journal" + (comm ? fmt::format(".rank{}", world.rank) : ""),
                  header, options.resume);
  const DropJournalIfEmpty drop_empty_journal(journal);
  if (!comm)  // across processes rank 0 alone quarantines; its resume analyses again
    if (std::optional<CleanSummary> finished = finish_planned_moves(options, journal)) {
      journal.finish();
      finished->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return *finished;
    }
  std::vector<FileResult> results(n);
  {
    std::map<std::string, const nlohmann::json*> earlier;
    for (const auto& entry : journal.previous())
      if (entry.contains("file") && entry["file"].is_string())
        earlier[entry["file"].get<std::string>()] = &entry;
    for (size_t i = 0; i < n; ++i) {
      const data::SampleRef& ref = source.samples[i];
      const auto found = earlier.find(ref.relative);
      if (found == earlier.end()) continue;
      // A file changed since (another size) is analysed again.
      if (from_journal_entry(*found->second, results[i]) &&
          results[i].size != size_on_disk(ref.path))
        results[i] = FileResult();
      if (results[i].done) ++summary.resumed;
    }
  }
  std::vector<bool> done(n, false);
  for (size_t i = 0; i < n; ++i) done[i] = results[i].done;
  // Every rank skips what any rank's journal holds (each sends its own results at the end).
  if (comm) done = dist::any_rank(*comm, done);
  std::vector<size_t> todo;
  for (size_t i = 0; i < n; ++i)
    if (!done[i]) todo.push_back(i);

  const std::vector<Device> devices = dist::process_devices(options.device, world);
  const int gpu_eighths = int(std::lround(std::clamp(options.gpu_share, 0.0, 1.0) * 8));
  const bool use_gpu = devices.front().cuda && codec::NvjpegDecoder::built() && gpu_eighths > 0;
  if (devices.front().cuda && !use_gpu && codec::NvjpegDecoder::built())
    plan::GpuImageDigest probe(devices.front().index);  // says so without a GPU
  if (use_gpu) summary.device = summary.requested_device;
  std::atomic<size_t> gpu_measured{0}, cpu_measured{0};
  {
    // Each thread takes small chunks itself, from a counter every rank shares under mpirun. Of
    // the JPEGs nvJPEG takes, those whose index % 8 is below gpu_eighths go to the GPU workers:
    // a fixed share, so which decoder measured a file never depends on timing.
    constexpr size_t kChunk = 4;
    Progress progress("clean", todo.size(), options.progress && world.rank == 0);
    ThreadPool pool(options.threads > 0 ? options.threads : dist::threads_per_process(world));
    dist::ChunkQueue chunks((todo.size() + kChunk - 1) / kChunk, comm);
    auto record = [&](size_t i, FileResult&& r) {
      journal.append(journal_entry(i, source.samples[i].relative, r));
      ++(r.provisional ? gpu_measured : cpu_measured);
      results[i] = std::move(r);
      progress.advance();
    };
    GpuHandOff handoff(512 * std::max<size_t>(devices.size(), 1));
    std::future<void> gpu_work;
    if (use_gpu)
      gpu_work = std::async(std::launch::async, [&] {
        struct FailOnThrow {
          GpuHandOff& handoff;
          int unwinding = std::uncaught_exceptions();
          ~FailOnThrow() {
            if (std::uncaught_exceptions() != unwinding) handoff.fail();
          }
        } fail_on_throw{handoff};
        pipeline::GpuWorkers workers(devices, true);
        workers.run([&](pipeline::GpuWorker& worker) { measure_on_gpu(worker, handoff, options, record); });
        summary.shares = workers.shares();
      });
    struct CloseAtExit {  // the GPU workers finish what they hold, even when the CPU side throws
      GpuHandOff& handoff;
      ~CloseAtExit() { handoff.close(); }
    } close_at_exit{handoff};
    pool.parallel_for(size_t(pool.size()), [&](size_t) {
      while (!stop_requested()) {  // what a stop leaves is not analysed: the journal stays exact
        const auto chunk = chunks.next();
        if (!chunk) return;
        for (size_t k = *chunk * kChunk; k < std::min(todo.size(), (*chunk + 1) * kChunk) && !stop_requested(); ++k) {
          const size_t i = todo[k];
          GpuHandOff::Item item{i, {}, {}, {}};
          if (read_and_peek(source, source.samples[i], item.result, item.bytes, item.info)) {
            if (use_gpu && int(i % 8) < gpu_eighths && for_the_gpu(item.bytes, item.info) && handoff.give(item))
              continue;
            if (stop_requested()) return;
            analyse_bytes(item.result, item.bytes, options);
          }
          record(i, std::move(item.result));
        }
      }
    });
    handoff.close();
    if (gpu_work.valid()) gpu_work.get();
    progress.finish();
    summary.shares.insert(summary.shares.begin(), {fmt::format("cpu {} threads", pool.size()), cpu_measured.load()});
    name_by_rank(summary.shares, world);
  }
  throw_if_stopped();
  if (comm) {
    // Rank 0 takes every rank's results (as journal lines) and does the rest alone.
    nlohmann::json mine = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i)
      if (results[i].done) mine.push_back(journal_entry(i, source.samples[i].relative, results[i]));
    const std::vector<std::string> parts = comm->gather(json_text(nlohmann::json{{"results", mine}, {"shares", shares_json(summary.shares)}}));
    if (world.rank != 0) {
      comm->barrier();  // rank 0 has written the report (and quarantined) when this returns
      journal.finish();
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return summary;
    }
    summary.shares.clear();
    for (const std::string& part : parts) {
      const nlohmann::json theirs = nlohmann::json::parse(part);
      append_shares(theirs.at("shares"), summary.shares);
      for (const auto& entry : theirs.at("results")) {
        const size_t i = entry.at("index").get<size_t>();
        if (!results[i].done) from_journal_entry(entry, results[i]);
      }
    }
  }
  struct BarrierAtEnd {  // the other ranks wait for rank 0's report and quarantine
    dist::Communicator* comm;
    ~BarrierAtEnd() {
      if (comm && std::uncaught_exceptions() == 0) comm->barrier();
    }
  } barrier_at_end{comm};

  // Exact duplicates are judged on libjpeg-turbo's pixels: the provisional files that may be one
  // are decoded again on the CPU; how far nvJPEG's measures of them were off is kept.
  {
    for (const FileResult& r : results) summary.measured_on_gpu += r.provisional;
    const std::vector<size_t> suspects = find_suspects(results);
    ThreadPool pool(options.threads > 0 ? options.threads : dist::threads_per_process(world));
    std::vector<FileResult> again(suspects.size());
    pool.parallel_for(suspects.size(), [&](size_t k) {
      if (stop_requested()) return;
      again[k] = analyse(source, source.samples[suspects[k]], options);
    });
    throw_if_stopped();
    for (size_t k = 0; k < suspects.size(); ++k) {
      FileResult& r = results[suspects[k]];
      if (again[k].decoded && again[k].width == r.width && again[k].height == r.height) {
        summary.largest_dhash_change = std::max(summary.largest_dhash_change, std::popcount(r.dhash ^ again[k].dhash));
        for (int c = 0; c < 3; ++c) {
          summary.largest_mean_change = std::max(summary.largest_mean_change, std::abs(r.mean[size_t(c)] - again[k].mean[size_t(c)]));
          summary.largest_std_change = std::max(summary.largest_std_change, std::abs(r.std[size_t(c)] - again[k].std[size_t(c)]));
        }
      }
      journal.append(journal_entry(suspects[k], source.samples[suspects[k]].relative, again[k]));
      r = std::move(again[k]);
    }
    summary.confirmed_on_cpu = suspects.size();
  }
  if (summary.largest_dhash_change > kSuspectBits || summary.largest_mean_change > kSuspectMean ||
      summary.largest_std_change > kSuspectStd)
    fmt::print(stderr,
               "clean: warning: nvJPEG's pixels moved a dHash by {} bits, a mean by {:.2f} and a std by {:.2f} "
               "levels, beyond the margins ({} bits, {}, {}) exact duplicates are sought within: run with "
               "--device cpu to be sure of them\n",
               summary.largest_dhash_change, summary.largest_mean_change, summary.largest_std_change, kSuspectBits,
               kSuspectMean, kSuspectStd);
  const std::vector<Group> groups = find_groups(results, options.near_dup_distance);
  std::vector<bool> keeper(n, false);
  for (size_t g = 0; g < groups.size(); ++g) {
    const Group& group = groups[g];
    const uint32_t first = group.members[0];
    keeper[first] = true;
    (group.kind == "duplicate" ? summary.duplicate_groups : summary.near_duplicate_groups) += 1;
    for (size_t k = 1; k < group.members.size(); ++k) {
      FileResult& r = results[group.members[k]];
      const std::string& keeper_name = source.samples[first].relative;
      r.findings.push_back(
          {group.kind,
           group.kind == "duplicate"
               ? fmt::format("same pixels as {}", keeper_name)
               : fmt::format("dHash distance {} to {}",
                             std::popcount(r.dhash ^ results[first].dhash), keeper_name)});
      r.group = int(g) + 1;
      r.keeper = keeper_name;
      r.keeper_index = first;
    }
  }

  // The report: files in source order (sorted by relative path), reasons in kReasons order.
  ordered_json findings = ordered_json::array();
  std::string csv = "file,reason,detail,group,keeper\r\n";
  std::map<std::string, size_t> counts;
  for (std::string_view reason : kReasons) counts[std::string(reason)] = 0;
  for (size_t i = 0; i < n; ++i) {
    FileResult& r = results[i];
    if (r.findings.empty()) continue;
    std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
      return reason_rank(a.reason) < reason_rank(b.reason);
    });
    ++summary.flagged;
    ordered_json reasons = ordered_json::array();
    std::string detail;
    for (const Finding& f : r.findings) {
      reasons.push_back(f.reason);
      detail += (detail.empty() ? "" : "; ") + f.detail;
      ++counts[f.reason];
      const bool grouped = f.reason == "duplicate" || f.reason == "near_duplicate";
      csv += fmt::format("{},{},{},{},{}\r\n", csv_field(source.samples[i].relative), f.reason,
                         csv_field(f.detail), grouped ? std::to_string(r.group) : "",
                         grouped ? csv_field(r.keeper) : "");
    }
    ordered_json finding;
    finding["file"] = source.samples[i].relative;
    finding["reasons"] = std::move(reasons);
    finding["detail"] = detail;
    finding["group"] = r.group > 0 ? ordered_json(r.group) : ordered_json(nullptr);
    finding["keeper"] = r.group > 0 ? ordered_json(r.keeper) : ordered_json(nullptr);
    findings.push_back(std::move(finding));
  }
  ordered_json group_list = ordered_json::array();
  for (size_t g = 0; g < groups.size(); ++g) {
    ordered_json files = ordered_json::array();
    for (uint32_t m : groups[g].members) files.push_back(source.samples[m].relative);
    group_list.push_back({{"id", g + 1}, {"kind", groups[g].kind}, {"files", std::move(files)}});
  }
  ordered_json report;
  report["input"] = options.input;
  report["images"] = n;
  report["options"] = {
      {"min_side", options.min_side},
      {"max_aspect", options.max_aspect},
      {"near_dup_distance", options.near_dup_distance},
      {"constant_std", options.constant_std},
      {"quarantine", options.quarantine_dir.empty() ? ordered_json(nullptr)
                                                    : ordered_json(options.quarantine_dir)}};
  report["findings"] = std::move(findings);
  report["groups"] = std::move(group_list);
  ordered_json summary_json = ordered_json::object();
  for (std::string_view reason : kReasons)
    summary_json[std::string(reason)] = counts[std::string(reason)];
  report["summary"] = std::move(summary_json);
  write_text(options.report_path, json_text(report, 2) + "\n");
  if (!options.csv_path.empty()) write_text(options.csv_path, csv);
  for (const auto& [reason, count] : counts)
    if (count > 0) summary.by_reason[reason] = count;

  if (!options.quarantine_dir.empty()) {
    // Every move is decided, and checked, before the first: two inputs that would land on one
    // name (a list's "/a/b.jpg" and "a/b.jpg"), or a name already taken, stop the job with
    // nothing moved. The moves then run to the end without a stop check: a stop halfway would
    // leave moved files that a resumed run no longer sees in the input, and so drops from the
    // report (the journal is finished only once they are all moved).
    const fs::path dir = fs::absolute(options.quarantine_dir);
    std::vector<std::pair<fs::path, fs::path>> moves;  // (from, relative to dir)
    std::map<fs::path, size_t> destinations;
    for (size_t i = 0; i < n; ++i) {
      const FileResult& r = results[i];
      if (r.findings.empty()) continue;
      if (keeper[i]) {
        ++summary.kept_flagged_keepers;
        continue;
      }
      const fs::path from = fs::absolute(source.samples[i].path).lexically_normal();
      std::error_code ec;
      const auto status = fs::symlink_status(from, ec);
      if (!fs::is_regular_file(status) && !fs::is_symlink(status)) continue;  // gone, or a folder
      // A list naming one file twice (a.jpg, ./a.jpg) must not move the keeper's own entry.
      // (A symlink or a hard link to the keeper is another entry: moving it loses nothing.)
      if (r.keeper_index >= 0 &&
          same_entry(from, fs::absolute(source.samples[size_t(r.keeper_index)].path)))
        continue;
      const fs::path relative = safe_relative(source.samples[i].relative);
      const auto [taken, fresh] = destinations.emplace(relative.lexically_normal(), i);
      if (!fresh)
        throw Error(source.samples[i].path, "quarantine",
                    fmt::format("would be moved to {}, as {} would: nothing was moved (rename one of them, or "
                                "quarantine without the other)",
                                (dir / relative).string(), source.samples[taken->second].path));
      if (exists_no_follow(dir / relative))
        throw Error((dir / relative).string(), "quarantine",
                    "already exists; quarantine never overwrites, and nothing was moved: restore or move it first");
      moves.emplace_back(from, relative);
    }
    ordered_json plan, planned = ordered_json::array();
    put_path(plan, "quarantine", dir.string());
    for (const auto& [from, relative] : moves) {
      ordered_json move;
      put_path(move, "from", from.string());
      put_path(move, "to", relative.generic_string());
      planned.push_back(std::move(move));
    }
    plan["quarantine_moves"] = std::move(planned);
    if (!moves.empty()) journal.append(plan);
    summary.quarantined = make_moves(dir, moves);
  }
  journal.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

size_t run_restore(const std::string& quarantine_dir, bool progress_enabled) {
  const fs::path dir = fs::absolute(quarantine_dir);
  const fs::path manifest_path = dir / kQuarantineManifest;
  std::ifstream in(manifest_path, std::ios::binary);
  if (!in)
    throw Error(manifest_path.string(), "restore",
                "no quarantine manifest here: nothing was quarantined in this folder, or it was "
                "restored already");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  struct Move {
    fs::path from, to;
  };
  std::vector<Move> moves;
  size_t line_number = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    const bool torn = end == std::string::npos;  // a kill mid-write: its move never happened
    if (torn) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (line.empty()) continue;
    nlohmann::json entry;
    try {
      entry = nlohmann::json::parse(line);
      const fs::path to(get_path(entry, "to"));
      if (to.is_absolute() ||
          std::any_of(to.begin(), to.end(), [](const fs::path& p) { return p == ".."; }))
        throw Error(manifest_path.string(), "restore",
                    fmt::format("line {}: 'to' leaves the quarantine folder", line_number));
      moves.push_back({fs::path(get_path(entry, "from")), dir / to});
    } catch (const nlohmann::json::exception&) {
      if (torn) break;
      throw Error(manifest_path.string(), "restore",
                  fmt::format("line {} is not a manifest entry", line_number));
    }
  }

  // Nothing moves while any original place is taken again.
  for (const Move& m : moves)
    if (exists_no_follow(m.to) && exists_no_follow(m.from))
      throw Error(
          m.from.string(), "restore",
          fmt::format("a file is at the original place again; restore never overwrites it (the "
                      "quarantined one is {}): move one of them away and run restore again",
                      m.to.string()));
  size_t restored = 0;
  std::vector<std::string> lost;
  Progress progress("restore", moves.size(), progress_enabled);
  for (const Move& m : moves) {
    if (exists_no_follow(m.to)) {
      move_file(m.to, m.from, "restore");
      ++restored;
    } else if (!exists_no_follow(m.from)) {
      lost.push_back(m.from.string());
    }
    progress.advance();
  }
  progress.finish();
  if (!lost.empty())
    throw Error(
        lost.front(), "restore",
        fmt::format(
            "{} listed file(s) are neither in the quarantine nor at their original place; the "
            "others are restored and the manifest is kept",
            lost.size()));
  std::error_code ec;
  fs::remove(manifest_path, ec);
  if (ec)
    throw Error(manifest_path.string(), "restore",
                fmt::format("cannot remove the manifest: {}", ec.message()));
  std::vector<fs::path> emptied;
  for (const Move& m : moves) emptied.push_back(m.to.lexically_normal());
  remove_emptied_folders(dir.lexically_normal(), emptied);
  return restored;
}

std::string clean_summary_text(const CleanSummary& s) {
  std::string out = fmt::format("clean: {} images, {} flagged, {:.2f} s ({:.1f} images/s) on {}\n",
                                s.images, s.flagged, s.seconds,
                                s.seconds > 0 ? double(s.images) / s.seconds : 0.0, s.device);
  if (s.requested_device != s.device)
    out += fmt::format("  ({} requested: this build has no nvJPEG, or --gpu-share is 0)\n", s.requested_device);
  if (s.measured_on_gpu > 0)
    out += fmt::format(
        "  nvJPEG measured {} images; {} of them, which might be exact duplicates, decoded again on the CPU (dHash "
        "moved by up to {} bits, means by {:.2f} and stds by {:.2f} levels)\n",
        s.measured_on_gpu, s.confirmed_on_cpu, s.largest_dhash_change, s.largest_mean_change, s.largest_std_change);
  if (s.resumed > 0) out += fmt::format("  resumed: {} files from the journal\n", s.resumed);
  for (std::string_view reason : kReasons)
    if (const auto it = s.by_reason.find(std::string(reason)); it != s.by_reason.end())
      out += fmt::format("  {:<20} {}\n", reason, it->second);
  out += fmt::format("  groups: {} duplicate, {} near-duplicate\n", s.duplicate_groups,
                     s.near_duplicate_groups);
  if (s.quarantined > 0 || s.kept_flagged_keepers > 0)
    out += fmt::format(
        "  quarantined: {} files{}\n", s.quarantined,
        s.kept_flagged_keepers > 0
            ? fmt::format(" ({} flagged group keepers left in place)", s.kept_flagged_keepers)
            : "");
  return out;
}

}  // namespace gpuaug::jobs
