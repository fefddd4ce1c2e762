// Journal file handling: append-only lines written with one write(2) each; torn tails cut off.
#include "jobs/journal.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include "core/error.h"
#include "core/json_text.h"

namespace gpuaug::jobs {

namespace fs = std::filesystem;

namespace {

std::string read_all(int fd, const std::string& path) {
  std::string text;
  char buffer[1 << 16];
  if (::lseek(fd, 0, SEEK_SET) < 0) throw Error(path, "journal", std::strerror(errno));
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(path, "journal", fmt::format("cannot read: {}", std::strerror(errno)));
    if (n == 0) break;
    text.append(buffer, size_t(n));
  }
  return text;
}

// The first key (dotted) whose value differs, for an error a user can act on.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix = "") {
  if (a.is_object() && b.is_object()) {
    for (const auto& [key, value] : a.items()) {
      const std::string name = prefix.empty() ? key : prefix + "." + key;
      if (!b.contains(key)) return name;
      if (std::string d = first_difference(value, b.at(key), name); !d.empty()) return d;
    }
    for (const auto& [key, value] : b.items())
      if (!a.contains(key)) return prefix.empty() ? key : prefix + "." + key;
    return "";
  }
  return a == b ? "" : (prefix.empty() ? "the job" : prefix);
}

}  // namespace

Journal::Journal(std::string path, nlohmann::json header, bool resume) : path_(std::move(path)) {
  std::error_code ec;
  const fs::path file(path_);
  if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
  const bool existed = fs::exists(file, ec);
  if (existed && !resume)
    throw Error(path_, "journal",
                "an interrupted job left this journal: add --resume to finish it, or remove the file "
                "to start over");
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path_, "journal", fmt::format("cannot open: {}", std::strerror(errno)));
  std::string text = existed ? read_all(fd_, path_) : std::string();
  // A kill mid-write leaves a line without its newline: drop it.
  const size_t whole = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (whole != text.size()) {
    text.resize(whole);
    if (::ftruncate(fd_, off_t(whole)) != 0)
      throw Error(path_, "journal", fmt::format("cannot cut a torn line: {}", std::strerror(errno)));
  }
  size_t line_number = 0;
  for (size_t begin = 0; begin < text.size();) {
    const size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    nlohmann::json entry;
    try {
      entry = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw Error(path_, "journal", fmt::format("line {} is not JSON: remove the file to start over", line_number));
    }
    if (line_number == 1) {
      if (std::string d = first_difference(header, entry); !d.empty())
        throw Error(path_, "journal",
                    fmt::format("written by the same job with different options ('{}' differs): "
                                "run it with the options it had, or remove the file to start over",
                                d));
      continue;
    }
    previous_.push_back(std::move(entry));
  }
  resumed_ = line_number > 0;
  if (::lseek(fd_, 0, SEEK_END) < 0) throw Error(path_, "journal", std::strerror(errno));
  if (line_number == 0) write_line(json_text(header) + "\n");
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::write_line(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(path_, "journal", fmt::format("cannot write: {}", std::strerror(errno)));
    done += size_t(n);
  }
}

void Journal::append(const nlohmann::json& entry) {
  const std::string line = json_text(entry) + "\n";
  std::lock_guard lock(mutex_);
  write_line(line);
  ++appended_;
}

void Journal::finish() {
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  fs::remove(path_, ec);
}

}  // namespace gpuaug::jobs
