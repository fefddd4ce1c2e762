// Tests for folder scanning, file lists and open_source, on trees the tests build and remove.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "data/source.h"

namespace gpuaug::data {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp folder, named after the test, removed at the end.
class TempTree {
 public:
  TempTree() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("gpuaug_data_") + info->test_suite_name() + "_" + info->name() +
                       "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    for (char& c : name) {
      if (c == '/') c = '_';  // parametrised test names hold '/'
    }
    root_ = fs::temp_directory_path() / name;
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const fs::path& root() const { return root_; }
  std::string str() const { return root_.string(); }

  // Writes a small file (parents made as needed); content does not matter to the source layer.
  fs::path file(const std::string& relative, const std::string& content = "x") const {
    const fs::path path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  fs::path dir(const std::string& relative) const {
    fs::create_directories(root_ / relative);
    return root_ / relative;
  }

 private:
  fs::path root_;
};

using Listing = std::vector<std::pair<std::string, int64_t>>;

Listing listing(const Source& source) {
  Listing out;
  for (const SampleRef& s : source.samples) out.emplace_back(s.relative, s.label);
  return out;
}

// Runs f, expects a gpuaug::Error, and checks its three parts and the message built from them.
template <typename F>
void expect_error(F&& f, const std::string& file, const std::string& stage,
                  const std::string& cause) {
  try {
    f();
    ADD_FAILURE() << "no error; expected '" << cause << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.stage(), stage);
    EXPECT_EQ(e.cause(), cause);
    EXPECT_EQ(std::string(e.what()), file + ": " + stage + ": " + cause);
  }
}

TEST(IsImageName, ExtensionsCaseInsensitive) {
  for (const char* name :
       {"a.jpg", "a.jpeg", "a.png", "A.JPG", "b.Jpeg", "c.PnG", "x/y.jpg", "a.b.png"}) {
    EXPECT_TRUE(is_image_name(name)) << name;
  }
  for (const char* name :
       {"", "jpg", ".jpg", "x/.png", "a.gif", "a.jpg.txt", "a.jp", "a_png", "a.pngx"}) {
    EXPECT_FALSE(is_image_name(name)) << name;
  }
}

TEST(ScanFolder, LabelsFromSortedSubfoldersNestedAndRoot) {
  TempTree t;
  t.file("dog/d1.jpg");
  t.file("cat/c1.png");
  t.file("cat/sub/deep/c2.jpeg");  // nested images keep their class
  t.file("ant/a1.jpg");
  t.dir("bird/empty");       // no images anywhere below: not a class
  t.file("fish/readme.md");  // only non-images: not a class
  t.file("top.jpg");         // directly under the root: no label
  t.file("notes.txt");
  const Source source = scan_folder(t.str());
  EXPECT_EQ(source.root, t.str());
  EXPECT_EQ(source.classes, (std::vector<std::string>{"ant", "cat", "dog"}));
  EXPECT_EQ(listing(source), (Listing{{"ant/a1.jpg", 0},
                                      {"cat/c1.png", 1},
                                      {"cat/sub/deep/c2.jpeg", 1},
                                      {"dog/d1.jpg", 2},
                                      {"top.jpg", -1}}));
  for (const SampleRef& s : source.samples) {
    EXPECT_EQ(s.path, (t.root() / s.relative).string());
    EXPECT_TRUE(fs::exists(s.path)) << s.path;
  }
}

TEST(ScanFolder, SkipsImageNamedFoldersHiddenEntriesAndOtherExtensions) {
  TempTree t;
  t.file("cat/x.jpg/inner.png");  // a folder named like an image, and its contents
  t.file("y.png/z.jpg");          // the same at the root: not a class either
  t.file("cat/.hidden.jpg");
  t.file(".secret/s.jpg");      // hidden folder at the root: not a class
  t.file("cat/.thumbs/t.jpg");  // hidden folder inside a class
  t.file("cat/UPPER.JPG");
  t.file("cat/mixed.JpEg");
  t.file("cat/shout.PNG");
  t.file("cat/anim.gif");
  t.file("cat/photo.jpg.bak");
  const Source source = scan_folder(t.str());
  EXPECT_EQ(source.classes, (std::vector<std::string>{"cat"}));
  EXPECT_EQ(listing(source),
            (Listing{{"cat/UPPER.JPG", 0}, {"cat/mixed.JpEg", 0}, {"cat/shout.PNG", 0}}));
}

TEST(ScanFolder, ListsBrokenSymlinksAndSkipsNonRegularFiles) {
  TempTree t;
  t.file("cat/real.jpg");
  fs::create_symlink(t.root() / "cat/real.jpg", t.root() / "cat/link.jpg");
  fs::create_symlink(t.root() / "nowhere/missing.jpg", t.root() / "cat/broken.jpg");
  ASSERT_EQ(::mkfifo((t.root() / "cat/pipe.jpg").c_str(), 0600), 0);
  const Source source = scan_folder(t.str());
  EXPECT_EQ(listing(source),
            (Listing{{"cat/broken.jpg", 0}, {"cat/link.jpg", 0}, {"cat/real.jpg", 0}}));
  EXPECT_FALSE(fs::exists(source.samples[0].path));  // left for the reader to name in its error
}

TEST(ScanFolder, FollowsFolderSymlinksWithoutLooping) {
  TempTree t;
  t.file("data/cat/c.jpg");
  t.file("elsewhere/photos/p.png");
  fs::create_directory_symlink(t.root() / "elsewhere/photos", t.root() / "data/linked");  // a class
  fs::create_directory_symlink(t.root() / "data", t.root() / "data/cat/up");  // back to the root
  fs::create_directory_symlink(t.root() / "data/cat", t.root() / "data/cat/self");
  fs::create_directory_symlink(t.root() / "elsewhere",
                               t.root() / "data/cat/out.jpg");  // image-named
  // A folder reached by two paths that do not loop is listed under each, as os.walk does.
  fs::create_directory_symlink(t.root() / "elsewhere/photos", t.root() / "data/cat/alias");
  const Source source = scan_folder((t.root() / "data").string());
  EXPECT_EQ(source.classes, (std::vector<std::string>{"cat", "linked"}));
  EXPECT_EQ(listing(source),
            (Listing{{"cat/alias/p.png", 0}, {"cat/c.jpg", 0}, {"linked/p.png", 1}}));
}

TEST(ScanFolder, SortsByRelativePathInByteOrder) {
  TempTree t;
  for (const char* name :
       {"b/2.jpg", "b/10.jpg", "b/B.jpg", "b/a.jpg", "b/a/z.jpg", "b/a-.jpg", "b/\xc3\xa9.jpg"}) {
    t.file(name);
  }
  const Source source = scan_folder(t.str());
  // Byte order: '-' (0x2D) < '.' (0x2E) < '/' (0x2F) < digits < upper < lower < UTF-8 lead bytes.
  EXPECT_EQ(listing(source), (Listing{{"b/10.jpg", 0},
                                      {"b/2.jpg", 0},
                                      {"b/B.jpg", 0},
                                      {"b/a-.jpg", 0},
                                      {"b/a.jpg", 0},
                                      {"b/a/z.jpg", 0},
                                      {"b/\xc3\xa9.jpg", 0}}));
}

TEST(ScanFolder, ClassNamesSortInByteOrder) {
  TempTree t;
  t.file("b/1.jpg");
  t.file("B/1.jpg");
  t.file("a/1.jpg");
  const Source source = scan_folder(t.str());
  EXPECT_EQ(source.classes, (std::vector<std::string>{"B", "a", "b"}));  // as Python's sorted()
  EXPECT_EQ(listing(source), (Listing{{"B/1.jpg", 0}, {"a/1.jpg", 1}, {"b/1.jpg", 2}}));
}

TEST(ScanFolder, Errors) {
  TempTree t;
  const std::string missing = (t.root() / "missing").string();
  expect_error([&] { scan_folder(missing); }, missing, "source", "no such file or directory");
  const std::string file = t.file("a.jpg").string();
  expect_error([&] { scan_folder(file); }, file, "source", "not a folder");
}

TEST(ReadFileList, LabelsCommentsBlankLinesAndSeparators) {
  TempTree t;
  const fs::path list = t.file("lists/train.txt",
                               "# header comment\n"
                               "b.jpg\t3\n"
                               "\n"
                               "   \n"
                               "a.jpg 1\n"
                               "  # indented comment\n"
                               "c.png     12\r\n"
                               "unlabelled.jpg\n"
                               "with space.jpg\t4\n"
                               "more spaces.jpg 5\n"
                               "../up/d.jpeg\t0\n"
                               "/abs/e.jpg 2\n");
  const Source source = read_file_list(list.string());
  EXPECT_EQ(source.root, (t.root() / "lists").string());
  EXPECT_TRUE(source.classes.empty());
  EXPECT_EQ(listing(source), (Listing{{"../up/d.jpeg", 0},
                                      {"/abs/e.jpg", 2},
                                      {"a.jpg", 1},
                                      {"b.jpg", 3},
                                      {"c.png", 12},
                                      {"more spaces.jpg", 5},
                                      {"unlabelled.jpg", -1},
                                      {"with space.jpg", 4}}));
  // Relative paths resolve against the list's folder, not the working directory.
  EXPECT_EQ(source.samples[0].path, (t.root() / "lists" / "../up/d.jpeg").string());
  EXPECT_EQ(source.samples[1].path, "/abs/e.jpg");
  EXPECT_EQ(source.samples[2].path, (t.root() / "lists/a.jpg").string());
}

TEST(ReadFileList, ListInWorkingDirectoryKeepsPathsAsWritten) {
  TempTree t;
  t.file("l.lst", "x/a.png 0\n");
  const fs::path previous = fs::current_path();
  fs::current_path(t.root());
  const Source source = read_file_list("l.lst");
  fs::current_path(previous);
  ASSERT_EQ(source.samples.size(), 1u);
  EXPECT_EQ(source.samples[0].path, "x/a.png");
  EXPECT_EQ(source.samples[0].relative, "x/a.png");
}

TEST(ReadFileList, BadLabelsNameFileStageAndLine) {
  TempTree t;
  const std::string list =
      t.file("bad.txt", "# c\na.jpg 1\n\nb.jpg\t2\nc.jpg 3\n\nd.jpg\tx\n").string();
  expect_error([&] { read_file_list(list); }, list, "source",
               "line 7: label 'x' is not an integer");

  const std::string frac = t.file("frac.txt", "a.jpg 1.5\n").string();
  expect_error([&] { read_file_list(frac); }, frac, "source",
               "line 1: label '1.5' is not an integer");
  const std::string neg = t.file("neg.txt", "a.jpg 0\nb.jpg -1\n").string();
  expect_error([&] { read_file_list(neg); }, neg, "source",
               "line 2: label '-1' is negative (omit it for no label)");
  const std::string big = t.file("big.txt", "a.jpg 99999999999999999999\n").string();
  expect_error([&] { read_file_list(big); }, big, "source",
               "line 1: label '99999999999999999999' is out of range");
}

// Without a tab, a last word that is no number belongs to the path: a label-less list may name
// files with spaces.
TEST(ReadFileList, PathsWithSpacesNeedNoLabel) {
  TempTree t;
  const Source source = read_file_list(t.file("spaced.txt", "my photo.jpg\nmy scan 2.png 7\nd.jpg x\n").string());
  std::map<std::string, int64_t> labels;
  for (const SampleRef& ref : source.samples) labels[ref.relative] = ref.label;
  EXPECT_EQ(labels, (std::map<std::string, int64_t>{{"my photo.jpg", -1}, {"my scan 2.png", 7}, {"d.jpg x", -1}}));
}

TEST(ReadFileList, MissingList) {
  TempTree t;
  const std::string missing = (t.root() / "none.txt").string();
  expect_error([&] { read_file_list(missing); }, missing, "source", "no such file or directory");
}

TEST(OpenSource, DispatchesOnFolderListAndImage) {
  TempTree t;
  t.file("tree/cat/a.jpg");
  t.file("list.TXT", "tree/cat/a.jpg 5\n");
  t.file("list.lst", "tree/cat/a.jpg\n");
  const fs::path image = t.file("single/one.PNG");

  const Source tree = open_source((t.root() / "tree").string());
  EXPECT_EQ(tree.classes, (std::vector<std::string>{"cat"}));
  EXPECT_EQ(listing(tree), (Listing{{"cat/a.jpg", 0}}));

  EXPECT_EQ(listing(open_source((t.root() / "list.TXT").string())),
            (Listing{{"tree/cat/a.jpg", 5}}));
  EXPECT_EQ(listing(open_source((t.root() / "list.lst").string())),
            (Listing{{"tree/cat/a.jpg", -1}}));

  const Source one = open_source(image.string());
  EXPECT_EQ(one.root, (t.root() / "single").string());
  EXPECT_TRUE(one.classes.empty());
  ASSERT_EQ(one.samples.size(), 1u);
  EXPECT_EQ(one.samples[0].path, image.string());
  EXPECT_EQ(one.samples[0].relative, "one.PNG");
  EXPECT_EQ(one.samples[0].label, -1);
}

TEST(OpenSource, Errors) {
  TempTree t;
  const std::string missing = (t.root() / "missing").string();
  expect_error([&] { open_source(missing); }, missing, "source", "no such file or directory");
  const std::string broken = (t.root() / "broken.jpg").string();
  fs::create_symlink(t.root() / "nowhere.jpg", broken);
  expect_error([&] { open_source(broken); }, broken, "source", "no such file or directory");

  const std::string empty = t.dir("empty").string();
  expect_error([&] { open_source(empty); }, empty, "source",
               "no images found (looked for .jpg, .jpeg, .png)");
  t.file("others/a/b.gif");
  t.file("others/.c.jpg");
  const std::string others = (t.root() / "others").string();
  expect_error([&] { open_source(others); }, others, "source",
               "no images found (looked for .jpg, .jpeg, .png)");

  const std::string empty_list = t.file("empty.txt", "# nothing\n\n").string();
  expect_error([&] { open_source(empty_list); }, empty_list, "source", "no samples listed");
  const std::string other = t.file("notes.md").string();
  expect_error([&] { open_source(other); }, other, "source",
               "not a folder, a file list (.txt, .lst), a tar shard or an image (.jpg, .jpeg, .png)");
}

}  // namespace
}  // namespace gpuaug::data
