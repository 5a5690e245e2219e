#pragma once
// Running one of the project's Python scripts (scripts/, or SPARSECAP_SCRIPTS_DIR) for a command
// that draws figures with matplotlib.
#include <filesystem>
#include <string>
#include <vector>

namespace sparsecap::apps {

// scripts/ of the source tree, or SPARSECAP_SCRIPTS_DIR.
std::filesystem::path scripts_dir();

// Runs `python3 <scripts_dir>/<script> arguments...` (SPARSECAP_PYTHON instead of python3 when
// set). Errors start with `command_name`; exit code 3 (the scripts' "matplotlib is missing") becomes
// an error naming the interpreter and saying how to install it, with `data_hint` (where the data to
// draw are) appended.
void run_python_script(const std::string& command_name, const std::string& script,
                       const std::vector<std::string>& arguments, const std::string& data_hint);

}  // namespace sparsecap::apps
