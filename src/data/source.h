// Sources: the samples (path, label) a pipeline or job reads, from a folder tree or a file list.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gpuaug::data {

class TarShard;

struct SampleRef {
  std::string path;      // as opened (root joined with relative); "<shard>#<member>" in shards
  std::string relative;  // path relative to the source root, '/' separated, with extension
  int64_t label = -1;    // class index, -1 when the source has no labels
  // A member of Source::shards[shard] (its image member), or -1 for a file of its own.
  int shard = -1;
  size_t member = 0;
};

struct Source {
  std::string root;                  // the folder given, or the list file's / image's folder
  std::vector<SampleRef> samples;    // sorted by `relative` (byte order), so indices are stable
  std::vector<std::string> classes;  // class names, index = label; empty for lists, single images
  std::vector<std::shared_ptr<const TarShard>> shards;  // mapped, for samples inside shards
};

// A sample's encoded bytes: its file (codec::read_file), or its member copied out of the mapped
// shard. Errors name ref.path.
std::vector<uint8_t> read_sample(const Source& source, const SampleRef& ref);

// .jpg .jpeg .png, case-insensitive; the name needs a stem (".jpg" alone is not an image name).
bool is_image_name(std::string_view name);

// A class-per-folder tree as torchvision's ImageFolder: classes = sorted names of the root's
// sub-folders that hold images (at any depth below them); images directly under the root get
// label -1. Recurses, follows directory symlinks without looping, lists image-named entries that
// are regular files or symlinks (even broken ones: reading them later must name them in an
// error); skips directories named like images (e.g. "x.jpg/") and hidden entries (".*").
// Unlike ImageFolder, a sub-folder without images is not a class rather than an error.
// Errors (stage "source"): root missing or not a folder, a folder that cannot be listed.
Source scan_folder(const std::string& root);

// A text list: one sample per line, "path" or "path<TAB or spaces>label" (integer label >= 0);
// blank lines and lines starting with '#' skipped; relative paths resolve against the list
// file's folder; `relative` is the path as written in the list. A path holding spaces needs a
// tab before its label (the label is split at the last tab, else at the last run of spaces).
// Errors name the list file, stage "source", and the line number ("line 7: label 'x' is not an
// integer"). Listed files are not checked here: reading them names any that are missing.
Source read_file_list(const std::string& list_path);

// WebDataset tar shards (as `gpuaug reduce --shards` writes them): samples in shard order, then
// archive order; each sample's image is its jpg, jpeg or png member (samples with none are
// skipped), its label the integer in its "cls" member (-1 without one); relative is
// "<key>.<ext>" (outputs mirror the keys; a key twice is an error naming both members). Samples
// keep shard and archive order (not sorted). Classes from `classes` (index.json's, or empty).
Source read_shards(const std::vector<std::string>& shard_paths, const std::string& root,
                   std::vector<std::string> classes);

// A folder → its tar shards when it holds an index.json naming shards (written by reduce) or no
// images but *.tar files, else scan_folder; a .tar file → that one shard; a file ending in .txt
// or .lst → read_file_list; a single image file → a one-sample source. Missing input → Error(input, "source", "no such file or directory").
// An empty folder → Error(input, "source", "no images found (looked for .jpg, .jpeg, .png)");
// an empty list → Error(input, "source", "no samples listed").
Source open_source(const std::string& input);

}  // namespace gpuaug::data
