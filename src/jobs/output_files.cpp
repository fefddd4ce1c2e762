// Atomic writes, output names and output encodings.
#include "jobs/output_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "codec/encoder.h"
#include "core/error.h"

namespace gpuaug::jobs {

namespace fs = std::filesystem;

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  const fs::path target(path_);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) throw Error(path_, "write", fmt::format("cannot create folder: {}", ec.message()));
  // The temporary name is unique per process and write, and marked so that a resumed or
  // cleaned-up job recognizes leftovers.
  tmp_ = temporary_path(path_);
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  fd_ = ::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  anonymous_ = fd_ >= 0;
  if (!anonymous_) fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0)
    throw Error(path_, "write",
                fmt::format("cannot open a temporary file beside the output: {}", std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  std::error_code ignored;
  if (!anonymous_) fs::remove(tmp_, ignored);
}

void AtomicFile::append(std::span<const uint8_t> bytes) {
  write_at(end_, bytes);
  end_ += bytes.size();
}

void AtomicFile::write_at(uint64_t offset, std::span<const uint8_t> bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, off_t(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error(path_, "write",
                  fmt::format("write failed: {}", n < 0 ? std::strerror(errno) : "no progress (disk full?)"));
    done += size_t(n);
  }
}

void AtomicFile::commit() {
  std::error_code ec;
  // An anonymous file gets its temporary name first (linkat through /proc, which needs no
  // privilege), then the rename replaces the target in one step as for a named one.
  // Without /proc, AT_EMPTY_PATH (which needs CAP_DAC_READ_SEARCH) is the other way.
  if (anonymous_ &&
      ::linkat(AT_FDCWD, fmt::format("/proc/self/fd/{}", fd_).c_str(), AT_FDCWD, tmp_.c_str(),
               AT_SYMLINK_FOLLOW) != 0 &&
      ::linkat(fd_, "", AT_FDCWD, tmp_.c_str(), AT_EMPTY_PATH) != 0)
    throw Error(path_, "write", fmt::format("cannot name the finished file: {}", std::strerror(errno)));
  anonymous_ = false;  // named from here on: removed if what follows fails
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int error = errno;
    fs::remove(tmp_, ec);
    throw Error(path_, "write", fmt::format("write failed: {}", std::strerror(error)));
  }
  fs::rename(tmp_, path_, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp_, ignored);
    throw Error(path_, "write", fmt::format("cannot rename into place: {}", ec.message()));
  }
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  AtomicFile file(path);
  file.append(bytes);
  file.commit();
}

size_t remove_temporaries(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::vector<fs::path> leftovers;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->path().filename().string().find(".gpuaug-tmp-") != std::string::npos) leftovers.push_back(it->path());
  size_t removed = 0;
  for (const auto& path : leftovers) removed += fs::remove(path, ec) ? 1 : 0;
  return removed;
}

fs::path safe_relative(const std::string& relative) {
  fs::path safe;
  for (const fs::path& part : fs::path(relative).relative_path()) {
    if (part == "." || part.empty()) continue;
    safe /= part == ".." ? fs::path("__") : part;
  }
  return safe;
}

std::string output_stem(const std::string& relative) {
  const fs::path rel = safe_relative(relative);
  return (rel.parent_path() / rel.stem()).generic_string();
}

namespace {

// output_stem with the extension kept: x.jpg -> x_jpg.
std::string stem_keeping_extension(const std::string& relative) {
  std::string stem = output_stem(relative);
  const std::string extension = safe_relative(relative).extension().string();
  if (!extension.empty()) stem += "_" + extension.substr(1);
  return stem;
}

}  // namespace

std::vector<std::string> output_stems(const std::vector<data::SampleRef>& samples) {
  std::map<std::string, int> stem_count;
  std::vector<std::string> stems;
  stems.reserve(samples.size());
  for (const auto& ref : samples) ++stem_count[stems.emplace_back(output_stem(ref.relative))];
  for (size_t i = 0; i < samples.size(); ++i)
    if (stem_count[stems[i]] > 1) stems[i] = stem_keeping_extension(samples[i].relative);
  return stems;
}

void require_distinct_outputs(const std::vector<data::SampleRef>& samples, const std::vector<std::string>& names,
                              const std::string& stage) {
  std::map<std::string, size_t> first;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto [it, fresh] = first.emplace(names[i], i);
    if (!fresh)
      throw Error(samples[i].path, stage,
                  fmt::format("its output would be named as that of {} ('{}'), and one would replace the other: "
                              "rename one of them",
                              samples[it->second].path, names[i]));
  }
}

std::string output_path(const std::string& out_dir, const std::string& relative, const SampleId& id,
                        bool numbered_copies, bool has_crops, const std::string& format,
                        bool keep_extension) {
  return output_path_of_stem(out_dir, keep_extension ? stem_keeping_extension(relative) : output_stem(relative), id,
                             numbered_copies, has_crops, format);
}

std::string output_path_of_stem(const std::string& out_dir, std::string stem, const SampleId& id,
                                bool numbered_copies, bool has_crops, const std::string& format) {
  if (numbered_copies) stem += fmt::format("-{}", id.copy);
  if (has_crops) stem += fmt::format("-c{}", id.crop - 1);
  return (fs::path(out_dir) / (stem + "." + format)).string();
}

std::vector<uint8_t> npy_header(DType dtype, Layout layout, int height, int width, int channels) {
  const char* descr = dtype == DType::kUInt8     ? "|u1"
                      : dtype == DType::kFloat32 ? "<f4"
                      : dtype == DType::kFloat16 ? "<f2"
                                                 : "<u2";  // bfloat16: raw bits (numpy has none)
  const std::string shape = layout == Layout::kHWC
                                ? fmt::format("({}, {}, {})", height, width, channels)
                                : fmt::format("({}, {}, {})", channels, height, width);
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // Magic (6) + version (2) + length (2) + header, padded with spaces to 64 bytes, then '\n'.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<uint8_t>(header.size() & 0xFF));
  out.push_back(static_cast<uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  return out;
}

std::vector<uint8_t> encode_npy(const Tensor& t) {
  std::vector<uint8_t> out = npy_header(t.dtype, t.layout, t.height, t.width, t.channels);
  const auto* data = reinterpret_cast<const uint8_t*>(t.data.data());
  out.insert(out.end(), data, data + t.data.size());
  return out;
}

std::vector<uint8_t> encode_output(const pipeline::AugmentedSample& sample, const std::string& format,
                                   int jpeg_quality) {
  if (format == "npy") return encode_npy(sample.tensor);
  const Image image = pipeline::viewable_image(sample);
  if (format == "png") return codec::encode_png(image);
  if (format == "jpg" || format == "jpeg") return codec::encode_jpeg(image, jpeg_quality);
  throw Error("", "write", fmt::format("unknown output format '{}' (png, jpg, npy)", format));
}

}  // namespace gpuaug::jobs
