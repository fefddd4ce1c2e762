// Journal: entries survive a reopen with resume, a torn last line is cut, other options and a
// plain rerun over a journal are refused; signals only set the stop flag.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "../common/references.h"
#include "../common/temp_dir.h"
#include "jobs/journal.h"
#include "jobs/stop_signal.h"

namespace gpuaug::jobs {
namespace {

namespace fs = std::filesystem;
using gpuaug_test::expect_error;
using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Journal, EntriesComeBackOnResume) {
  const gpuaug_test::TempDir dir_tmp("journal_resume");
  const fs::path& dir = dir_tmp.root();
  const std::string path = (dir / "sub" / "job.journal").string();
  const json header{{"job", "t"}, {"size", 3}};
  {
    Journal journal(path, header, false);
    EXPECT_FALSE(journal.resumed());
    journal.append({{"i", 0}});
    journal.append({{"i", 1}, {"name", "a\nb"}});  // newlines inside values stay escaped
  }
  Journal again(path, header, true);
  EXPECT_TRUE(again.resumed());
  ASSERT_EQ(again.previous().size(), 2u);
  EXPECT_EQ(again.previous()[1].at("name"), "a\nb");
  again.append({{"i", 2}});
  again.finish();
  EXPECT_FALSE(fs::exists(path));
}

TEST(Journal, ResumeWithoutJournalStartsFresh) {
  const gpuaug_test::TempDir dir_tmp("journal_nojournal");
  const fs::path& dir = dir_tmp.root();
  Journal journal((dir / "j").string(), {{"job", "t"}}, true);
  EXPECT_FALSE(journal.resumed());
  EXPECT_TRUE(journal.previous().empty());
}

TEST(Journal, TornLastLineIsDropped) {
  const gpuaug_test::TempDir dir_tmp("journal_torn");
  const fs::path& dir = dir_tmp.root();
  const std::string path = (dir / "j").string();
  const json header{{"job", "t"}};
  {
    Journal journal(path, header, false);
    journal.append({{"i", 0}});
  }
  {
    std::ofstream out(path, std::ios::app);
    out << R"({"i": 1, "na)";  // a kill in the middle of a write
  }
  {
    Journal journal(path, header, true);
    ASSERT_EQ(journal.previous().size(), 1u);
    journal.append({{"i", 1}});
  }
  EXPECT_EQ(read_text(path), header.dump() + "\n{\"i\":0}\n{\"i\":1}\n");
}

TEST(Journal, PlainRerunOverAJournalIsRefused) {
  const gpuaug_test::TempDir dir_tmp("journal_rerun");
  const fs::path& dir = dir_tmp.root();
  const std::string path = (dir / "j").string();
  { Journal journal(path, {{"job", "t"}}, false); }
  const Error e = expect_error([&] { Journal again(path, {{"job", "t"}}, false); });
  EXPECT_EQ(e.file(), path);
  EXPECT_EQ(e.stage(), "journal");
  EXPECT_NE(e.cause().find("--resume"), std::string::npos) << e.cause();
}

TEST(Journal, DifferentOptionsAreNamed) {
  const gpuaug_test::TempDir dir_tmp("journal_options");
  const fs::path& dir = dir_tmp.root();
  const std::string path = (dir / "j").string();
  { Journal journal(path, {{"job", "reduce"}, {"max_side", 256}, {"format", "jpg"}}, false); }
  const Error e = expect_error(
      [&] { Journal again(path, {{"job", "reduce"}, {"max_side", 128}, {"format", "jpg"}}, true); });
  EXPECT_NE(e.cause().find("'max_side' differs"), std::string::npos) << e.cause();
}

TEST(Journal, GarbageLineIsAnError) {
  const gpuaug_test::TempDir dir_tmp("journal_garbage");
  const fs::path& dir = dir_tmp.root();
  const std::string path = (dir / "j").string();
  {
    std::ofstream out(path);
    out << "{\"job\":\"t\"}\nnot json\n";
  }
  const Error e = expect_error([&] { Journal again(path, {{"job", "t"}}, true); });
  EXPECT_NE(e.cause().find("line 2"), std::string::npos) << e.cause();
}

TEST(StopSignal, SignalSetsTheFlagAndInterruptedNamesIt) {
  {
    StopOnSignal guard;
    EXPECT_EQ(stop_requested(), 0);
    std::raise(SIGTERM);  // would end the test binary without the handler
    EXPECT_EQ(stop_requested(), SIGTERM);
    try {
      throw_if_stopped();
      ADD_FAILURE() << "expected Interrupted";
    } catch (const Interrupted& e) {
      EXPECT_EQ(e.signal_number(), SIGTERM);
      EXPECT_NE(e.cause().find("--resume"), std::string::npos);
    }
  }
  clear_stop_request();
  EXPECT_NO_THROW(throw_if_stopped());
}

}  // namespace
}  // namespace gpuaug::jobs
