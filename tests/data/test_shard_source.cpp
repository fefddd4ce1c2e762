// Tar shards as a source: samples, keys and labels from the members, the bytes read back, a
// folder of shards or reduce's index.json, and the refusals (bad label, a key twice).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../common/references.h"
#include "../common/temp_dir.h"
#include "data/source.h"
#include "data/tar_reader.h"
#include "jobs/tar_writer.h"

namespace gpuaug::data {
namespace {

namespace fs = std::filesystem;
using gpuaug_test::expect_error;

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

void write_shard(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& members) {
  jobs::TarWriter writer(path.string());
  for (const auto& [name, data] : members) writer.add(name, bytes_of(data));
  writer.close();
}

TEST(ShardSource, SamplesLabelsAndBytes) {
  const gpuaug_test::TempDir dir_tmp("shards_basic");
  const fs::path& dir = dir_tmp.root();
  write_shard(dir / "shard-000000.tar",
              {{"cat/a.jpg", "AAAA"}, {"cat/a.cls", "0\n"}, {"dog/b.png", "BB"}, {"dog/b.cls", "1"},
               {"notes.txt", "skipped: no image"}, {"c.seg.png", "not an image field"}, {"d.jpeg", "D"}});
  write_shard(dir / "shard-000001.tar", {{"e.jpg", "EEE"}, {"e.cls", "7"}});
  const Source source = open_source(dir.string());
  ASSERT_EQ(source.samples.size(), 4u);
  EXPECT_EQ(source.shards.size(), 2u);
  const std::vector<std::string> relative = {source.samples[0].relative, source.samples[1].relative,
                                             source.samples[2].relative, source.samples[3].relative};
  EXPECT_EQ(relative, (std::vector<std::string>{"cat/a.jpg", "dog/b.png", "d.jpeg", "e.jpg"}));
  EXPECT_EQ(source.samples[0].label, 0);
  EXPECT_EQ(source.samples[1].label, 1);
  EXPECT_EQ(source.samples[2].label, -1);
  EXPECT_EQ(source.samples[3].label, 7);
  EXPECT_EQ(source.samples[0].path, (dir / "shard-000000.tar").string() + "#cat/a.jpg");
  EXPECT_EQ(read_sample(source, source.samples[1]), bytes_of("BB"));
  EXPECT_EQ(read_sample(source, source.samples[3]), bytes_of("EEE"));
  // One shard alone.
  const Source one = open_source((dir / "shard-000001.tar").string());
  ASSERT_EQ(one.samples.size(), 1u);
  EXPECT_EQ(read_sample(one, one.samples[0]), bytes_of("EEE"));
}

TEST(ShardSource, IndexJsonNamesShardsAndClasses) {
  const gpuaug_test::TempDir dir_tmp("shards_index");
  const fs::path& dir = dir_tmp.root();
  write_shard(dir / "b.tar", {{"x.jpg", "X"}, {"x.cls", "1"}});
  write_shard(dir / "a.tar", {{"y.jpg", "Y"}});
  std::ofstream(dir / "index.json") << R"({"classes": ["cat", "dog"], "shards": [{"file": "b.tar"}, {"file": "a.tar"}]})";
  const Source source = open_source(dir.string());
  ASSERT_EQ(source.samples.size(), 2u);
  EXPECT_EQ(source.samples[0].relative, "x.jpg");  // index.json's order, not the names'
  EXPECT_EQ(source.classes, (std::vector<std::string>{"cat", "dog"}));
}

TEST(ShardSource, AFolderWithImagesStaysAnImageFolder) {
  const gpuaug_test::TempDir dir_tmp("shards_images");
  const fs::path& dir = dir_tmp.root();
  write_shard(dir / "s.tar", {{"x.jpg", "X"}});
  std::ofstream(dir / "photo.jpg") << "not really";
  const Source source = open_source(dir.string());
  ASSERT_EQ(source.samples.size(), 1u);
  EXPECT_EQ(source.samples[0].relative, "photo.jpg");
  EXPECT_TRUE(source.shards.empty());
}

TEST(ShardSource, Refusals) {
  const gpuaug_test::TempDir dir_tmp("shards_refusals");
  const fs::path& dir = dir_tmp.root();
  write_shard(dir / "bad_label.tar", {{"x.jpg", "X"}, {"x.cls", "cat"}});
  Error e = expect_error([&] { open_source((dir / "bad_label.tar").string()); });
  EXPECT_EQ(e.file(), (dir / "bad_label.tar").string() + "#x.cls");
  EXPECT_NE(e.cause().find("label 'cat'"), std::string::npos) << e.cause();

  const gpuaug_test::TempDir twice_tmp("shards_twice");
  const fs::path& twice = twice_tmp.root();
  write_shard(twice / "1.tar", {{"x.jpg", "X"}});
  write_shard(twice / "2.tar", {{"x.jpg", "Y"}});
  e = expect_error([&] { open_source(twice.string()); });
  EXPECT_NE(e.cause().find("is also"), std::string::npos) << e.cause();

  write_shard(dir / "empty.tar", {{"readme.txt", "no images"}});
  e = expect_error([&] { open_source((dir / "empty.tar").string()); });
  EXPECT_NE(e.cause().find("no images"), std::string::npos) << e.cause();

  // A member escaping the archive is refused when the shard is opened (tar_reader).
  std::vector<uint8_t> archive;
  jobs::append_tar_member(archive, "ok.jpg", bytes_of("X"));
  const std::vector<uint8_t> end = jobs::tar_end(archive.size());
  archive.insert(archive.end(), end.begin(), end.end());
  std::ofstream(dir / "fine.tar", std::ios::binary).write(reinterpret_cast<const char*>(archive.data()),
                                                          std::streamsize(archive.size()));
  EXPECT_EQ(open_source((dir / "fine.tar").string()).samples.size(), 1u);
}

}  // namespace
}  // namespace gpuaug::data
