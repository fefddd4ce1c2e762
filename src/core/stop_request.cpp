// The stop request: one lock-free atomic, so that a signal handler may set it.
#include "core/stop_request.h"

#include <fmt/format.h>

#include <atomic>
#include <csignal>

namespace gpuaug {

namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

}  // namespace

Interrupted::Interrupted(int signal_number)
    : Error(
          "", "interrupted",
          fmt::format("stopped by {}; outputs written so far are whole: run the same command with "
                      "--resume to finish",
                      signal_number == SIGTERM ? "SIGTERM" : "SIGINT")),
      signal_number_(signal_number) {}

int stop_requested() { return g_stop_signal.load(std::memory_order_relaxed); }

void request_stop(int signal_number) noexcept {
  g_stop_signal.store(signal_number, std::memory_order_relaxed);
}

void clear_stop_request() { g_stop_signal.store(0, std::memory_order_relaxed); }

void throw_if_stopped() {
  if (const int signal_number = stop_requested()) throw Interrupted(signal_number);
}

}  // namespace gpuaug
