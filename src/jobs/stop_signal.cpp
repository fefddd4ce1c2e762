// SIGINT/SIGTERM handlers that only set the stop request (async-signal-safe) and re-arm the
// default action.
#include "jobs/stop_signal.h"

#include <csignal>

namespace gpuaug::jobs {

namespace {

struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

extern "C" void on_stop_signal(int signal_number) { request_stop(signal_number); }

}  // namespace

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

}  // namespace gpuaug::jobs
