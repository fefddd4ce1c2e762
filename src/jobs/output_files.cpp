// Atomic writes, output names and output encodings.
#include "jobs/output_files.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <unistd.h>

#include "codec/encoder.h"
#include "core/error.h"

namespace gpuaug::jobs {

namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) throw Error(path, "write", fmt::format("cannot create folder: {}", ec.message()));
  // The temporary name is unique per process and write, and marked so that a resumed or
  // cleaned-up job recognizes leftovers.
  const std::string tmp = fmt::format("{}.gpuaug-tmp-{}-{}", path, ::getpid(), counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path, "write", "cannot open a temporary file beside the output");
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      throw Error(path, "write", "write failed (disk full?)");
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error(path, "write", fmt::format("cannot rename into place: {}", ec.message()));
  }
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

std::string output_path(const std::string& out_dir, const std::string& relative, const SampleId& id,
                        bool numbered_copies, bool has_crops, const std::string& format,
                        bool keep_extension) {
  std::string stem = output_stem(relative);
  if (keep_extension) {
    const std::string extension = safe_relative(relative).extension().string();
    if (!extension.empty()) stem += "_" + extension.substr(1);
  }
  if (numbered_copies) stem += fmt::format("-{}", id.copy);
  if (has_crops) stem += fmt::format("-c{}", id.crop - 1);
  return (fs::path(out_dir) / (stem + "." + format)).string();
}

std::vector<uint8_t> encode_npy(const Tensor& t) {
  const char* descr = t.dtype == DType::kUInt8     ? "|u1"
                      : t.dtype == DType::kFloat32 ? "<f4"
                      : t.dtype == DType::kFloat16 ? "<f2"
                                                   : "<u2";  // bfloat16: raw bits (numpy has none)
  const std::string shape = t.layout == Layout::kHWC
                                ? fmt::format("({}, {}, {})", t.height, t.width, t.channels)
                                : fmt::format("({}, {}, {})", t.channels, t.height, t.width);
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
