// `sparsecap gates`: the figures of a pruned run (or two, overlaid) — gating average and sparsity
// against steps per layer, final sparsity per layer, |w| of kept and pruned weights, and for every
// LSTM/GRU weight its sparsity per gate block and a heat map — with an index.md. The data come
// from train/gate_report; scripts/gates_report.py draws them with matplotlib.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "engine/error.h"
#include "engine/serialize/atomic_file.h"
#include "train/gate_report.h"

namespace sparsecap::apps {

namespace {

struct GatesArguments {
  std::string run;
  std::vector<std::string> compare;
  std::string out;
};

// scripts/ of the source tree, or SPARSECAP_SCRIPTS_DIR.
std::filesystem::path scripts_dir() {
  const char* overridden = std::getenv("SPARSECAP_SCRIPTS_DIR");
  return overridden ? std::filesystem::path(overridden) : std::filesystem::path(SPARSECAP_SCRIPTS_DIR);
}

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void run_gates(const GatesArguments& args) {
  std::vector<std::string> runs = args.compare;
  if (!args.run.empty()) runs.insert(runs.begin(), args.run);
  SPARSECAP_CHECK(!runs.empty() && runs.size() <= 2, "gates: give --run RUN_DIR, or --compare RUN_A RUN_B");
  std::filesystem::create_directories(args.out);
  nlohmann::json data = nlohmann::json::array();
  for (const std::string& run : runs) data.push_back(train::gate_report_data(run));
  const std::filesystem::path data_file = std::filesystem::path(args.out) / "gates_data.json";
  write_file_atomically(data_file, data.dump() + "\n");
  const std::filesystem::path script = scripts_dir() / "gates_report.py";
  SPARSECAP_CHECK(std::filesystem::exists(script), "gates: the plotting script ", script.string(),
                  " is missing (set SPARSECAP_SCRIPTS_DIR to the source tree's scripts/ folder)");
  const std::string command =
      "python3 " + shell_quoted(script.string()) + " " + shell_quoted(data_file.string()) + " " + shell_quoted(args.out);
  const int status = std::system(command.c_str());
  SPARSECAP_CHECK(status != -1 && WIFEXITED(status), "gates: could not run python3 (", command, ")");
  switch (WEXITSTATUS(status)) {
    case 0: break;
    case 3:
      throw sparsecap::Error("gates: the figures need matplotlib: pip install matplotlib (or apt-get install python3-matplotlib); "
                  "the data are in " + data_file.string());
    default: throw sparsecap::Error(sparsecap::detail::concat("gates: ", script.string(), " failed with exit code ", WEXITSTATUS(status)));
  }
  std::printf("gates report: %s\n", (std::filesystem::path(args.out) / "index.md").c_str());
}

}  // namespace

void add_gates_command(CLI::App& app) {
  auto args = std::make_shared<GatesArguments>();
  CLI::App* command = app.add_subcommand("gates", "Figures of how a pruned run's gates or masks evolved and ended");
  command->add_option("--run", args->run, "run directory");
  command->add_option("--compare", args->compare, "two run directories, overlaid")->expected(2);
  command->add_option("--out", args->out, "output folder (PNG figures and index.md)")->required();
  command->callback([args] { run_gates(*args); });
}

}  // namespace sparsecap::apps
