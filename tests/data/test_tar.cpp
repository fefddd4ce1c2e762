// Tar shards: jobs::TarWriter against Python's tarfile (committed fixtures), data::list_tar and
// group_samples on archives built here header by header, every refusal's file, stage and cause,
// and every truncation of a small archive.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "../common/references.h"
#include "../common/temp_dir.h"
#include "core/error.h"
#include "data/tar_reader.h"
#include "jobs/output_files.h"
#include "jobs/tar_writer.h"

namespace gpuaug::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using gpuaug_test::expect_error;

struct TempDir : gpuaug_test::TempDir {
  TempDir() : gpuaug_test::TempDir("tar") {}
};

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Bytes fixture(const std::string& name) {
  return read_bytes(std::string(GPUAUG_SOURCE_DIR) + "/tests/data/fixtures/" + name);
}

// make_tar_fixture.py's member_bytes: byte k of member i is (31 i + 7 k) % 251.
Bytes member_bytes(size_t index, size_t size) {
  Bytes out(size);
  for (size_t k = 0; k < size; ++k) out[k] = uint8_t((31 * index + 7 * k) % 251);
  return out;
}

Bytes text(std::string_view s) { return {s.begin(), s.end()}; }

// --- archives by hand (the oracle for the reader; independent of jobs::TarWriter) ----------

struct Header {
  Header(std::string name_, uint64_t size_, char type_ = '0', std::string prefix_ = "",
         // POSIX "ustar\0" and version "00"; GNU writes "ustar  \0".
         std::string magic_ = std::string{'u', 's', 't', 'a', 'r', '\0', '0', '0'})
      : name(std::move(name_)),
        size(size_),
        type(type_),
        prefix(std::move(prefix_)),
        magic(std::move(magic_)) {}
  std::string name;
  uint64_t size;
  char type;
  std::string prefix;
  std::string magic;
};

void put(std::array<uint8_t, 512>& h, size_t at, std::string_view s) {
  std::memcpy(h.data() + at, s.data(), s.size());
}

// A header as tarfile writes one (USTAR_FORMAT, TarInfo defaults), checksum included.
std::array<uint8_t, 512> header_block(const Header& spec) {
  std::array<uint8_t, 512> h{};
  put(h, 0, spec.name.substr(0, 100));
  put(h, 100, std::string("0000644\0", 8));
  put(h, 108, std::string("0000000\0", 8));
  put(h, 116, std::string("0000000\0", 8));
  char size[13];
  std::snprintf(size, sizeof size, "%011llo", static_cast<unsigned long long>(spec.size));
  put(h, 124, std::string(size, 12));
  put(h, 136, std::string("00000000000\0", 12));
  h[156] = uint8_t(spec.type);
  put(h, 257, spec.magic);
  put(h, 345, spec.prefix);
  return h;
}

void set_checksum(std::array<uint8_t, 512>& h) {
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (uint8_t b : h) sum += b;
  char field[8];
  std::snprintf(field, sizeof field, "%06o", sum);
  std::memcpy(h.data() + 148, field, 7);  // six digits and NUL; the space stays
}

struct Archive {
  Bytes bytes;

  Archive& header(const Header& spec, bool fix_checksum = true) {
    auto h = header_block(spec);
    if (fix_checksum) set_checksum(h);
    bytes.insert(bytes.end(), h.begin(), h.end());
    return *this;
  }
  Archive& raw(const std::array<uint8_t, 512>& h) {
    bytes.insert(bytes.end(), h.begin(), h.end());
    return *this;
  }
  Archive& data(const Bytes& content) {
    bytes.insert(bytes.end(), content.begin(), content.end());
    bytes.resize((bytes.size() + 511) / 512 * 512, 0);
    return *this;
  }
  Archive& file(const std::string& name, const Bytes& content, char type = '0') {
    return header({name, content.size(), type}).data(content);
  }
  // A pax 'x' header holding the given records ("path=..." without length and newline).
  Archive& pax(const std::vector<std::string>& records) {
    std::string body;
    for (const std::string& r : records) {
      // "<len> <r>\n" where len counts itself: find the fixed point.
      size_t len = r.size() + 3;
      while (std::to_string(len).size() + r.size() + 2 != len) ++len;
      body += std::to_string(len) + " " + r + "\n";
    }
    return header({"././@PaxHeader", body.size(), 'x'}).data(text(body));
  }
  Archive& end(size_t record = 1024) {
    const size_t with_end = bytes.size() + 1024;
    bytes.resize(with_end + (record - with_end % record) % record, 0);
    return *this;
  }
};

std::vector<std::pair<std::string, uint64_t>> names_and_sizes(const std::vector<TarMember>& m) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& member : m) out.emplace_back(member.name, member.size);
  return out;
}

// list_tar must fail with exactly this file and stage, and a cause holding `cause`.
void expect_refused(const Bytes& archive, const std::string& file, const std::string& cause) {
  const Error e = expect_error([&] { list_tar(archive, "shard.tar"); });
  EXPECT_EQ(e.file(), file);
  EXPECT_EQ(e.stage(), "tar");
  EXPECT_NE(e.cause().find(cause), std::string::npos) << "cause: " << e.cause();
}

// --- the writer against Python's tarfile ------------------------------------------------------

// make_tar_fixture.py's MEMBERS.
std::vector<std::pair<std::string, size_t>> fixture_members() {
  return {{"a/000.jpg", 0},
          {"a/000.cls", 1},
          {"a/001.jpg", 511},
          {"a/001.cls", 512},
          {"a/002.seg.png", 513},
          {std::string(120, 'd') + "/" + std::string(90, 'n') + ".jpg", 1024},
          {std::string(100, 'x'), 7}};
}

TEST(TarWriter, MatchesPythonTarfileByteForByte) {
  // Oracle: tests/data/fixtures/tarfile_ustar.tar, written by Python's tarfile (USTAR_FORMAT,
  // TarInfo defaults) for the same members; exact equality, record padding included.
  TempDir dir;
  const std::string path = dir / "shard-000.tar";
  jobs::TarWriter writer(path);
  Bytes memory;
  size_t i = 0;
  for (const auto& [name, size] : fixture_members()) {
    writer.add(name, member_bytes(i, size));
    jobs::append_tar_member(memory, name, member_bytes(i, size));
    ++i;
  }
  writer.close();
  const Bytes end = jobs::tar_end(memory.size());
  memory.insert(memory.end(), end.begin(), end.end());
  const Bytes expected = fixture("tarfile_ustar.tar");
  ASSERT_EQ(expected.size(), 10240u);
  EXPECT_EQ(read_bytes(path), expected);
  EXPECT_EQ(memory, expected);
  EXPECT_EQ(writer.bytes_written(), expected.size());
}

TEST(TarReader, ListsPythonTarfileArchives) {
  const auto ustar = list_tar(fixture("tarfile_ustar.tar"), "u.tar");
  std::vector<std::pair<std::string, uint64_t>> want;
  for (const auto& [name, size] : fixture_members()) want.emplace_back(name, size);
  EXPECT_EQ(names_and_sizes(ustar), want);
  const Bytes ustar_bytes = fixture("tarfile_ustar.tar");
  for (size_t i = 0; i < ustar.size(); ++i) {
    EXPECT_EQ(ustar[i].data_offset % 512, 0u);
    EXPECT_EQ(ustar[i].header_offset + 512, ustar[i].data_offset);
    const Bytes got(ustar_bytes.begin() + long(ustar[i].data_offset),
                    ustar_bytes.begin() + long(ustar[i].data_offset + ustar[i].size));
    EXPECT_EQ(got, member_bytes(i, want[i].second)) << want[i].first;
  }
  // GNU: the 306-byte name comes from a '././@LongLink' 'L' header.
  const std::string long_name = "g/" + std::string(150, 'l') + "/" + std::string(150, 'm') + ".jpg";
  const auto gnu = list_tar(fixture("tarfile_gnu.tar"), "g.tar");
  EXPECT_EQ(names_and_sizes(gnu),
            (std::vector<std::pair<std::string, uint64_t>>{{long_name, 5}, {"g/short.cls", 3}}));
  // pax: the long and the non-ASCII name come from 'x' headers; the folder 'p' is skipped.
  const auto pax = list_tar(fixture("tarfile_pax.tar"), "p.tar");
  EXPECT_EQ(names_and_sizes(pax), (std::vector<std::pair<std::string, uint64_t>>{
                                      {long_name, 600}, {"p/caf\xc3\xa9.jpg", 2}}));
  const Bytes pax_bytes = fixture("tarfile_pax.tar");
  EXPECT_EQ(Bytes(pax_bytes.begin() + long(pax[0].data_offset),
                  pax_bytes.begin() + long(pax[0].data_offset + 600)),
            member_bytes(0, 600));
}

TEST(TarWriter, RoundTripThroughTheReader) {
  // Names: a prefix/name split at 255 bytes, exactly 100 bytes, nested; sizes on and off the
  // 512-byte blocks, zero bytes included.
  const std::string longest = std::string(154, 'p') + "/" + std::string(96, 'n') + ".jpg";
  ASSERT_EQ(longest.size(), 255u);
  const std::vector<std::pair<std::string, size_t>> members = {
      {"s/0.jpg", 0},       {"s/0.cls", 1},   {"s/1.jpg", 511},
      {"s/1.cls", 512},     {"s/2.jpg", 513}, {"s/2.cls", 1024},
      {"s/3.jpg", 1025},    {longest, 3},     {std::string(100, 'e'), 0},
      {"a/b/c/d.e.f", 4097}};
  TempDir dir;
  const std::string path = dir / "out/shard.tar";  // the folder is made
  jobs::TarWriter writer(path);
  for (size_t i = 0; i < members.size(); ++i)
    writer.add(members[i].first, member_bytes(i, members[i].second));
  EXPECT_EQ(writer.bytes_written() % 512, 0u);
  EXPECT_FALSE(fs::exists(path)) << "the final name appears only on close()";
  EXPECT_TRUE(fs::exists(writer.temporary_path()));
  writer.close();
  EXPECT_FALSE(fs::exists(writer.temporary_path()));
  EXPECT_EQ(fs::file_size(path), writer.bytes_written());
  EXPECT_EQ(writer.bytes_written() % 10240, 0u);

  const TarShard shard(path);
  ASSERT_EQ(shard.members().size(), members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const TarMember& m = shard.members()[i];
    EXPECT_EQ(m.name, members[i].first);
    EXPECT_EQ(m.size, members[i].second);
    EXPECT_EQ(m.type, '0');
    const auto data = shard.data(m);
    EXPECT_EQ(Bytes(data.begin(), data.end()), member_bytes(i, members[i].second)) << m.name;
  }
  // Samples: s/0..s/3 (jpg, cls; s/3 only jpg), then the long name and "a/b/c/d" ("e.f");
  // "eee...e" has no extension and is not a sample.
  ASSERT_EQ(shard.samples().size(), 6u);
  EXPECT_EQ(shard.samples()[0].key, "s/0");
  EXPECT_EQ(shard.samples()[3].fields.size(), 1u);
  EXPECT_EQ(shard.samples()[4].key, std::string(154, 'p') + "/" + std::string(96, 'n'));
  ASSERT_EQ(shard.samples()[4].fields.size(), 1u);
  EXPECT_EQ(shard.samples()[4].fields[0].extension, "jpg");
  EXPECT_EQ(shard.samples()[4].fields[0].member, 7u);
  EXPECT_EQ(shard.samples()[5].key, "a/b/c/d");
  ASSERT_NE(shard.samples()[5].find("e.f"), nullptr);
  EXPECT_EQ(shard.data(*shard.samples()[5].find("e.f")).size(), 4097u);
}

TEST(TarWriter, SameMembersSameBytes) {
  TempDir dir;
  for (const char* name : {"a.tar", "b.tar"}) {
    jobs::TarWriter writer(dir / name);
    writer.add("k/1.jpg", member_bytes(1, 700));
    writer.add("k/1.json", text("{}"));
    writer.close();
  }
  EXPECT_EQ(read_bytes(dir / "a.tar"), read_bytes(dir / "b.tar"));
}

TEST(TarWriter, DestroyedWithoutCloseLeavesNothing) {
  TempDir dir;
  std::string tmp;
  {
    jobs::TarWriter writer(dir / "shard.tar");
    writer.add("x.jpg", member_bytes(0, 100));
    tmp = writer.temporary_path();
    // The infix jobs::remove_temporaries sweeps after a killed job.
    EXPECT_EQ(tmp.rfind(dir / "shard.tar.gpuaug-tmp-", 0), 0u) << tmp;
    EXPECT_TRUE(fs::exists(tmp));
  }
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_FALSE(fs::exists(dir / "shard.tar"));
  EXPECT_TRUE(fs::is_empty(dir.root()));
}

TEST(TarWriter, KilledJobTemporaryIsSwept) {
  TempDir dir;
  jobs::TarWriter writer(dir / "shard.tar");
  writer.add("x.jpg", member_bytes(0, 10));
  EXPECT_EQ(jobs::remove_temporaries(dir.root().string()), 1u);
  EXPECT_FALSE(fs::exists(writer.temporary_path()));
}

TEST(TarWriter, RefusesNamesItCannotWriteSafely) {
  TempDir dir;
  const std::string path = dir / "shard.tar";
  jobs::TarWriter writer(path);
  struct Case {
    std::string name, cause;
  };
  const std::string no_split = std::string(101, 'a');
  // tarfile's limit: 155 bytes of prefix, '/', 100 of name (256 in all; the prefix field then
  // has no NUL, as tarfile writes it).
  const std::string longest = std::string(155, 'p') + "/" + std::string(100, 'n');
  const std::string too_long = longest + "n";
  const std::string prefix_too_long = std::string(156, 'p') + "/x";
  for (const Case& c :
       std::vector<Case>{{"../../x", "member '../../x' escapes the archive (a '..' component)"},
                         {"a/../b", "escapes the archive"},
                         {"/etc/x", "member '/etc/x' has an absolute name"},
                         {"", "has an empty name"},
                         {std::string("a\0b", 3), "member 'a\\x00b' has a NUL byte in its name"},
                         {no_split, "is 101 bytes and cannot be split"},
                         {too_long, "is 257 bytes and cannot be split"},
                         {prefix_too_long, "cannot be split"}}) {
    SCOPED_TRACE(c.name);
    const Error e = expect_error([&] { writer.add(c.name, text("x")); });
    EXPECT_EQ(e.file(),
              path + "#" + printable_name(c.name).substr(1, printable_name(c.name).size() - 2));
    EXPECT_EQ(e.stage(), "tar");
    EXPECT_NE(e.cause().find(c.cause), std::string::npos) << e.cause();
  }
  // Refused names write nothing: the shard holds only the one name that fits.
  writer.add(longest, text("x"));
  writer.close();
  EXPECT_EQ(fs::file_size(path), 10240u);
  const Error after = expect_error([&] { writer.add("y.jpg", text("y")); });
  EXPECT_EQ(after.file(), path);
  EXPECT_EQ(after.stage(), "write");
  const TarShard shard(path);
  ASSERT_EQ(shard.members().size(), 1u);
  EXPECT_EQ(shard.members()[0].name, longest);
}

TEST(TarWriter, UnwritableFolderNamesThePath) {
  if (::geteuid() == 0) GTEST_SKIP() << "file modes do not bind root";
  TempDir dir;
  fs::create_directories(dir.root() / "ro");
  fs::permissions(dir.root() / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  const std::string path = dir / "ro/shard.tar";
  const Error e = expect_error([&] { jobs::TarWriter writer(path); });
  EXPECT_EQ(e.file(), path);
  EXPECT_EQ(e.stage(), "write");
  EXPECT_NE(e.cause().find("Permission denied"), std::string::npos) << e.cause();
  fs::permissions(dir.root() / "ro", fs::perms::owner_all);
}

// --- reading: what is skipped, accepted and grouped --------------------------------------------

TEST(TarReader, SkipsFoldersAndMetadataHeaders) {
  Archive a;
  a.header({"dir/", 0, '5'})
      .header({"old-style-dir/", 0, '\0'})
      .header({"./", 0, '5'})
      .header({"\xff\x01global", 12, 'g'})
      .data(text("10 a=bcde\n\0\0"))
      .header({"vol", 0, 'V'})
      .file("dir/a.jpg", text("A"))
      .file("dir/b.jpg", text("BB"), '\0')  // pre-POSIX regular file
      .file("dir/c.jpg", text("CCC"), '7')  // contiguous file: a regular file
      .end();
  const auto members = list_tar(a.bytes, "t.tar");
  EXPECT_EQ(names_and_sizes(members), (std::vector<std::pair<std::string, uint64_t>>{
                                          {"dir/a.jpg", 1}, {"dir/b.jpg", 2}, {"dir/c.jpg", 3}}));
  EXPECT_EQ(members[1].type, '\0');
  EXPECT_EQ(members[2].type, '7');
}

TEST(TarReader, PaxAndGnuLongNamesApplyToTheNextMemberOnly) {
  const std::string long_name = std::string(300, 'q') + ".jpg";
  Archive a;
  a.pax({"mtime=1.5", "path=" + long_name, "size=3"})
      .header({"truncated-name", 0, '0'})  // pax size overrides the 0 here
      .data(text("abc"))
      .file("plain.jpg", text("p"))
      .header({"././@LongLink", long_name.size() + 1, 'L'})
      .data(text(long_name + std::string(1, '\0')))
      .file("cut-name.jpg", text("z"))
      .end();
  EXPECT_EQ(names_and_sizes(list_tar(a.bytes, "t.tar")),
            (std::vector<std::pair<std::string, uint64_t>>{
                {long_name, 3}, {"plain.jpg", 1}, {long_name, 1}}));
}

TEST(TarReader, GnuHeadersAndBase256Sizes) {
  // GNU magic: no prefix field (GNU keeps times there); a base-256 size field (0x80 first).
  Header h{"gnu.jpg", 0, '0', "ignored-prefix", std::string("ustar  \0", 8)};
  auto block = header_block(h);
  std::memset(block.data() + 124, 0, 12);
  block[124] = 0x80;
  block[135] = 5;
  set_checksum(block);
  Archive a;
  a.raw(block).data(text("12345")).end();
  EXPECT_EQ(names_and_sizes(list_tar(a.bytes, "t.tar")),
            (std::vector<std::pair<std::string, uint64_t>>{{"gnu.jpg", 5}}));
  // A POSIX header uses its prefix.
  Archive b;
  b.header({"n.jpg", 1, '0', "pre/fix"}).data(text("1")).end();
  EXPECT_EQ(list_tar(b.bytes, "t.tar")[0].name, "pre/fix/n.jpg");
}

TEST(TarReader, SignedChecksumsAndBlankPaddedFieldsAreRead) {
  // Old tars summed signed chars and padded numbers with spaces.
  Archive a;
  auto block = header_block({"\xe9t\xe9.jpg", 2, '0'});
  put(block, 124, std::string("         2 ", 11));
  std::memset(block.data() + 148, ' ', 8);
  int sum = 0;
  for (uint8_t b : block) sum += static_cast<int8_t>(b);
  char field[8];
  std::snprintf(field, sizeof field, "%06o", sum);
  std::memcpy(block.data() + 148, field, 7);
  a.raw(block).data(text("ok")).end();
  EXPECT_EQ(names_and_sizes(list_tar(a.bytes, "t.tar")),
            (std::vector<std::pair<std::string, uint64_t>>{{"\xe9t\xe9.jpg", 2}}));
}

TEST(TarReader, EndOfArchive) {
  Archive a;
  a.file("a.jpg", text("aaa")).file("b.jpg", text("b"));
  const Bytes no_end = a.bytes;
  // No end blocks at all, and no padding after the last data byte: read as tar readers do.
  EXPECT_EQ(list_tar(no_end, "t.tar").size(), 2u);
  EXPECT_EQ(list_tar(Bytes(no_end.begin(), no_end.end() - 511), "t.tar").size(), 2u);
  // One zero block ends the archive (GNU tar warns "A lone zero block"; tarfile stops too):
  // what follows is not read.
  Archive lone = a;
  lone.bytes.resize(lone.bytes.size() + 512, 0);
  lone.file("c.jpg", text("c"));
  EXPECT_EQ(list_tar(lone.bytes, "t.tar").size(), 2u);
}

TEST(TarReader, GroupsSamplesWebDatasetStyle) {
  std::vector<TarMember> members;
  for (const char* name : {"d/abc.jpg", "d/abc.cls", "d/abc.seg.png", "__index__", "README",
                           "d/.hidden", "d.v1/xyz.jpg", "d.v1/xyz.json", "top.txt", "dir/"}) {
    members.push_back({name, 0, 0, 0, '0'});
  }
  const auto samples = group_samples(members, "t.tar");
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].key, "d/abc");
  ASSERT_EQ(samples[0].fields.size(), 3u);
  EXPECT_EQ(samples[0].fields[2].extension, "seg.png");
  EXPECT_EQ(samples[0].fields[2].member, 2u);
  EXPECT_EQ(samples[0].find("cls")->member, 1u);
  EXPECT_EQ(samples[0].find("png"), nullptr);
  EXPECT_EQ(samples[1].key, "d.v1/xyz");  // a '.' in a folder name is not the extension's
  EXPECT_EQ(samples[1].fields.size(), 2u);
  EXPECT_EQ(samples[2].key, "top");
}

TEST(TarReader, GroupingRefusesRepeatedAndSplitSamples) {
  std::vector<TarMember> twice = {{"a.jpg", 0, 0, 0, '0'}, {"a.jpg", 0, 0, 0, '0'}};
  Error e = expect_error([&] { group_samples(twice, "t.tar"); });
  EXPECT_EQ(e.file(), "t.tar#a.jpg");
  EXPECT_EQ(e.stage(), "tar");
  EXPECT_EQ(e.cause(), "sample 'a' has two 'jpg' members");
  std::vector<TarMember> split = {
      {"a.jpg", 0, 0, 0, '0'}, {"b.jpg", 0, 0, 0, '0'}, {"a.cls", 0, 0, 0, '0'}};
  e = expect_error([&] { group_samples(split, "t.tar"); });
  EXPECT_EQ(e.file(), "t.tar#a.cls");
  EXPECT_NE(e.cause().find("sample 'a' is split: member 'a.cls' comes after"), std::string::npos)
      << e.cause();
}

// --- refusals ---------------------------------------------------------------------------------

TEST(TarReader, RefusesNamesThatEscape) {
  for (const char* name : {"../../x", "..", "a/../../x", "a/..", "./../x"}) {
    SCOPED_TRACE(name);
    Archive a;
    a.file("ok.jpg", text("ok")).file(name, text("x")).end();
    expect_refused(a.bytes, std::string("shard.tar#") + name,
                   std::string("member '") + name + "' escapes the archive (a '..' component)");
  }
  Archive absolute;
  absolute.file("/etc/passwd", text("x")).end();
  expect_refused(absolute.bytes, "shard.tar#/etc/passwd",
                 "member '/etc/passwd' has an absolute name");
  // Names that only look like '..' are fine.
  Archive fine;
  fine.file("a..b/..c.jpg", text("x")).file("...", text("y")).end();
  EXPECT_EQ(list_tar(fine.bytes, "shard.tar").size(), 2u);
  // A folder escaping is refused too (nothing unsafe is skipped quietly).
  Archive dir;
  dir.header({"../", 0, '5'}).end();
  expect_refused(dir.bytes, "shard.tar#../", "escapes the archive");
}

TEST(TarReader, RefusesEscapesThroughLongNames) {
  Archive pax;
  pax.pax({"path=../../evil.jpg"}).file("harmless.jpg", text("x")).end();
  expect_refused(pax.bytes, "shard.tar#../../evil.jpg", "member '../../evil.jpg' escapes");
  Archive gnu;
  gnu.header({"././@LongLink", 8, 'L'})
      .data(text("/abs/x\0\0"))
      .file("harmless.jpg", text("x"))
      .end();
  expect_refused(gnu.bytes, "shard.tar#/abs/x", "member '/abs/x' has an absolute name");
  Archive nul;
  nul.pax({std::string("path=a\0b.jpg", 12)}).file("harmless.jpg", text("x")).end();
  expect_refused(nul.bytes, "shard.tar#a\\x00b.jpg", "member 'a\\x00b.jpg' has a NUL byte");
  Archive control;
  control.pax({"path=\x1b[31mred.jpg"}).file("h.jpg", text("x")).file("../x", text("x")).end();
  // Control bytes are escaped in messages; here the first member is fine, the second is not.
  expect_refused(control.bytes, "shard.tar#../x", "escapes");
}

TEST(TarReader, RefusesLinksDevicesAndUnknownTypes) {
  const std::vector<std::pair<char, std::string>> cases = {
      {'1', "member 'l' is a hard link (only regular files are read)"},
      {'2', "member 'l' is a symbolic link (only regular files are read)"},
      {'3', "member 'l' is a character device"},
      {'4', "member 'l' is a block device"},
      {'6', "member 'l' is a FIFO"},
      {'S', "member 'l' has unsupported type 'S'"},
      {'\x01', "member 'l' has unsupported type '\\x01'"}};
  for (const auto& [type, cause] : cases) {
    SCOPED_TRACE(cause);
    Archive a;
    a.file("ok.jpg", text("x")).header({"l", 0, type}).end();
    expect_refused(a.bytes, "shard.tar#l", cause);
  }
}

TEST(TarReader, RefusesDamagedHeaders) {
  Archive good;
  good.file("a.jpg", text("aaaa")).file("b.jpg", text("bb")).end();
  Bytes flipped = good.bytes;
  flipped[1024 + 3] ^= 0x20;  // a byte of the second header's name
  expect_refused(flipped, "shard.tar",
                 "header checksum mismatch at offset 1024 (not a tar archive, or a damaged one)");
  Bytes blank = good.bytes;
  std::memset(blank.data() + 148, ' ', 8);
  expect_refused(blank, "shard.tar", "header checksum mismatch at offset 0");
  expect_refused(text(std::string(2048, 'A')), "shard.tar", "header checksum mismatch at offset 0");
  expect_refused({}, "shard.tar", "empty file (not a tar archive)");

  Archive size;
  auto block = header_block({"s.jpg", 0, '0'});
  put(block, 124, "0000000009x\0");
  set_checksum(block);
  size.raw(block).end();
  expect_refused(size.bytes, "shard.tar",
                 "the size field of the header at offset 0 is not a number");
  Archive negative;
  block = header_block({"s.jpg", 0, '0'});
  std::memset(block.data() + 124, 0xFF, 12);
  set_checksum(block);
  negative.raw(block).end();
  expect_refused(negative.bytes, "shard.tar", "is not a number");

  for (const std::string& body :
       {std::string("5 a=b\n"), std::string("99 path=x\n"), std::string("x path=y\n"),
        std::string("10 pathxyz\n"), std::string("11 size=1a\n"), std::string("0 \n")}) {
    SCOPED_TRACE(body);
    Archive pax;
    pax.header({"././@PaxHeader", body.size(), 'x'})
        .data(text(body))
        .file("a.jpg", text("a"))
        .end();
    expect_refused(pax.bytes, "shard.tar", "malformed pax header at offset 0");
  }
}

TEST(TarReader, RefusesTruncatedMembersAndHeaders) {
  Archive a;
  a.file("a.jpg", text("x")).header({"big.jpg", 5000, '0'});
  a.bytes.insert(a.bytes.end(), 120, 7);
  expect_refused(a.bytes, "shard.tar#big.jpg",
                 "truncated: member 'big.jpg' claims 5000 bytes, 120 remain");
  Archive b;
  b.file("a.jpg", text("x"));
  b.bytes.resize(b.bytes.size() + 300, 0);
  expect_refused(b.bytes, "shard.tar",
                 "truncated: a partial header block at offset 1024 (300 bytes of 512)");
  Archive c;
  c.header({"././@LongLink", 4000, 'L'}).data(text("name"));
  expect_refused(c.bytes, "shard.tar",
                 "truncated: the 'L' header at offset 0 claims 4000 bytes, 512 remain");
}

TEST(TarReader, EveryTruncationListsAPrefixOrFails) {
  // Cut a small archive (pax name, sizes 5, 600 and 0, the end blocks) at every offset: never a
  // crash; either the members listed are a prefix of the whole listing, or a gpuaug::Error
  // naming the shard with stage "tar".
  Archive a;
  a.file("a/0.jpg", member_bytes(0, 5))
      .pax({"path=" + std::string(150, 'p') + ".cls"})
      .header({"short", 600, '0'})
      .data(member_bytes(1, 600))
      .file("a/2.jpg", {})
      .end(10240);
  const auto whole = names_and_sizes(list_tar(a.bytes, "t.tar"));
  ASSERT_EQ(whole.size(), 3u);
  size_t listed = 0, refused = 0;
  for (size_t n = 0; n < a.bytes.size(); ++n) {
    const Bytes cut(a.bytes.begin(), a.bytes.begin() + long(n));
    try {
      const auto got = names_and_sizes(list_tar(cut, "t.tar"));
      ASSERT_LE(got.size(), whole.size()) << n;
      EXPECT_TRUE(std::equal(got.begin(), got.end(), whole.begin())) << n;
      ++listed;
    } catch (const Error& e) {
      EXPECT_EQ(e.stage(), "tar") << n;
      EXPECT_EQ(e.file().rfind("t.tar", 0), 0u) << n;
      ++refused;
    }
  }
  EXPECT_GT(listed, 0u);
  EXPECT_GT(refused, 0u);
}

// --- shard files ------------------------------------------------------------------------------

TEST(TarShard, FileErrorsNameThePath) {
  TempDir dir;
  Error e = expect_error([&] { TarShard shard(dir / "missing.tar"); });
  EXPECT_EQ(e.file(), dir / "missing.tar");
  EXPECT_EQ(e.stage(), "read");
  EXPECT_EQ(e.cause(), "No such file or directory");
  e = expect_error([&] { TarShard shard(dir.root().string()); });
  EXPECT_EQ(e.cause(), "Is a directory");
  ASSERT_EQ(::mkfifo((dir / "fifo.tar").c_str(), 0600), 0);
  e = expect_error([&] { TarShard shard(dir / "fifo.tar"); });
  EXPECT_EQ(e.cause(), "not a regular file (a FIFO)");
  std::ofstream(dir / "empty.tar").close();
  e = expect_error([&] { TarShard shard(dir / "empty.tar"); });
  EXPECT_EQ(e.file(), dir / "empty.tar");
  EXPECT_EQ(e.stage(), "tar");
  EXPECT_EQ(e.cause(), "empty file (not a tar archive)");
}

// --- the bad-input corpus's tar case ----------------------------------------------------------

TEST(TarBadInputs, EscapingMemberFromTheCorpus) {
  // tests/data/make_bad_inputs.py writes tar/escape.tar with tarfile (ustar, defaults, padded
  // to 10240): "ok.jpg" then "../../x". No CLI command reads shards yet, so the
  // Python suite (test_bad_inputs.py) cannot run it through gpuaug: the same bytes are built here
  // and must fail naming the shard and member, stage "tar", and the manifest's cause.
  Archive a;
  a.file("ok.jpg", text("fine\n")).file("../../x", text("escape\n")).end(10240);
  TempDir dir;
  const std::string path = dir / "escape.tar";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(a.bytes.data()), std::streamsize(a.bytes.size()));
  const Error e = expect_error([&] { TarShard shard(path); });
  EXPECT_EQ(e.file(), path + "#../../x");
  EXPECT_EQ(e.stage(), "tar");
  EXPECT_EQ(e.cause(), "member '../../x' escapes the archive (a '..' component)");
  EXPECT_EQ(std::string(e.what()),
            path + "#../../x: tar: member '../../x' escapes the archive (a '..' component)");
}

}  // namespace
}  // namespace gpuaug::data
