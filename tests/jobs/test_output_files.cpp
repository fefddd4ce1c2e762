// Output files: names mirroring the input tree (copies, crops, folders, extensions), atomic
// whole-file writes that leave no temporary files, and .npy headers numpy can read (v1.0).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../common/references.h"
#include "../common/temp_dir.h"
#include "codec/decoder.h"
#include "jobs/output_files.h"

namespace gpuaug::jobs {
namespace {

namespace fs = std::filesystem;
using gpuaug_test::expect_error;

struct TempDir : gpuaug_test::TempDir {
  TempDir() : gpuaug_test::TempDir("jobs") {}
};

std::vector<std::string> listing(const fs::path& root) {
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    names.push_back(fs::relative(entry.path(), root).generic_string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(OutputPath, Naming) {
  const SampleId plain{3, 0, 0};
  EXPECT_EQ(output_path("out", "cat.jpg", plain, false, false, "png"), "out/cat.png");
  EXPECT_EQ(output_path("out", "a/b/cat.jpg", plain, false, false, "npy"), "out/a/b/cat.npy");
  EXPECT_EQ(output_path("out/", "a/cat.JPEG", plain, false, false, "jpg"), "out/a/cat.jpg");
  // Numbered copies and crops (crop ids are 1-based inside, 0-based in names).
  EXPECT_EQ(output_path("out", "a/cat.jpg", SampleId{3, 2, 0}, true, false, "png"), "out/a/cat-2.png");
  EXPECT_EQ(output_path("out", "a/cat.jpg", SampleId{3, 0, 0}, true, false, "png"), "out/a/cat-0.png");
  EXPECT_EQ(output_path("out", "a/cat.jpg", SampleId{3, 1, 4}, true, true, "png"), "out/a/cat-1-c3.png");
  EXPECT_EQ(output_path("out", "a/cat.jpg", SampleId{3, 0, 1}, false, true, "jpg"), "out/a/cat-c0.jpg");
  // Only the last extension goes; dots in folders stay.
  EXPECT_EQ(output_path("out", "v1.2/cat.tar.png", plain, false, false, "png"), "out/v1.2/cat.tar.png");
  EXPECT_EQ(output_path("out", "notes/README", plain, false, false, "npy"), "out/notes/README.npy");
  EXPECT_EQ(output_path("/data/aug", "x/y/z.png", plain, false, false, "png"), "/data/aug/x/y/z.png");
}

// File lists may hold absolute paths (data/source.h: `relative` is the path as written); the
// output must still land inside the output folder, never on the input itself: the root is
// dropped and ".." becomes "__" (output_files.h).
TEST(OutputPath, AbsoluteOrParentRelativeInputsStayInsideTheOutputFolder) {
  const SampleId id{0, 0, 0};
  EXPECT_EQ(output_path("out", "/data/img/a.png", id, false, false, "png"), "out/data/img/a.png");
  EXPECT_EQ(output_path("out", "../x.png", id, false, false, "png"), "out/__/x.png");
  EXPECT_EQ(output_path("out", "a/../../b/./c.jpg", id, false, false, "npy"), "out/a/__/__/b/c.npy");
  EXPECT_EQ(output_path("out", "./c.jpg", id, true, false, "png"), "out/c-0.png");
  EXPECT_EQ(output_stem("/data/img/a.png"), "data/img/a");
}

// Two inputs that differ only by extension keep it in the name, so they do not collide.
TEST(OutputPath, KeepExtension) {
  const SampleId id{0, 1, 2};
  EXPECT_EQ(output_path("out", "a/x.jpg", id, true, true, "png", true), "out/a/x_jpg-1-c1.png");
  EXPECT_EQ(output_path("out", "a/x.png", id, false, false, "png", true), "out/a/x_png.png");
  EXPECT_EQ(output_path("out", "a/README", id, false, false, "npy", true), "out/a/README.npy");
}

TEST(WriteFileAtomic, CreatesFoldersAndLeavesNoTemporaries) {
  TempDir dir;
  const fs::path target = dir.root() / "a" / "b" / "out.bin";
  const std::string first(100000, 'x');
  write_file_atomic(target.string(), as_bytes(first));
  EXPECT_EQ(read_text(target), first);
  // A shorter file replaces the longer one whole.
  write_file_atomic(target.string(), as_bytes("short"));
  EXPECT_EQ(read_text(target), "short");
  write_file_atomic(target.string(), {});
  EXPECT_EQ(fs::file_size(target), 0u);
  EXPECT_EQ(listing(dir.root()), (std::vector<std::string>{"a", "a/b", "a/b/out.bin"}));
}

TEST(WriteFileAtomic, ManyWritersOneFolder) {
  TempDir dir;
  for (int i = 0; i < 20; ++i) {
    const std::string text = "file " + std::to_string(i);
    write_file_atomic((dir.root() / ("f" + std::to_string(i % 5) + ".txt")).string(), as_bytes(text));
  }
  EXPECT_EQ(listing(dir.root()), (std::vector<std::string>{"f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt"}));
  EXPECT_EQ(read_text(dir.root() / "f4.txt"), "file 19");
}

TEST(WriteFileAtomic, ErrorsNameThePathAndStage) {
  TempDir dir;
  const fs::path blocker = dir.root() / "file";
  write_file_atomic(blocker.string(), as_bytes("x"));
  const std::string path = (blocker / "inside.png").string();  // a folder where a file is
  const Error e = expect_error([&] { write_file_atomic(path, as_bytes("y")); });
  EXPECT_EQ(e.file(), path);
  EXPECT_EQ(e.stage(), "write");
  EXPECT_EQ(listing(dir.root()), (std::vector<std::string>{"file"}));
  EXPECT_EQ(read_text(blocker), "x");
}

// A process that dies mid-write (kill -9, an abort) leaves nothing where the filesystem names
// the file only at commit (O_TMPFILE, as the test folder's ext4 or tmpfs); a destroyed
// uncommitted file leaves nothing anywhere; pieces at any offset make the whole file.
TEST(AtomicFile, DeathMidWriteAndUncommittedLeaveNothing) {
  TempDir dir;
  const fs::path target = dir.root() / "big.npy";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    AtomicFile file(target.string());
    file.append(as_bytes(std::string(100000, 'x')));
    ::_exit(0);  // no destructor, no commit: as a kill -9
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(listing(dir.root()), std::vector<std::string>{});
  {
    AtomicFile file(target.string());
    file.append(as_bytes("abc"));
  }
  EXPECT_EQ(listing(dir.root()), std::vector<std::string>{});
  AtomicFile file(target.string());
  file.write_at(4, as_bytes("efg"));
  file.write_at(0, as_bytes("abcd"));
  EXPECT_FALSE(fs::exists(target));
  file.commit();
  EXPECT_EQ(read_text(target), "abcdefg");
  EXPECT_EQ(listing(dir.root()), std::vector<std::string>{"big.npy"});
}

TEST(WriteFileAtomic, TargetIsAFolder) {
  TempDir dir;
  fs::create_directories(dir.root() / "taken");
  const std::string path = (dir.root() / "taken").string();
  const Error e = expect_error([&] { write_file_atomic(path, as_bytes("z")); });
  EXPECT_EQ(e.file(), path);
  EXPECT_EQ(e.stage(), "write");
  EXPECT_EQ(listing(dir.root()), (std::vector<std::string>{"taken"}));  // no temporary left
}

struct Npy {
  std::string magic;
  int major = 0, minor = 0;
  size_t header_len = 0;
  std::string header;
  std::vector<uint8_t> data;
};

Npy parse_npy(const std::vector<uint8_t>& bytes) {
  Npy npy;
  EXPECT_GE(bytes.size(), 10u);
  npy.magic.assign(bytes.begin(), bytes.begin() + 6);
  npy.major = bytes[6];
  npy.minor = bytes[7];
  npy.header_len = size_t(bytes[8]) | (size_t(bytes[9]) << 8);  // little-endian uint16
  npy.header.assign(bytes.begin() + 10, bytes.begin() + 10 + npy.header_len);
  npy.data.assign(bytes.begin() + 10 + npy.header_len, bytes.end());
  return npy;
}

struct NpyCase {
  DType dtype;
  Layout layout;
  int h, w, c;
  const char* descr;
  const char* shape;
};

class EncodeNpy : public ::testing::TestWithParam<NpyCase> {};

TEST_P(EncodeNpy, HeaderIsNumpyV1) {
  const NpyCase& p = GetParam();
  Tensor t(p.dtype, p.layout, p.h, p.w, p.c);
  for (size_t i = 0; i < t.data.size(); ++i) t.data.data()[i] = std::byte(i * 37 + 11);
  const std::vector<uint8_t> bytes = encode_npy(t);
  const Npy npy = parse_npy(bytes);
  EXPECT_EQ(npy.magic, "\x93NUMPY");
  EXPECT_EQ(npy.major, 1);
  EXPECT_EQ(npy.minor, 0);
  EXPECT_EQ((10 + npy.header_len) % 64, 0u) << "data must start 64-byte aligned";
  ASSERT_FALSE(npy.header.empty());
  EXPECT_EQ(npy.header.back(), '\n');
  const std::string dict = std::string("{'descr': '") + p.descr + "', 'fortran_order': False, 'shape': " + p.shape + ", }";
  EXPECT_EQ(npy.header.substr(0, dict.size()), dict);
  EXPECT_EQ(npy.header.find_first_not_of(' ', dict.size()), npy.header.size() - 1) << "padding is spaces";
  ASSERT_EQ(npy.data.size(), t.data.size());
  EXPECT_EQ(std::memcmp(npy.data.data(), t.data.data(), t.data.size()), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Tensors, EncodeNpy,
    ::testing::Values(NpyCase{DType::kUInt8, Layout::kHWC, 19, 17, 3, "|u1", "(19, 17, 3)"},
                      NpyCase{DType::kUInt8, Layout::kCHW, 19, 17, 3, "|u1", "(3, 19, 17)"},
                      NpyCase{DType::kFloat32, Layout::kCHW, 1, 1, 1, "<f4", "(1, 1, 1)"},
                      NpyCase{DType::kFloat16, Layout::kHWC, 5, 3, 1, "<f2", "(5, 3, 1)"},
                      NpyCase{DType::kBFloat16, Layout::kCHW, 2, 7, 3, "<u2", "(3, 2, 7)"},
                      NpyCase{DType::kFloat32, Layout::kHWC, 1000, 1000, 3, "<f4", "(1000, 1000, 3)"}));

TEST(EncodeOutput, FormatsAndUnknownFormat) {
  pipeline::AugmentedSample sample;
  sample.tensor = Tensor(DType::kUInt8, Layout::kCHW, 3, 5, 3);
  for (size_t i = 0; i < sample.tensor.data.size(); ++i) sample.tensor.data.data()[i] = std::byte(i * 7);
  const auto png = encode_output(sample, "png", 90);
  const Image decoded = codec::decode_image(png, {}).image;
  ASSERT_EQ(decoded.width, 5);
  ASSERT_EQ(decoded.height, 3);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 5; ++x)
        EXPECT_EQ(decoded.row(y)[x * 3 + c], uint8_t(((c * 3 + y) * 5 + x) * 7));  // CHW source
  EXPECT_EQ(encode_output(sample, "npy", 90), encode_npy(sample.tensor));
  EXPECT_EQ(codec::decode_image(encode_output(sample, "jpg", 90), {}).image.width, 5);
  const Error e = expect_error([&] { encode_output(sample, "bmp", 90); });
  EXPECT_EQ(e.stage(), "write");
  EXPECT_NE(std::string(e.what()).find("unknown output format 'bmp'"), std::string::npos);
}

}  // namespace
}  // namespace gpuaug::jobs
