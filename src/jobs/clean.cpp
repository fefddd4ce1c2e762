// clean: per-file checks on a pool, exact and near-duplicate groups, the JSON and CSV reports,
// the journal that makes a run resumable, and quarantine with its manifest and restore.
#include "jobs/clean.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/decoder.h"
#include "codec/image_info.h"
#include "core/content_hash.h"
#include "core/pixel_moments.h"
#include "core/device.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "dist/communicator.h"
#include "dist/world.h"
#include "jobs/journal.h"
#include "jobs/near_duplicates.h"
#include "jobs/output_files.h"
#include "jobs/progress.h"
#include "jobs/stop_signal.h"

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

FileResult analyse(const data::Source& source, const data::SampleRef& ref, const CleanOptions& options) {
  FileResult r;
  r.done = true;
  r.size = size_on_disk(ref.path);
  auto failed = [&](const Error& e) {
    r.findings.push_back(
        {says_truncated(e.cause()) ? "truncated" : "unreadable", e.stage() + ": " + e.cause()});
  };
  codec::DecodedImage decoded;
  {
    std::vector<uint8_t> bytes;
    try {
      bytes = data::read_sample(source, ref);
    } catch (const Error& e) {
      // read_file says "empty file" for a FIFO too; only a regular file of 0 bytes is zero_byte.
      if (e.cause() == "empty file" && r.size == 0)
        r.findings.push_back({"zero_byte", "0 bytes"});
      else
        failed(e);
      return r;
    }
    r.size = int64_t(bytes.size());
    try {
      const codec::ImageInfo info = codec::peek_image(bytes);
      if (std::string detail = extension_mismatch(ref.relative, info.format); !detail.empty())
        r.findings.push_back({"extension_mismatch", std::move(detail)});
      decoded = codec::decode_image(bytes, {});
    } catch (const Error& e) {
      failed(e);
      return r;
    }
  }
  const Image& image = decoded.image;
  r.decoded = true;
  r.width = image.width;
  r.height = image.height;
  const int short_side = std::min(image.width, image.height),
            long_side = std::max(image.width, image.height);
  if (short_side < options.min_side)
    r.findings.push_back({"tiny", fmt::format("{}x{}, smaller side below {}", image.width,
                                              image.height, options.min_side)});
  const double aspect = short_side > 0 ? double(long_side) / short_side : INFINITY;
  if (aspect > options.max_aspect)
    r.findings.push_back(
        {"extreme_aspect", fmt::format("aspect {:.1f} above {}", aspect, options.max_aspect)});

  // Population standard deviation per channel from exact integer sums.
  const int channels = image.channels;
  std::array<uint64_t, 4> sum{}, sum_sq{};
  const size_t pixels = size_t(image.width) * image.height;
  if (channels == 3) {
    RgbMoments moments;
    add_rgb_moments(image.pixels.data(), pixels, moments);
    for (int c = 0; c < 3; ++c) sum[size_t(c)] = moments.sum[size_t(c)], sum_sq[size_t(c)] = moments.products[size_t(c)];
  } else {
    for (size_t p = 0; p < pixels; ++p)
      for (int c = 0; c < channels; ++c) {
        const uint64_t v = image.pixels[p * size_t(channels) + size_t(c)];
        sum[size_t(c)] += v;
        sum_sq[size_t(c)] += v * v;
      }
  }
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
  }
  if (flat)
    r.findings.push_back(
        {"near_constant", fmt::format("channel std {} below {}", stds, options.constant_std)});

  r.pixel_hash = pixel_hash(image);
  r.dhash = dhash(image);
  r.searchable = !flat && image.width >= 9 && image.height >= 8;
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
    if (results[i].decoded) by_pixels[results[i].pixel_hash].push_back(i);
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
    const std::string line = entry.dump() + "\n";
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

// Removes the folders under dir left empty (not dir itself); true when dir is empty after.
bool remove_empty_folders(const fs::path& dir) {
  bool empty = true;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec) && !entry.is_symlink(ec) && remove_empty_folders(entry.path()))
      fs::remove(entry.path(), ec);
    if (exists_no_follow(entry.path())) empty = false;
  }
  return empty && !ec;
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
  summary.device = "cpu";  // the CUDA dHash is still to come (clean.h)
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

  {
    // Each thread takes small chunks itself, from a counter every rank shares under mpirun.
    constexpr size_t kChunk = 4;
    Progress progress("clean", todo.size(), options.progress && world.rank == 0);
    ThreadPool pool(options.threads > 0 ? options.threads : dist::threads_per_process(world));
    dist::ChunkQueue chunks((todo.size() + kChunk - 1) / kChunk, comm);
    pool.parallel_for(size_t(pool.size()), [&](size_t) {
      while (!stop_requested()) {  // what a stop leaves is not analysed: the journal stays exact
        const auto chunk = chunks.next();
        if (!chunk) return;
        for (size_t k = *chunk * kChunk; k < std::min(todo.size(), (*chunk + 1) * kChunk) && !stop_requested(); ++k) {
          const size_t i = todo[k];
          FileResult r = analyse(source, source.samples[i], options);
          journal.append(journal_entry(i, source.samples[i].relative, r));
          results[i] = std::move(r);
          progress.advance();
        }
      }
    });
    progress.finish();
  }
  throw_if_stopped();
  if (comm) {
    // Rank 0 takes every rank's results (as journal lines) and does the rest alone.
    nlohmann::json mine = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i)
      if (results[i].done) mine.push_back(journal_entry(i, source.samples[i].relative, results[i]));
    const std::vector<std::string> parts = comm->gather(mine.dump());
    if (world.rank != 0) {
      comm->barrier();  // rank 0 has written the report (and quarantined) when this returns
      journal.finish();
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return summary;
    }
    for (const std::string& part : parts)
      for (const auto& entry : nlohmann::json::parse(part)) {
        const size_t i = entry.at("index").get<size_t>();
        if (!results[i].done) from_journal_entry(entry, results[i]);
      }
  }
  struct BarrierAtEnd {  // the other ranks wait for rank 0's report and quarantine
    dist::Communicator* comm;
    ~BarrierAtEnd() {
      if (comm && std::uncaught_exceptions() == 0) comm->barrier();
    }
  } barrier_at_end{comm};

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
  write_text(options.report_path, report.dump(2) + "\n");
  if (!options.csv_path.empty()) write_text(options.csv_path, csv);
  journal.finish();
  for (const auto& [reason, count] : counts)
    if (count > 0) summary.by_reason[reason] = count;

  if (!options.quarantine_dir.empty()) {
    const fs::path dir = fs::absolute(options.quarantine_dir);
    std::unique_ptr<Manifest> manifest;
    for (size_t i = 0; i < n; ++i) {
      const FileResult& r = results[i];
      if (r.findings.empty()) continue;
      if (keeper[i]) {
        ++summary.kept_flagged_keepers;
        continue;
      }
      throw_if_stopped();
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
      const fs::path to = dir / relative;
      if (exists_no_follow(to))
        throw Error(to.string(), "quarantine",
                    "already exists; quarantine never overwrites: restore or move it first");
      if (!manifest) manifest = std::make_unique<Manifest>(dir / kQuarantineManifest);
      ordered_json line;
      line["from"] = from.string();
      line["to"] = relative.generic_string();
      manifest->append(line);
      move_file(from, to, "quarantine");
      ++summary.quarantined;
    }
  }
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
      const fs::path to(entry.at("to").get<std::string>());
      if (to.is_absolute() ||
          std::any_of(to.begin(), to.end(), [](const fs::path& p) { return p == ".."; }))
        throw Error(manifest_path.string(), "restore",
                    fmt::format("line {}: 'to' leaves the quarantine folder", line_number));
      moves.push_back({fs::path(entry.at("from").get<std::string>()), dir / to});
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
  remove_empty_folders(dir);
  return restored;
}

std::string clean_summary_text(const CleanSummary& s) {
  std::string out = fmt::format("clean: {} images, {} flagged, {:.2f} s ({:.1f} images/s) on {}\n",
                                s.images, s.flagged, s.seconds,
                                s.seconds > 0 ? double(s.images) / s.seconds : 0.0, s.device);
  if (s.requested_device != s.device)
    out += fmt::format("  ({} requested: clean runs on the CPU for now)\n", s.requested_device);
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
