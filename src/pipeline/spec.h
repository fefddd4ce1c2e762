// Spec: the YAML or JSON description of a chain (seed, decode, ops, output), parsed and checked
// with errors that name the key and the line.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "codec/image_info.h"
#include "core/tensor.h"
#include "ops/op.h"

namespace gpuaug::pipeline {

struct OpSpec {
  std::string name;
  std::vector<std::pair<std::string, ops::ParamValue>> params;
  int line = 0;
};

struct DecodeOptions {
  bool dct_scaling = true;  // decode JPEGs at the smallest 1/2, 1/4, 1/8 scale the output allows
  uint64_t max_pixels = codec::kDefaultMaxPixels;
  // On a GPU, let nvJPEG decode the JPEGs it suits (its pixels differ slightly from
  // libjpeg-turbo's); false keeps every decode on the CPU, bit-identical to the CPU path.
  bool gpu = true;
  // The share of those JPEGs nvJPEG takes, in eighths: the samples whose index % 8 is below
  // 8 x gpu_share. Fixed, so which decoder made a sample's pixels never depends on timing or on
  // the machine. Default 0: its engine tops out near 25k images/s on the H100/H200 machines and
  // its pixels differ from libjpeg-turbo's, where the exact share alone runs at 66-68k
  // (bench/RESULTS.md, run 23: nvJPEG 5/8 + CPU, the default before, 29k).
  double gpu_share = 0.0;
  int gpu_eighths() const { return int(gpu_share * 8 + 0.5); }
  // The share, in eighths after nvJPEG's, that gpuaug's own GPU decoder takes (plan::
  // GpuJpegDecoder): baseline JPEGs whole at full scale, libjpeg-turbo's pixels bit for bit, the
  // CPU threads only reading headers and scans; other files (and a damaged scan) go to the CPU
  // decoder, as does everything past both shares. Samples whose index % 8 is in
  // [gpu_eighths, gpu_eighths + exact_eighths). Unset (< 0): what nvJPEG's share leaves, so by
  // default every JPEG it suits.
  double exact_share = -1.0;
  int exact_eighths() const { return exact_share < 0 ? 8 - gpu_eighths() : int(exact_share * 8 + 0.5); }
};

struct OutputOptions {
  Layout layout = Layout::kCHW;
  // The spec names output.layout (the functional API follows the input's layout otherwise).
  bool layout_given = false;
};

struct Spec {
  std::string name;  // file path or "<dict>", for errors
  uint64_t seed = 0;
  DecodeOptions decode;
  std::vector<OpSpec> ops;
  OutputOptions output;
  // `replacement:` an image that stands in for a sample that cannot be read when on_error is
  // replace (run through the same chain with the failed sample's index and draws). Relative
  // paths resolve against the spec file's folder (the working folder for specs given as text).
  std::string replacement;
};

// YAML (JSON is read as YAML's flow subset). Ops are written either `- name: {params}` or
// `- {op: name, ...params}`.
Spec parse_spec(const std::string& text, const std::string& name);
Spec load_spec(const std::string& path);

}  // namespace gpuaug::pipeline
