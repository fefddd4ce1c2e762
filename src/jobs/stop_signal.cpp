// SIGINT/SIGTERM handlers that only set a flag (async-signal-safe) and re-arm the default action.
#include "jobs/stop_signal.h"

#include <atomic>
#include <csignal>

#include <fmt/format.h>

namespace gpuaug::jobs {

namespace {

std::atomic<int> g_stop_signal{0};
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

extern "C" void on_stop_signal(int signal_number) {
  g_stop_signal.store(signal_number, std::memory_order_relaxed);
}

}  // namespace

Interrupted::Interrupted(int signal_number)
    : Error("", "interrupted",
            fmt::format("stopped by {}; outputs written so far are whole: run the same command with "
                        "--resume to finish",
                        signal_number == SIGTERM ? "SIGTERM" : "SIGINT")),
      signal_number_(signal_number) {}

StopOnSignal::StopOnSignal() {
  clear_stop_request();
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: a second Ctrl-C takes the default action, for a user who will not wait.
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int stop_requested() { return g_stop_signal.load(std::memory_order_relaxed); }

void clear_stop_request() { g_stop_signal.store(0, std::memory_order_relaxed); }

void throw_if_stopped() {
  if (const int signal_number = stop_requested()) throw Interrupted(signal_number);
}

}  // namespace gpuaug::jobs
