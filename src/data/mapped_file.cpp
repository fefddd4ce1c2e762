// MappedFile: open, check the file type, mmap, munmap.
#include "data/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "core/error.h"

namespace gpuaug::data {

namespace {

struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

std::string os_error(int code) { return std::generic_category().message(code); }

}  // namespace

MappedFile::MappedFile(const std::string& path) {
  auto fail = [&](const std::string& cause) { return Error(path, "read", cause); };
  // O_NONBLOCK: a FIFO nobody writes would block open() forever; it is refused below anyway.
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) throw fail(os_error(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw fail(os_error(errno));
  if (S_ISDIR(st.st_mode)) throw fail(os_error(EISDIR));
  if (!S_ISREG(st.st_mode)) {
    throw fail(std::string("not a regular file (a ") +
               (S_ISFIFO(st.st_mode)   ? "FIFO"
                : S_ISSOCK(st.st_mode) ? "socket"
                : S_ISBLK(st.st_mode)  ? "block device"
                                       : "character device") +
               ")");
  }
  if (st.st_size == 0) return;  // mmap refuses a zero length
  void* mapped = ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, file.fd, 0);
  if (mapped == MAP_FAILED) throw fail("cannot map the file: " + os_error(errno));
  // Shards are read front to back: let the kernel read ahead generously.
  ::madvise(mapped, size_t(st.st_size), MADV_SEQUENTIAL);
  data_ = static_cast<const uint8_t*>(mapped);
  size_ = size_t(st.st_size);
}

MappedFile::~MappedFile() { unmap(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::unmap() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace gpuaug::data
