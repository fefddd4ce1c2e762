// Journal: what a long job has finished, one JSON line per step, so that a killed job resumes
// where it stopped and ends with the same outputs as an uninterrupted run.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/stop_signal.h"

namespace gpuaug::jobs {

class Journal {
 public:
  // Opens `path` (creating its folder). The first line is `header` (the job and the options
  // that decide its outputs). Without `resume`, an existing journal is an error (an interrupted
  // job is there: resume it or remove it) and a fresh one is started. With `resume`, the
  // entries of the earlier runs are read back (a torn last line, from a kill mid-write, is
  // dropped and cut off); a header that differs is an error naming the option that changed.
  // With `resume` and no journal, the job simply starts fresh.
  Journal(std::string path, nlohmann::json header, bool resume);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Entries written by earlier runs, in the order written (without the header).
  const std::vector<nlohmann::json>& previous() const { return previous_; }
  bool resumed() const { return resumed_; }

  // Appends one entry with a single write(2) of a whole line: a kill -9 leaves either the line
  // or a torn tail that the next open drops. Thread-safe.
  void append(const nlohmann::json& entry);

  // The job completed: the journal is removed.
  void finish();

  // Nothing was finished by this run or an earlier one (there is nothing to resume).
  bool empty() const { return previous_.empty() && appended_ == 0; }

  const std::string& path() const { return path_; }

 private:
  void write_line(const std::string& line);

  std::string path_;
  int fd_ = -1;
  bool resumed_ = false;
  std::vector<nlohmann::json> previous_;
  size_t appended_ = 0;
  std::mutex mutex_;
};

// A job that fails before finishing anything leaves no journal behind: a rerun has nothing to
// resume and need not say --resume. One stopped by a signal keeps it, since its message says
// --resume. Declared right after the journal.
class DropJournalIfEmpty {
 public:
  explicit DropJournalIfEmpty(Journal& journal) : journal_(journal) {}
  ~DropJournalIfEmpty() {
    if (journal_.empty() && !stop_requested()) journal_.finish();
  }
  DropJournalIfEmpty(const DropJournalIfEmpty&) = delete;
  DropJournalIfEmpty& operator=(const DropJournalIfEmpty&) = delete;

 private:
  Journal& journal_;
};

}  // namespace gpuaug::jobs
