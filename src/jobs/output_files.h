// Writing job outputs: whole files only (temporary name, then rename; written at once or in
// pieces), output naming that mirrors the input tree, and the encoders for png, jpg and npy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "data/source.h"
#include "jobs/temporary_path.h"
#include "pipeline/augmenter.h"

namespace gpuaug::jobs {

// A file written in pieces beside `path` (folders created) and moved into place by commit(), so
// that a reader never sees half a file. Where the filesystem can (O_TMPFILE: ext4, xfs, tmpfs,
// btrfs) the file has no name until commit, so a process killed mid-write (kill -9, a rank's
// abort, a second Ctrl-C) leaves nothing; elsewhere it is a "*.gpuaug-tmp-*" temporary, removed
// when the AtomicFile is destroyed uncommitted and swept by a resumed job. Errors name `path` at
// stage "write".
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void append(std::span<const uint8_t> bytes);
  // At any offset (holes are zeros until written); safe from several threads at once.
  void write_at(uint64_t offset, std::span<const uint8_t> bytes);
  // Closes the file (a late write error shows here) and moves it into place.
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool anonymous_ = false;  // O_TMPFILE: no name yet
  uint64_t end_ = 0;
};

// Writes `bytes` to `path` in one AtomicFile, so that a reader (or a killed job) never sees half
// a file. Creates parent folders.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);

// Removes the named temporaries ("*.gpuaug-tmp-*" anywhere under dir) that AtomicFile leaves
// when a job is killed mid-write where the filesystem has no O_TMPFILE; returns how many. A
// resumed job calls it first.
size_t remove_temporaries(const std::string& dir);

// OUT/<relative without extension>[-<copy>][-c<crop>].<format>. The relative path is made safe
// first: a root is dropped and ".." becomes "__", so nothing lands outside OUT. With
// keep_extension (two inputs differ only by extension) the stem keeps it: x.jpg -> x_jpg.
std::string output_path(const std::string& out_dir, const std::string& relative, const SampleId& id,
                        bool numbered_copies, bool has_crops, const std::string& format,
                        bool keep_extension = false);
// The same from an output stem (output_stems').
std::string output_path_of_stem(const std::string& out_dir, std::string stem, const SampleId& id,
                                bool numbered_copies, bool has_crops, const std::string& format);

// The relative path made safe for joining under a folder: no root, "." dropped, ".." becomes
// "__", so that a file list's "../x.jpg" stays inside the output (or quarantine) folder.
std::filesystem::path safe_relative(const std::string& relative);

// The stem output_path uses (safe relative path without extension), to find collisions.
std::string output_stem(const std::string& relative);

// Each sample's output stem: output_stem, with the extension kept (x.jpg -> x_jpg) where
// samples differ only by it; what output_path's keep_extension follows.
std::vector<std::string> output_stems(const std::vector<data::SampleRef>& samples);

// Throws Error(stage `stage`) naming both inputs where two samples' output names (index-aligned
// with samples) are equal: x.jpg and x_jpg.png (both x_jpg), a list's "/a/b.jpg" and "a/b.jpg",
// "../b.jpg" and "__/b.jpg". One output would silently replace the other; nothing is written yet.
void require_distinct_outputs(const std::vector<data::SampleRef>& samples, const std::vector<std::string>& names,
                              const std::string& stage);

// png, jpg (quality), or npy (the exact tensor: dtype, layout and shape as produced).
std::vector<uint8_t> encode_output(const pipeline::AugmentedSample& sample, const std::string& format,
                                   int jpeg_quality);

std::vector<uint8_t> encode_npy(const Tensor& tensor);
// The .npy header (magic, version, dict, padding) of a tensor of this dtype, layout and shape;
// its data follows in the layout's order.
std::vector<uint8_t> npy_header(DType dtype, Layout layout, int height, int width, int channels);

}  // namespace gpuaug::jobs
