// Stopping on SIGINT and SIGTERM: the first signal asks the running job to stop between items
// (outputs whole, journal current); a second one ends the process at once. The request itself
// is core/stop_request.h's, which the communicators' waits read too.
#pragma once

#include "core/stop_request.h"

namespace gpuaug::jobs {

using gpuaug::clear_stop_request;
using gpuaug::Interrupted;
using gpuaug::stop_requested;
using gpuaug::throw_if_stopped;

// While alive, SIGINT and SIGTERM set the stop request instead of killing the process; the
// handlers in place before are restored on destruction.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
};

}  // namespace gpuaug::jobs
