// Writing job outputs: whole files only (temporary name, then rename), output naming that
// mirrors the input tree, and the encoders for png, jpg and npy outputs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "pipeline/augmenter.h"

namespace gpuaug::jobs {

// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so that a
// reader (or a killed job) never sees half a file. Creates parent folders.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);

// Removes the temporaries write_file_atomic leaves when a job is killed mid-write
// ("*.gpuaug-tmp-*" anywhere under dir); returns how many. A resumed job calls it first.
size_t remove_temporaries(const std::string& dir);

// OUT/<relative without extension>[-<copy>][-c<crop>].<format>. The relative path is made safe
// first: a root is dropped and ".." becomes "__", so nothing lands outside OUT. With
// keep_extension (two inputs differ only by extension) the stem keeps it: x.jpg -> x_jpg.
std::string output_path(const std::string& out_dir, const std::string& relative, const SampleId& id,
                        bool numbered_copies, bool has_crops, const std::string& format,
                        bool keep_extension = false);

// The relative path made safe for joining under a folder: no root, "." dropped, ".." becomes
// "__", so that a file list's "../x.jpg" stays inside the output (or quarantine) folder.
std::filesystem::path safe_relative(const std::string& relative);

// The stem output_path uses (safe relative path without extension), to find collisions.
std::string output_stem(const std::string& relative);

// png, jpg (quality), or npy (the exact tensor: dtype, layout and shape as produced).
std::vector<uint8_t> encode_output(const pipeline::AugmentedSample& sample, const std::string& format,
                                   int jpeg_quality);

std::vector<uint8_t> encode_npy(const Tensor& tensor);

}  // namespace gpuaug::jobs
