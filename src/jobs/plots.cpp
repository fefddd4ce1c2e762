// Starting python3 -m gpuaug.plots and waiting for it.
#include "jobs/plots.h"

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"

extern char** environ;

namespace gpuaug::jobs {

void run_plots(const std::vector<std::string>& plot_args, const std::string& target) {
  const char* env = std::getenv("GPUAUG_PYTHON");
  const std::string python = env && *env ? env : "python3";
  std::vector<std::string> args = {python, "-m", "gpuaug.plots"};
  args.insert(args.end(), plot_args.begin(), plot_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  // What the plotter prints goes to stderr: stdout is the command's own (a table, a summary).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  // No shell: the paths are passed as they are.
  const int spawned = posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0)
    throw Error(target, "plots", fmt::format("cannot run {}: plots need Python 3 with the gpuaug package and "
                                             "matplotlib (pip install matplotlib)", python));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(target, "plots", fmt::format("{} -m gpuaug.plots failed (see above): it needs the gpuaug Python "
                                             "package (bash scripts/setup.sh) and matplotlib",
                                             python));
}

}  // namespace gpuaug::jobs
