// Sources: folder scanning (ImageFolder layout), file-list parsing, and the dispatch between them.
#include "data/source.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

#include <nlohmann/json.hpp>

#include "codec/decoder.h"
#include "core/error.h"
#include "data/tar_reader.h"

namespace gpuaug::data {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStage = "source";

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Suffix test without locale: file names are bytes, and only ASCII extensions matter here.
bool ends_with_ignore_case(std::string_view name, std::string_view suffix) {
  if (name.size() < suffix.size()) return false;
  const std::string_view tail = name.substr(name.size() - suffix.size());
  return std::equal(tail.begin(), tail.end(), suffix.begin(),
                    [](char a, char b) { return ascii_lower(a) == b; });
}

bool is_list_name(std::string_view name) {
  return ends_with_ignore_case(name, ".txt") || ends_with_ignore_case(name, ".lst");
}

bool is_hidden(const std::string& name) { return !name.empty() && name.front() == '.'; }

void sort_samples(std::vector<SampleRef>& samples) {
  // std::string compares through char_traits<char>, i.e. as unsigned bytes: the byte order the
  // index contract promises, whatever the signedness of char. Stable keeps duplicates in order.
  std::stable_sort(samples.begin(), samples.end(),
                   [](const SampleRef& a, const SampleRef& b) { return a.relative < b.relative; });
}

// Walks folders below the root and collects their images (label -1; scan_folder labels them).
// `ancestors` holds the canonical paths of the root and of the folders being walked, so a
// symlink back to one of them is skipped (no loop) while a folder reached by two non-cyclic
// paths is listed under both, as os.walk(followlinks=True) in ImageFolder does.
class FolderWalker {
 public:
  explicit FolderWalker(const fs::path& root) { ancestors_.push_back(canonical_folder(root)); }

  void walk(const fs::path& dir, const std::string& relative_dir, std::vector<SampleRef>& out) {
    fs::path canonical = canonical_folder(dir);
    if (std::find(ancestors_.begin(), ancestors_.end(), canonical) != ancestors_.end()) return;
    ancestors_.push_back(std::move(canonical));
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) visit(*it, relative_dir, out);
    if (ec) throw Error(dir.string(), kStage, "cannot list folder: " + ec.message());
    ancestors_.pop_back();
  }

  // One entry of a folder at any depth: an image to list, a folder to enter, or neither.
  void visit(const fs::directory_entry& entry, const std::string& relative_dir,
             std::vector<SampleRef>& out) {
    const std::string name = entry.path().filename().string();
    if (is_hidden(name)) return;
    const std::string relative = relative_dir.empty() ? name : relative_dir + "/" + name;
    std::error_code ec;
    // is_directory follows symlinks: a link to a folder counts as a folder. A broken link reads
    // as not_found, not a folder, so an image-named one is listed below.
    const bool is_dir = entry.is_directory(ec);
    if (is_image_name(name)) {
      if (is_dir) return;  // "x.jpg/" is a folder, not an image, and its contents are not walked
      if (entry.is_symlink(ec) || entry.is_regular_file(ec)) {
        out.push_back(SampleRef{entry.path().string(), relative, -1});
      }
      return;
    }
    if (is_dir) walk(entry.path(), relative, out);
  }

 private:
  static fs::path canonical_folder(const fs::path& dir) {
    std::error_code ec;
    fs::path canonical = fs::canonical(dir, ec);
    if (ec) throw Error(dir.string(), kStage, "cannot resolve folder: " + ec.message());
    return canonical;
  }

  std::vector<fs::path> ancestors_;
};

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits "path<TAB>label" or "path label". The last tab wins when there is one, so a path
// holding spaces can still carry a label; otherwise the last run of spaces separates them when
// what follows looks like a number ("my photo.png" is one path without a label; "a.png 1.5" and
// "a.png -1" are labels parse_label refuses).
void split_line(std::string_view line, std::string_view& path, std::string_view& label) {
  size_t cut = line.rfind('\t');
  if (cut == std::string_view::npos) {
    cut = line.find_last_of(' ');
    if (cut != std::string_view::npos) {
      const std::string_view last = trim(line.substr(cut + 1));
      const bool number_like = last.find_first_of("0123456789") != std::string_view::npos &&
                               last.find_first_not_of("0123456789+-.") == std::string_view::npos;
      if (!number_like) cut = std::string_view::npos;
    }
  }
  if (cut == std::string_view::npos) {
    path = line;
    label = {};
    return;
  }
  path = trim(line.substr(0, cut));
  label = trim(line.substr(cut + 1));
}

int64_t parse_label(std::string_view text, const std::string& list_path, size_t line_number) {
  const std::string where =
      "line " + std::to_string(line_number) + ": label '" + std::string(text) + "'";
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range)
    throw Error(list_path, kStage, where + " is out of range");
  if (ec != std::errc() || ptr != end) throw Error(list_path, kStage, where + " is not an integer");
  // -1 is what "no label" means downstream, so a written negative label would be ambiguous.
  if (value < 0) throw Error(list_path, kStage, where + " is negative (omit it for no label)");
  return value;
}

}  // namespace

bool is_image_name(std::string_view name) {
  for (std::string_view ext : {".jpg", ".jpeg", ".png"}) {
    if (name.size() > ext.size() && ends_with_ignore_case(name, ext)) {
      // A name that is only the extension after a '/' ("dir/.png") has no stem either.
      return name[name.size() - ext.size() - 1] != '/';
    }
  }
  return false;
}

Source scan_folder(const std::string& root) {
  std::error_code ec;
  const fs::file_status status = fs::status(root, ec);
  if (!fs::exists(status)) throw Error(root, kStage, "no such file or directory");
  if (!fs::is_directory(status)) throw Error(root, kStage, "not a folder");

  Source source;
  source.root = root;

  // The root's own images are unlabelled; its sub-folders are candidate classes whose labels
  // are known only once the ones holding images are sorted by name.
  FolderWalker walker{fs::path(root)};
  std::vector<std::pair<std::string, std::vector<SampleRef>>> classes;
  fs::directory_iterator it(root, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    std::error_code type_ec;
    if (!is_hidden(name) && !is_image_name(name) && entry.is_directory(type_ec)) {
      std::vector<SampleRef> images;
      walker.walk(entry.path(), name, images);
      if (!images.empty()) classes.emplace_back(name, std::move(images));
    } else {
      walker.visit(entry, std::string(), source.samples);
    }
  }
  if (ec) throw Error(root, kStage, "cannot list folder: " + ec.message());

  std::sort(classes.begin(), classes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, images] : classes) {
    const auto label = static_cast<int64_t>(source.classes.size());
    source.classes.push_back(name);
    for (SampleRef& sample : images) {
      sample.label = label;
      source.samples.push_back(std::move(sample));
    }
  }
  sort_samples(source.samples);
  return source;
}

Source read_file_list(const std::string& list_path) {
  std::error_code ec;
  const fs::file_status status = fs::status(list_path, ec);
  if (!fs::exists(status)) throw Error(list_path, kStage, "no such file or directory");
  if (fs::is_directory(status)) throw Error(list_path, kStage, "a folder, not a file list");
  std::ifstream in(list_path, std::ios::binary);
  if (!in) throw Error(list_path, kStage, "cannot open file list");

  Source source;
  source.root = fs::path(list_path).parent_path().string();
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    std::string_view path;
    std::string_view label;
    split_line(text, path, label);
    SampleRef sample;
    sample.relative = std::string(path);
    // operator/ keeps an absolute path as it is and joins a relative one to the list's folder.
    sample.path = (fs::path(source.root) / sample.relative).string();
    if (!label.empty()) sample.label = parse_label(label, list_path, line_number);
    source.samples.push_back(std::move(sample));
  }
  if (in.bad())
    throw Error(list_path, kStage, "read failed after line " + std::to_string(line_number));
  sort_samples(source.samples);
  return source;
}

std::vector<uint8_t> read_sample(const Source& source, const SampleRef& ref) {
  if (ref.shard < 0) return codec::read_file(ref.path);
  const TarShard& shard = *source.shards.at(size_t(ref.shard));
  const std::span<const uint8_t> bytes = shard.data(shard.members().at(ref.member));
  if (bytes.empty()) throw Error(ref.path, "read", "empty file");
  return {bytes.begin(), bytes.end()};
}

Source read_shards(const std::vector<std::string>& shard_paths, const std::string& root,
                   std::vector<std::string> classes) {
  Source source;
  source.root = root;
  source.classes = std::move(classes);
  for (const std::string& path : shard_paths) {
    auto shard = std::make_shared<const TarShard>(path);
    const int shard_index = int(source.shards.size());
    const std::string shard_name = fs::path(path).filename().string();
    for (const TarSample& sample : shard->samples()) {
      const TarField* image = sample.find("jpg");
      if (!image) image = sample.find("jpeg");
      if (!image) image = sample.find("png");
      if (!image) continue;
      SampleRef ref;
      const TarMember& member = shard->members()[image->member];
      ref.path = path + "#" + member.name;
      ref.relative = sample.key + "." + image->extension;
      ref.shard = shard_index;
      ref.member = image->member;
      if (const TarField* cls = sample.find("cls")) {
        const std::span<const uint8_t> text = shard->data(*cls);
        std::string label(text.begin(), text.end());
        while (!label.empty() && std::isspace(static_cast<unsigned char>(label.back()))) label.pop_back();
        try {
          size_t used = 0;
          ref.label = std::stoll(label, &used);
          if (used != label.size() || ref.label < 0) throw std::invalid_argument(label);
        } catch (const std::exception&) {
          throw Error(path + "#" + shard->members()[cls->member].name, kStage,
                      "label " + printable_name(label) + " is not a non-negative integer");
        }
      }
      source.samples.push_back(std::move(ref));
    }
    source.shards.push_back(std::move(shard));
  }
  if (source.samples.empty())
    throw Error(shard_paths.size() == 1 ? shard_paths[0] : root, kStage, "no images found in the tar shards");
  // Outputs are named after the keys: two samples with one key would write one file.
  std::map<std::string, const SampleRef*> seen;
  for (const SampleRef& ref : source.samples)
    if (auto [it, fresh] = seen.emplace(ref.relative, &ref); !fresh)
      throw Error(ref.path, kStage, "sample " + printable_name(ref.relative) + " is also " + it->second->path);
  return source;
}

namespace {

// The shards a folder holds: those index.json names (reduce's output), else its *.tar files
// when it has no images of its own; empty when it is a plain image folder.
std::vector<std::string> folder_shards(const std::string& folder, std::vector<std::string>& classes) {
  std::error_code ec;
  const fs::path index = fs::path(folder) / "index.json";
  std::vector<std::string> shards;
  if (fs::is_regular_file(index, ec)) {
    std::ifstream in(index);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_discarded() && j.contains("shards") && j["shards"].is_array()) {
      for (const auto& s : j["shards"])
        if (s.contains("file") && s["file"].is_string())
          shards.push_back((fs::path(folder) / s["file"].get<std::string>()).string());
      if (j.contains("classes") && j["classes"].is_array())
        for (const auto& c : j["classes"])
          if (c.is_string()) classes.push_back(c.get<std::string>());
      return shards;
    }
  }
  bool has_images = false;
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && name.size() > 4 && name.compare(name.size() - 4, 4, ".tar") == 0 && name[0] != '.')
      shards.push_back(it->path().string());
    else if (is_image_name(name) || it->is_directory(ec))
      has_images = true;  // a tree of images (or sub-folders that may hold them) wins
  }
  if (has_images) return {};
  std::sort(shards.begin(), shards.end());
  return shards;
}

}  // namespace

Source open_source(const std::string& input) {
  std::error_code ec;
  const fs::file_status status = fs::status(input, ec);
  if (!fs::exists(status)) throw Error(input, kStage, "no such file or directory");

  Source source;
  if (fs::is_directory(status)) {
    std::vector<std::string> classes;
    if (auto shards = folder_shards(input, classes); !shards.empty())
      return read_shards(shards, input, std::move(classes));
    source = scan_folder(input);
    if (source.samples.empty()) {
      throw Error(input, kStage, "no images found (looked for .jpg, .jpeg, .png)");
    }
    return source;
  }
  const std::string name = fs::path(input).filename().string();
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tar") == 0)
    return read_shards({input}, fs::path(input).parent_path().string(), {});
  if (is_list_name(name)) {
    source = read_file_list(input);
    if (source.samples.empty()) throw Error(input, kStage, "no samples listed");
    return source;
  }
  if (is_image_name(name)) {
    source.root = fs::path(input).parent_path().string();
    source.samples.push_back(SampleRef{input, name, -1});
    return source;
  }
  throw Error(input, kStage,
              "not a folder, a file list (.txt, .lst), a tar shard or an image (.jpg, .jpeg, .png)");
}

}  // namespace gpuaug::data
