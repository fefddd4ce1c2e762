// Stopping on SIGINT and SIGTERM: the first signal asks the running job to stop between items
// (outputs whole, journal current); a second one ends the process at once.
#pragma once

#include <string>

#include "core/error.h"

namespace gpuaug::jobs {

// Thrown by a job that stopped on a signal; the command exits with 128 + signal.
class Interrupted : public Error {
 public:
  explicit Interrupted(int signal_number);
  int signal_number() const { return signal_number_; }

 private:
  int signal_number_;
};

// While alive, SIGINT and SIGTERM set the stop flag instead of killing the process; the
// handlers in place before are restored on destruction.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
};

// The signal received since the last clear (0 when none).
int stop_requested();
void clear_stop_request();
// Throws Interrupted when a stop was requested.
void throw_if_stopped();

}  // namespace gpuaug::jobs
