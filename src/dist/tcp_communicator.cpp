// TcpCommunicator: every rank but 0 holds two connections to rank 0 (each opened with a hello
// that rank 0 answers with its magic), one for collectives (length-prefixed messages, in rank
// order) and one for work-counter requests (8-byte counter id out, 8-byte value back), which a
// thread of rank 0 answers while its main thread works.
#include "dist/tcp_communicator.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/stop_request.h"

namespace gpuaug::dist {

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kMagic[8] = {'G', 'P', 'U', 'A', 'U', 'G', 'T', '1'};
constexpr uint64_t kGoodbye = ~uint64_t(0);  // a counter request that says "this rank is done"
enum Channel : uint32_t { kCollective = 0, kCounter = 1 };

struct Hello {
  char magic[8];
  uint32_t rank, size, channel;
};

[[noreturn]] void fail(const std::string& cause) { throw Error("", "world", cause); }

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(), fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The connection to `peer` broke: it ended or failed.
[[noreturn]] void lost(int peer, const std::string& how) {
  fail(fmt::format("the connection to rank {} {} (it ended or failed)", peer, how));
}

void send_all(int fd, const void* data, size_t n, int peer) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) lost(peer, fmt::format("failed: {}", std::strerror(errno)));
    p += k, n -= size_t(k);
  }
}

// Waits until fd has bytes to read, checking each second for a stop (SIGINT, SIGTERM): a rank
// waiting on a peer that is stuck (or not gpuaug at all) ends at the first signal, as the job's
// other waits do, instead of sitting in recv.
void wait_readable(int fd) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 1000);
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) return;  // recv reports what is wrong
    throw_if_stopped();
  }
}

// All n bytes; false when the peer closed the connection (or reset it) before the first byte.
bool recv_all(int fd, void* data, size_t n, int peer) {
  char* p = static_cast<char*>(data);
  for (size_t got = 0; got < n;) {
    wait_readable(fd);
    const ssize_t k = ::recv(fd, p + got, n - got, 0);
    if (k < 0 && errno == EINTR) continue;
    if (got == 0 && (k == 0 || (k < 0 && errno == ECONNRESET))) return false;
    if (k <= 0)
      lost(peer, k == 0 ? "closed mid-message" : fmt::format("failed: {}", std::strerror(errno)));
    got += size_t(k);
  }
  return true;
}

void send_message(int fd, const std::string& text, int peer) {
  const uint64_t length = text.size();
  send_all(fd, &length, sizeof length, peer);
  send_all(fd, text.data(), text.size(), peer);
}

std::string recv_message(int fd, int peer) {
  uint64_t length = 0;
  if (!recv_all(fd, &length, sizeof length, peer)) lost(peer, "closed before the job ended");
  std::string text(size_t(length), '\0');
  if (length > 0 && !recv_all(fd, text.data(), text.size(), peer)) lost(peer, "closed mid-message");
  return text;
}

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct Addresses {
  addrinfo* list = nullptr;
  ~Addresses() {
    if (list) ::freeaddrinfo(list);
  }
};

void resolve(const World& w, bool passive, Addresses& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  const std::string port = std::to_string(w.rendezvous_port);
  if (const int status = ::getaddrinfo(w.rendezvous_host.c_str(), port.c_str(), &hints, &out.list);
      status != 0)
    fail(fmt::format("MASTER_ADDR={}: {}", w.rendezvous_host, ::gai_strerror(status)));
}

std::string where(const World& w) {
  return fmt::format("{}:{}", w.rendezvous_host, w.rendezvous_port);
}

double connect_timeout_s() {
  const char* text = std::getenv("GPUAUG_CONNECT_TIMEOUT");
  if (text == nullptr || *text == '\0') return 300.0;
  char* end = nullptr;
  const double s = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(s > 0))
    fail(fmt::format("GPUAUG_CONNECT_TIMEOUT='{}': need seconds > 0", text));
  // A steady_clock deadline holds ~292 years of nanoseconds; inf or 1e10 s overflowed it and the
  // wait ended at once. A billion seconds is forever enough.
  return std::min(s, 1e9);
}

class TcpCommunicator final : public Communicator {
 public:
  explicit TcpCommunicator(const World& world) : rank_(world.rank), size_(world.size) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(connect_timeout_s()));
    if (rank_ == 0) {
      accept_everybody(world, deadline);
      if (::pipe2(wake_, O_CLOEXEC) != 0) fail(fmt::format("pipe: {}", std::strerror(errno)));
      server_ = std::thread([this] { serve_counters(); });
    } else {
      collective_ = connect_to_rank0(world, kCollective, deadline);
      counter_ = connect_to_rank0(world, kCounter, deadline);
    }
  }

  ~TcpCommunicator() override {
    if (rank_ != 0) {
      // Rank 0 ends without waiting for it when this fails (it may have ended already).
      if (counter_.get() >= 0) ::send(counter_.get(), &kGoodbye, sizeof kGoodbye, MSG_NOSIGNAL);
      return;
    }
    stopping_ = true;
    const char byte = 0;
    if (::write(wake_[1], &byte, 1) < 0) {
    }
    if (server_.joinable()) server_.join();
    ::close(wake_[0]), ::close(wake_[1]);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::vector<std::string> gather(const std::string& mine) override {
    if (rank_ != 0) {
      send_message(collective_.get(), mine, 0);
      return {};
    }
    std::vector<std::string> all(static_cast<size_t>(size_));
    all[0] = mine;
    for (int r = 1; r < size_; ++r) all[size_t(r)] = recv_message(collectives_[size_t(r)].get(), r);
    return all;
  }

  void barrier() override {
    gather({});
    broadcast({});
  }

  std::string broadcast(const std::string& from_rank0) override {
    if (rank_ != 0) return recv_message(collective_.get(), 0);
    for (int r = 1; r < size_; ++r) send_message(collectives_[size_t(r)].get(), from_rank0, r);
    return from_rank0;
  }

  std::unique_ptr<WorkCounter> work_counter() override {
    // Every rank makes its counters in the same order, so their numbers agree without a message.
    return std::make_unique<Counter>(*this, next_counter_++);
  }

  [[noreturn]] void abort_all(int code) override {
    // No goodbye: rank 0 sees the connection drop and ends too; the others then get an error
    // at their next message.
    std::fflush(nullptr);
    std::_Exit(code);
  }

 private:
  class Counter final : public WorkCounter {
   public:
    Counter(TcpCommunicator& comm, uint64_t id) : comm_(comm), id_(id) {}
    uint64_t next() override { return comm_.take(id_); }

   private:
    TcpCommunicator& comm_;
    uint64_t id_;
  };

  // Rank 0's counter `id`, advanced by one.
  uint64_t bump(uint64_t id) {
    const std::lock_guard lock(counters_mutex_);
    return counters_[id]++;
  }

  uint64_t take(uint64_t id) {
    if (rank_ == 0) return bump(id);
    const std::lock_guard lock(counter_mutex_);
    send_all(counter_.get(), &id, sizeof id, 0);
    uint64_t value = 0;
    if (!recv_all(counter_.get(), &value, sizeof value, 0)) lost(0, "closed before the job ended");
    return value;
  }

  void accept_everybody(const World& world, Clock::time_point deadline) {
    Addresses addresses;
    resolve(world, true, addresses);
    Fd listener;
    std::string why = "no address";
    for (addrinfo* a = addresses.list; a != nullptr && listener.get() < 0; a = a->ai_next) {
      Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
      if (fd.get() < 0) continue;
      const int one = 1;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd.get(), 2 * size_) == 0) {
        listener = std::move(fd);
      } else {
        why = std::strerror(errno);
      }
    }
    if (listener.get() < 0)
      fail(fmt::format(
          "rank 0 cannot listen at {}: {} (MASTER_ADDR must name this machine; GPUAUG_PORT picks "
          "another port)",
          where(world), why));
    collectives_.resize(size_t(size_));
    counters_fds_.resize(size_t(size_));
    for (int missing = 2 * (size_ - 1); missing > 0;) {
      throw_if_stopped();  // one Ctrl-C ends the wait (the poll below wakes each second)
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{listener.get(), POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, int(std::min<long long>(left, 1000))) < 0) {
        if (left > 0 && errno == EINTR) continue;
        if (left > 0)
          fail(fmt::format("waiting for the ranks at {}: {}", where(world), std::strerror(errno)));
        fail(fmt::format(
            "rank 0 waited at {} for {} s, and {} of {} connections of the other ranks came "
            "(GPUAUG_CONNECT_TIMEOUT sets the wait)",
            where(world), connect_timeout_s(), 2 * (size_ - 1) - missing, 2 * (size_ - 1)));
      }
      if (!(p.revents & POLLIN)) continue;
      Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (fd.get() < 0) continue;
      // A connection that does not say who it is within a few seconds is not one of ours.
      pollfd q{fd.get(), POLLIN, 0};
      Hello hello{};
      try {
        if (::poll(&q, 1, 5000) != 1 || !recv_all(fd.get(), &hello, sizeof hello, -1)) continue;
      } catch (const Error&) {
        continue;
      }
      if (std::memcmp(hello.magic, kMagic, sizeof kMagic) != 0) continue;
      if (int(hello.size) != size_ || hello.rank == 0 || int(hello.rank) >= size_ ||
          hello.channel > kCounter)
        fail(fmt::format(
            "a process at {} says it is rank {} of {}; this job has {} ranks (two jobs on one "
            "port? GPUAUG_PORT picks another)",
            where(world), hello.rank, hello.size, size_));
      Fd& slot = (hello.channel == kCollective ? collectives_ : counters_fds_)[hello.rank];
      if (slot.get() >= 0)
        fail(fmt::format("two processes at {} say they are rank {}", where(world), hello.rank));
      no_delay(fd.get());
      send_all(fd.get(), kMagic, sizeof kMagic, int(hello.rank));  // the rank's acknowledged()
      slot = std::move(fd);
      --missing;
    }
  }

  // Whether rank 0's answer to a hello (its magic) comes on fd before the deadline.
  static bool acknowledged(int fd, Clock::time_point deadline) {
    char answer[sizeof kMagic];
    size_t got = 0;
    while (got < sizeof answer) {
      throw_if_stopped();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, int(std::min<long long>(left, 1000)));
      if (ready < 0 && errno != EINTR) return false;
      if (ready <= 0) continue;
      const ssize_t k = ::recv(fd, answer + got, sizeof answer - got, 0);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      got += size_t(k);
    }
    return std::memcmp(answer, kMagic, sizeof kMagic) == 0;
  }

  Fd connect_to_rank0(const World& world, Channel channel, Clock::time_point deadline) {
    for (std::string why;;) {
      throw_if_stopped();
      Addresses addresses;
      resolve(world, false, addresses);
      for (addrinfo* a = addresses.list; a != nullptr; a = a->ai_next) {
        Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
        if (fd.get() < 0) continue;
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
          why = std::strerror(errno);
          continue;
        }
        no_delay(fd.get());
        Hello hello{};
        std::memcpy(hello.magic, kMagic, sizeof kMagic);
        hello.rank = uint32_t(rank_), hello.size = uint32_t(size_), hello.channel = channel;
        send_all(fd.get(), &hello, sizeof hello, 0);
        // Rank 0 answers with the magic: whatever else listens on the port (another program,
        // another job's rank 0 refusing this one) leaves this rank trying again until the
        // deadline, not waiting in recv for collectives that never come.
        if (acknowledged(fd.get(), deadline)) return fd;
        why = "something there accepted the connection but did not answer as gpuaug's rank 0";
      }
      if (Clock::now() > deadline)
        fail(fmt::format(
            "rank {} could not reach rank 0 at {} within {} s: {} (GPUAUG_CONNECT_TIMEOUT sets the "
            "wait)",
            rank_, where(world), connect_timeout_s(), why));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Rank 0's thread: answers counter requests until the communicator goes. A rank whose
  // connection drops without its goodbye ended or failed: this process ends too, so that no rank
  // is left waiting for it (the others get an error at their next message).
  void serve_counters() {
    std::vector<pollfd> polled;
    std::vector<int> rank_of;
    polled.push_back({wake_[0], POLLIN, 0});
    rank_of.push_back(-1);
    for (int r = 1; r < size_; ++r) {
      polled.push_back({counters_fds_[size_t(r)].get(), POLLIN, 0});
      rank_of.push_back(r);
    }
    while (!stopping_) {
      if (::poll(polled.data(), polled.size(), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (polled[0].revents != 0) return;
      for (size_t i = 1; i < polled.size(); ++i) {
        if (polled[i].fd < 0 || polled[i].revents == 0) continue;
        uint64_t id = 0;
        bool ok = false;
        try {
          ok = recv_all(polled[i].fd, &id, sizeof id, rank_of[i]);
        } catch (const Error&) {
        }
        if (ok && id == kGoodbye) {
          polled[i].fd = -1;  // done: its end is no failure
          continue;
        }
        if (!ok) {
          if (stopping_) return;
          std::fprintf(stderr,
                       "gpuaug: error: rank %d ended before the job did; ending every rank\n",
                       rank_of[i]);
          std::fflush(nullptr);
          std::_Exit(1);
        }
        const uint64_t value = bump(id);
        ::send(polled[i].fd, &value, sizeof value, MSG_NOSIGNAL);
      }
    }
  }

  int rank_ = 0, size_ = 1;
  uint64_t next_counter_ = 0;
  // Rank 0: each rank's connections (index = rank; 0 unused), the counters and their thread.
  std::vector<Fd> collectives_, counters_fds_;
  std::mutex counters_mutex_;
  std::map<uint64_t, uint64_t> counters_;
  std::thread server_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  // Other ranks: their two connections to rank 0; one counter request at a time.
  Fd collective_, counter_;
  std::mutex counter_mutex_;
};

}  // namespace

std::unique_ptr<Communicator> make_tcp_communicator(const World& world) {
  if (!world.has_rendezvous())
    throw Error("", "world", "no rendezvous: set MASTER_ADDR and MASTER_PORT (or GPUAUG_PORT)");
  return std::make_unique<TcpCommunicator>(world);
}

}  // namespace gpuaug::dist
