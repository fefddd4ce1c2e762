// clean: finds unreadable, truncated, mislabelled, tiny, extreme, near-constant, duplicate and
// near-duplicate images; reports them; optionally quarantines them (moves, never deletes).
//
// Reasons (stable strings, in this order within a finding):
//   zero_byte, unreadable, truncated   the file cannot be analysed (one of the three): an empty
//                                      file; a read, header or decode error (its text is the
//                                      detail); a header or decode error whose cause says the
//                                      data ends early ("truncated", libjpeg's "Premature end",
//                                      libpng's "Not enough image data")
//   extension_mismatch                 the magic bytes name another format than the extension
//                                      (PNG named .jpg); the file is still analysed
//   tiny                               min(width, height) < min_side, upright size
//   extreme_aspect                     long side / short side > max_aspect
//   near_constant                      every channel's standard deviation < constant_std
//   duplicate                          the same decoded pixels and size as the group's keeper
//                                      (core/content_hash.h pixel_hash)
//   near_duplicate                     dHash (jobs/near_duplicates.h) within near_dup_distance
//                                      of another image of the group, linked transitively
// In each group the first file in sorted relative-path order is the keeper and is not flagged
// for it. Near-duplicate search runs over one file per exact-duplicate group (so a duplicate is
// not also a near_duplicate) and skips near-constant images and images under 9x8 pixels, whose
// dHash holds no picture (a flat image hashes to 0, like every other flat image).
//
// Outputs are the same whatever the thread count: files are analysed on a pool and their
// results land by index. The journal (report_path + ".journal") holds one line per analysed
// file, so --resume analyses only the rest; it is removed once the report is written and the
// quarantine's moves are done. The moves are journaled before the first is made: a run stopped
// among them resumes them (one process; across processes rank 0's resume analyses again).
//
// Quarantine moves each flagged file except group keepers (the copy a dataset keeps; a keeper
// with its own finding stays, reported) to DIR/<relative path>, appending the line
// {"from": absolute original path, "to": path relative to DIR} to DIR/gpuaug-quarantine.jsonl
// before each move, so a killed run leaves a manifest that run_restore can still follow.
// A quarantine folder inside the input tree, or holding any of it, is refused; every move is
// checked before the first (two files onto one name, a name taken: nothing moves), and an
// existing file is never overwritten.
//
// device: cuda, cuda:N, cuda:all, cuda:N,M. Of the JPEGs nvJPEG takes whole (baseline, three
// components, upright, at least 16x16), those whose index % 8 is below 8 · gpu_share are decoded
// by nvJPEG, one worker a GPU, and measured there in batches (plan/image_digest.h: the same
// integer moments and dHash cells as here, on nvJPEG's pixels); the CPU threads read and peek
// every file and decode the rest. nvJPEG's pixels differ from libjpeg-turbo's by a level here and
// there, so on those files near_constant and near_duplicate are judged on nvJPEG's pixels (soft
// thresholds either way), while exact duplicates are always judged on libjpeg-turbo's: a file
// nvJPEG measured has no pixel hash, and every such file that has the size of another
// three-channel file, each channel's mean within 0.25 level, its std within 1 and the dHash
// within 2 bits (per file nvJPEG measured; on the H200 the two decoders' values differed by at
// most 1 bit, 0.02 and 0.47 levels over 20,000 photos) is decoded again on the CPU before the groups are made. The summary says how
// far the values of the files decoded twice moved, and warns beyond those margins. Which
// decoder measures a file depends on its index only, never on timing: the report is the same
// whatever the thread count.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "pipeline/gpu_workers.h"

namespace gpuaug::jobs {

struct CleanOptions {
  std::string input;           // folder, list or image (data::open_source)
  std::string report_path;     // JSON report (required)
  std::string csv_path;        // optional CSV of the findings
  std::string quarantine_dir;  // optional: move flagged files here, keeping relative paths
  int min_side = 32;           // smaller width or height is "tiny"
  double max_aspect = 10.0;    // long side / short side above this is "extreme_aspect"
  int near_dup_distance = 6;   // Hamming distance of the 64-bit dHash; < 0 turns the search off
  double constant_std = 2.0;   // every channel's std below this is "near_constant"
  int threads = 0;             // 0: all cores
  std::string device = "cpu";  // cpu, cuda, cuda:N, cuda:all, cuda:N,M (see above)
  double gpu_share = 0.75;     // of the JPEGs nvJPEG takes (in eighths)
  bool resume = false;         // continue an interrupted run from its journal
  bool progress = true;
};

struct CleanSummary {
  size_t images = 0;
  size_t flagged = 0;                       // files with at least one finding
  std::map<std::string, size_t> by_reason;  // reason -> findings
  size_t duplicate_groups = 0;              // groups of identical pixels
  size_t near_duplicate_groups = 0;
  size_t resumed = 0;  // files taken from the journal of an earlier run
  size_t quarantined = 0;
  size_t kept_flagged_keepers = 0;  // flagged keepers quarantine left in place
  std::string device = "cpu";       // where the analysis ran
  std::string requested_device = "cpu";
  std::vector<pipeline::WorkerShare> shares;  // images each worker measured (the CPU pool first)
  size_t measured_on_gpu = 0;   // files whose findings rest on nvJPEG's pixels
  size_t confirmed_on_cpu = 0;  // of those, decoded again: they might be exact duplicates
  int largest_dhash_change = 0;      // bits, over the files decoded twice
  double largest_mean_change = 0.0;  // levels, likewise
  double largest_std_change = 0.0;   // levels, likewise
  double seconds = 0.0;
};

// Writes the report (and CSV, and quarantine with its manifest). Input is never modified
// unless quarantine_dir is given, and then files are only moved. Throws gpuaug::Error;
// jobs::Interrupted when a stop was requested (the journal then holds what was analysed).
CleanSummary run_clean(const CleanOptions& options);

// Moves every file a quarantine's manifest lists back to where it came from; returns how many.
// Refuses (Error, before moving anything) to overwrite a file that has reappeared at the
// original place. Entries whose file is back in place already (a run killed between writing
// the manifest line and moving) are skipped. Once all are back the manifest and the folders
// under quarantine_dir that the restore emptied are removed (no other); a listed file found in neither place is an error
// after the others are restored, and the manifest stays.
size_t run_restore(const std::string& quarantine_dir, bool progress = true);

// The summary table printed at the end of the command.
std::string clean_summary_text(const CleanSummary& summary);

inline constexpr const char* kQuarantineManifest = "gpuaug-quarantine.jsonl";

}  // namespace gpuaug::jobs
