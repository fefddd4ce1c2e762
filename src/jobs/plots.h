// run_plots: the PNG plots drawn by the Python package's gpuaug.plots (matplotlib).
#pragma once

#include <string>
#include <vector>

namespace gpuaug::jobs {

// Runs `$GPUAUG_PYTHON -m gpuaug.plots ARGS...` (python3 by default), with no shell and its stdout
// sent to stderr; throws
// Error(target, "plots") naming what is missing when it cannot start or fails.
void run_plots(const std::vector<std::string>& args, const std::string& target);

}  // namespace gpuaug::jobs
