#include "apps/python_script.h"

#include <sys/wait.h>

#include <cstdlib>

#include "engine/error.h"

namespace sparsecap::apps {

namespace {

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The interpreter that runs the scripts: SPARSECAP_PYTHON, else the `python3` on the PATH. A
// Python of its own on the PATH (pyenv, a virtual environment) does not see Debian's
// python3-matplotlib; SPARSECAP_PYTHON=/usr/bin/python3 points the scripts back at it.
std::string python_interpreter() {
  const char* chosen = std::getenv("SPARSECAP_PYTHON");
  return chosen && *chosen ? chosen : "python3";
}

}  // namespace

std::filesystem::path scripts_dir() {
  const char* overridden = std::getenv("SPARSECAP_SCRIPTS_DIR");
  return overridden ? std::filesystem::path(overridden) : std::filesystem::path(SPARSECAP_SCRIPTS_DIR);
}

void run_python_script(const std::string& command_name, const std::string& script,
                       const std::vector<std::string>& arguments, const std::string& data_hint) {
  const std::filesystem::path path = scripts_dir() / script;
  SPARSECAP_CHECK(std::filesystem::exists(path), command_name, ": the plotting script ", path.string(),
                  " is missing (set SPARSECAP_SCRIPTS_DIR to the source tree's scripts/ folder)");
  const std::string python = python_interpreter();
  std::string command = shell_quoted(python) + " " + shell_quoted(path.string());
  for (const std::string& argument : arguments) command += " " + shell_quoted(argument);
  const int status = std::system(command.c_str());
  SPARSECAP_CHECK(status != -1 && WIFEXITED(status), command_name, ": could not run ", python, " (", command, ")");
  switch (WEXITSTATUS(status)) {
    case 0: break;
    case 3:
      throw Error(command_name + ": the figures need matplotlib, which " + python +
                  " cannot import: pip install matplotlib for it, or apt-get install python3-matplotlib and set "
                  "SPARSECAP_PYTHON=/usr/bin/python3; " + data_hint);
    case 127:
      throw Error(command_name + ": cannot run the Python interpreter " + python +
                  " (install python3, or set SPARSECAP_PYTHON to one); " + data_hint);
    default:
      throw Error(detail::concat(command_name, ": ", path.string(), " failed with exit code ", WEXITSTATUS(status)));
  }
}

}  // namespace sparsecap::apps
