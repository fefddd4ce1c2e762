// The process's stop request: set by a signal handler (jobs/stop_signal.h installs it), read by
// whatever waits or loops — jobs between items, the communicators while they connect — so that
// one Ctrl-C ends a wait as it ends a job.
#pragma once

#include "core/error.h"

namespace gpuaug {

// Thrown by what stopped on a signal; the command exits with 128 + signal.
class Interrupted : public Error {
 public:
  explicit Interrupted(int signal_number);
  int signal_number() const { return signal_number_; }

 private:
  int signal_number_;
};

// The signal received since the last clear (0 when none).
int stop_requested();
// Async-signal-safe: a handler may call it.
void request_stop(int signal_number) noexcept;
void clear_stop_request();
// Throws Interrupted when a stop was requested.
void throw_if_stopped();

}  // namespace gpuaug
