// Writing job outputs: whole files only (temporary name, then rename), output naming that
// mirrors the input tree, and the encoders for png, jpg and npy outputs.
#pragma once

#include <cstdint>
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

// OUT/<relative without extension>[-<copy>][-c<crop>].<format>
std::string output_path(const std::string& out_dir, const std::string& relative, const SampleId& id,
                        bool numbered_copies, bool has_crops, const std::string& format);

// png, jpg (quality), or npy (the exact tensor: dtype, layout and shape as produced).
std::vector<uint8_t> encode_output(const pipeline::AugmentedSample& sample, const std::string& format,
                                   int jpeg_quality);

std::vector<uint8_t> encode_npy(const Tensor& tensor);

}  // namespace gpuaug::jobs
